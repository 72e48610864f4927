//! SDTM datasets (AE, MH) as a coding team receives or hands them back: SAS transport v5 (`.xpt`,
//! read with the `xportrs` crate), Dataset-JSON 1.1 (`.json`) and its NDJSON form (`.ndjson`), and
//! CSV with SDTM variable names. Read into one table of text values, record by record, with the
//! file, record and variable named in every error.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::labelled::Labelled;
use super::queue::{NewItem, Rejected};
use crate::meddra::Dictionary;
use crate::text::normalize;

/// A dataset as read: its domain (AE, MH), its variables in order, and one row of values per
/// record (None for a missing value; numbers as SAS would print them, without trailing zeros).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub domain: String,
    pub variables: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// The column of a variable, by name (SDTM names are upper case).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.variables.iter().position(|v| v.eq_ignore_ascii_case(name))
    }

    /// A record's value of a variable, trimmed; None when missing or blank.
    pub fn value(&self, row: usize, col: usize) -> Option<&str> {
        self.rows.get(row)?.get(col)?.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    /// The domain prefix of the reported-term variable the table has: AE (AETERM) or MH (MHTERM).
    pub fn coding_prefix(&self) -> Option<&'static str> {
        ["AE", "MH"].into_iter().find(|p| self.column(&format!("{p}TERM")).is_some())
    }
}

/// Whether a file's extension and first bytes say it is an SDTM dataset rather than a queue file:
/// SAS transport, Dataset-JSON metadata (`columns`) on its first line, a CSV header naming AETERM
/// or MHTERM.
pub fn looks_like_sdtm(ext: &str, bytes: &[u8]) -> bool {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    match ext {
        "xpt" => true,
        "json" | "ndjson" => serde_json::from_slice::<serde_json::Value>(if ext == "json" { bytes } else { first }).is_ok_and(|v| v.get("columns").is_some()),
        _ => String::from_utf8_lossy(first).split(',').any(|h| matches!(h.trim().trim_matches('"').to_ascii_uppercase().as_str(), "AETERM" | "MHTERM")),
    }
}

/// The items of an AE or MH dataset, one per record (numbered from 1 as `line`): id
/// `USUBJID-AE<AESEQ>`, study STUDYID, subject USUBJID, the reported term xxTERM, onset xxSTDTC,
/// seriousness AESER. Records lacking one of the required variables' values are listed.
pub fn to_items(t: &Table, file: &str) -> Result<(Vec<NewItem>, Vec<Rejected>)> {
    let prefix = t.coding_prefix().ok_or_else(|| anyhow!("{file}: neither AETERM nor MHTERM: not an SDTM AE or MH dataset"))?;
    let need = |v: &str| t.column(v).ok_or_else(|| anyhow!("{file}: no variable {v}"));
    let (study, subject, term, seq) = (need("STUDYID")?, need("USUBJID")?, need(&format!("{prefix}TERM"))?, need(&format!("{prefix}SEQ"))?);
    let (onset, serious) = (t.column(&format!("{prefix}STDTC")), t.column("AESER"));
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for row in 0..t.rows.len() {
        let v = |c: Option<usize>| c.and_then(|c| t.value(row, c)).map(String::from);
        let id = match (v(Some(subject)), v(Some(seq))) {
            (Some(s), Some(n)) => Some(format!("{s}-{prefix}{n}")),
            _ => None,
        };
        match super::queue::build_item(row + 1, [id, v(Some(study)), v(Some(subject)), v(Some(term)), v(onset), v(serious), None]) {
            Ok(item) => good.push(item),
            Err(r) => bad.push(Rejected { line: r.line, reason: format!("record {}: {}", r.line, r.reason) }),
        }
    }
    Ok((good, bad))
}

fn extension(path: &Path) -> String {
    path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// Reads an SDTM dataset file in any of its forms.
pub fn read(path: &Path) -> Result<Table> {
    let name = path.display();
    match extension(path).as_str() {
        "xpt" => read_xpt(path).with_context(|| format!("reading the SAS transport file {name}")),
        "json" => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {name}"))?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| anyhow!("{name}, line {}: not JSON: {e}", e.line()))?;
            dataset_json(&v, &name.to_string())
        }
        "ndjson" => read_ndjson(path),
        _ => read_csv(path),
    }
}

fn read_xpt(path: &Path) -> Result<Table> {
    let ds = xportrs::Xpt::read(path).map_err(|e| anyhow!("{e}"))?;
    let variables: Vec<String> = ds.columns().iter().map(|c| c.name().to_string()).collect();
    let mut rows = vec![Vec::with_capacity(variables.len()); ds.nrows()];
    for c in ds.columns() {
        let values: Vec<Option<String>> = match c.data() {
            xportrs::ColumnData::String(v) => v.clone(),
            xportrs::ColumnData::F64(v) => v.iter().map(|x| x.map(number)).collect(),
            xportrs::ColumnData::I64(v) => v.iter().map(|x| x.map(|n| n.to_string())).collect(),
            other => bail!("variable {}: values of type {other:?} are not read", c.name()),
        };
        for (row, v) in rows.iter_mut().zip(values) {
            row.push(v);
        }
    }
    Ok(Table { domain: ds.domain_code().to_string(), variables, rows })
}

/// A number as SAS prints it: integers without a decimal point.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A Dataset-JSON 1.1 value to text.
fn cell(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.as_f64().map(number).unwrap_or_else(|| n.to_string())),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// The variable names of Dataset-JSON 1.1 metadata (`columns[].name`) and its domain.
fn metadata(v: &serde_json::Value, file: &str) -> Result<(String, Vec<String>)> {
    let columns = v.get("columns").and_then(|c| c.as_array()).ok_or_else(|| anyhow!("{file}: no `columns` array (Dataset-JSON 1.1 metadata)"))?;
    let variables = columns
        .iter()
        .enumerate()
        .map(|(i, c)| c.get("name").and_then(|n| n.as_str()).map(String::from).ok_or_else(|| anyhow!("{file}: column {} has no name", i + 1)))
        .collect::<Result<Vec<_>>>()?;
    let domain = v.get("name").and_then(|n| n.as_str()).unwrap_or_default().to_string();
    Ok((domain, variables))
}

fn row_of(v: &serde_json::Value, n: usize, file: &str, record: usize) -> Result<Vec<Option<String>>> {
    let cells = v.as_array().ok_or_else(|| anyhow!("{file}, record {record}: not an array of values"))?;
    if cells.len() != n {
        bail!("{file}, record {record}: {} values, the metadata has {n} columns", cells.len());
    }
    Ok(cells.iter().map(cell).collect())
}

fn dataset_json(v: &serde_json::Value, file: &str) -> Result<Table> {
    let (domain, variables) = metadata(v, file)?;
    let rows = v.get("rows").and_then(|r| r.as_array()).ok_or_else(|| anyhow!("{file}: no `rows` array"))?;
    let rows = rows.iter().enumerate().map(|(i, r)| row_of(r, variables.len(), file, i + 1)).collect::<Result<Vec<_>>>()?;
    Ok(Table { domain, variables, rows })
}

fn read_ndjson(path: &Path) -> Result<Table> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {file}"))?;
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or_else(|| anyhow!("{file}: empty"))?;
    let meta: serde_json::Value = serde_json::from_str(first).map_err(|e| anyhow!("{file}, line 1: not JSON: {e}"))?;
    let (domain, variables) = metadata(&meta, &file)?;
    let mut rows = Vec::new();
    for (i, line) in lines {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| anyhow!("{file}, line {}: not JSON: {e}", i + 1))?;
        rows.push(row_of(&v, variables.len(), &file, rows.len() + 1)?);
    }
    Ok(Table { domain, variables, rows })
}

fn read_csv(path: &Path) -> Result<Table> {
    let file = path.display().to_string();
    let mut r = csv::ReaderBuilder::new().flexible(false).from_path(path).with_context(|| format!("reading {file}"))?;
    let variables: Vec<String> =
        r.headers().with_context(|| format!("{file}, line 1"))?.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect();
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{file}, record {}", i + 1))?;
        rows.push(rec.iter().map(|v| Some(v.to_string()).filter(|v| !v.is_empty())).collect());
    }
    let mut t = Table { domain: String::new(), variables, rows };
    if let Some(c) = t.column("DOMAIN") {
        t.domain = t.value(0, c).unwrap_or_default().to_string();
    }
    Ok(t)
}

/// One coded record of a coded AE or MH dataset: its reported term and the LLT it was coded to, by
/// code (xxLLTCD) or by name (xxLLT).
#[derive(Debug, Clone, PartialEq)]
pub struct CodedTerm {
    pub record: usize,
    pub term: String,
    pub llt_code: Option<u32>,
    pub llt_name: Option<String>,
}

/// The coded records of a coded dataset (records without a reported term or an LLT are counted
/// apart: the second number).
pub fn coded_terms(t: &Table, file: &str) -> Result<(Vec<CodedTerm>, usize)> {
    let prefix = t.coding_prefix().ok_or_else(|| anyhow!("{file}: neither AETERM nor MHTERM: not an SDTM AE or MH dataset"))?;
    let col = |v: &str| t.column(&format!("{prefix}{v}"));
    let term_col = col("TERM").expect("coding_prefix found it");
    let (code_col, name_col) = (col("LLTCD"), col("LLT"));
    if code_col.is_none() && name_col.is_none() {
        bail!("{file}: no {prefix}LLT or {prefix}LLTCD variable: the dataset carries no LLT to learn from");
    }
    let mut out = Vec::new();
    let mut uncoded = 0;
    for row in 0..t.rows.len() {
        let record = row + 1;
        let Some(term) = t.value(row, term_col) else {
            uncoded += 1;
            continue;
        };
        let llt_code = match code_col.and_then(|c| t.value(row, c)) {
            Some(v) => Some(v.parse::<u32>().map_err(|_| anyhow!("{file}, record {record}, variable {prefix}LLTCD: '{v}' is not an LLT code"))?),
            None => None,
        };
        let llt_name = name_col.and_then(|c| t.value(row, c)).map(String::from);
        if llt_code.is_none() && llt_name.is_none() {
            uncoded += 1;
            continue;
        }
        out.push(CodedTerm { record, term: term.to_string(), llt_code, llt_name });
    }
    Ok((out, uncoded))
}

/// A coded dataset's records as a synonym list for `dict`: the LLT by code, else by exact name
/// (case, spaces and punctuation ignored), current in `dict`. What does not resolve is listed, not
/// guessed: an unknown or non-current LLT, a code whose name differs from the record's, a term the
/// file codes to two LLTs (the term is left out). Each reason is listed once with its records.
pub fn to_synonyms(dict: &Dictionary, coded: &[CodedTerm]) -> (Vec<Labelled>, Vec<String>) {
    let by_name: std::collections::HashMap<String, Vec<&crate::meddra::Llt>> = dict.llts.iter().fold(Default::default(), |mut m, l| {
        m.entry(normalize(&l.name)).or_insert_with(Vec::new).push(l);
        m
    });
    let v = &dict.version;
    // Each reason once, with the records it holds for (a study codes the same term many times).
    let mut reasons: Vec<(String, Vec<usize>)> = Vec::new();
    let mut listed_at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut list = |why: String, record: usize| match listed_at.get(&why) {
        Some(&i) => reasons[i].1.push(record),
        None => {
            listed_at.insert(why.clone(), reasons.len());
            reasons.push((why, vec![record]));
        }
    };
    let mut rows: Vec<Labelled> = Vec::new();
    for c in coded {
        let at = format!("'{}'", c.term);
        let llt = match (c.llt_code, &c.llt_name) {
            (Some(code), name) => match dict.llt(code) {
                None => Err(format!("{at}: LLT code {code} is not in MedDRA {v}")),
                Some(l) if name.as_ref().is_some_and(|n| normalize(n) != normalize(&l.name)) => {
                    Err(format!("{at}: LLT {code} is '{}' in MedDRA {v}, the record says '{}'", l.name, name.as_deref().unwrap_or_default()))
                }
                Some(l) => Ok(l),
            },
            (None, Some(name)) => match by_name.get(&normalize(name)) {
                None => Err(format!("{at}: no LLT named '{name}' in MedDRA {v}")),
                Some(ls) => Ok(ls.iter().find(|l| l.current).copied().unwrap_or(ls[0])),
            },
            (None, None) => continue,
        };
        match llt {
            Err(why) => list(why, c.record),
            Ok(l) if !l.current => list(format!("{at}: LLT {} '{}' is non-current in MedDRA {v}", l.code, l.name), c.record),
            Ok(l) => rows.push(Labelled { term: c.term.clone(), llt: l.code, line: c.record }),
        }
    }
    // A term coded two ways in the file is nobody's synonym.
    let mut first: std::collections::HashMap<String, (u32, usize)> = std::collections::HashMap::new();
    let mut split: std::collections::HashSet<String> = std::collections::HashSet::new();
    for r in &rows {
        let key = normalize(&r.term);
        match first.get(&key) {
            Some((llt, record)) if *llt != r.llt => {
                if split.insert(key.clone()) {
                    list(format!("'{}' is coded to LLT {llt} and to LLT {}: left out", r.term, r.llt), *record);
                }
            }
            Some(_) => {}
            None => {
                first.insert(key, (r.llt, r.line));
            }
        }
    }
    rows.retain(|r| !split.contains(&normalize(&r.term)));
    let listed = reasons
        .into_iter()
        .map(|(why, records)| {
            let shown: Vec<String> = records.iter().take(5).map(|r| r.to_string()).collect();
            let more = if records.len() > 5 { format!(" and {} more", records.len() - 5) } else { String::new() };
            format!("{why} (record{} {}{more})", if records.len() == 1 { "" } else { "s" }, shown.join(", "))
        })
        .collect();
    (rows, listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_json_and_ndjson_read_alike_and_bad_records_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let meta =
            r#""columns":[{"itemOID":"IT.AE.AETERM","name":"AETERM","dataType":"string"},{"itemOID":"IT.AE.AESEQ","name":"AESEQ","dataType":"integer"}]"#;
        let json = dir.path().join("ae.json");
        std::fs::write(&json, format!(r#"{{"name":"AE",{meta},"rows":[["HEADACHE",1],["NAUSEA",2.0],[null,3]]}}"#)).unwrap();
        let nd = dir.path().join("ae.ndjson");
        std::fs::write(&nd, format!("{{\"name\":\"AE\",{meta}}}\n[\"HEADACHE\",1]\n[\"NAUSEA\",2.0]\n[null,3]\n")).unwrap();
        let (a, b) = (read(&json).unwrap(), read(&nd).unwrap());
        assert_eq!(a, b);
        assert_eq!((a.domain.as_str(), a.coding_prefix()), ("AE", Some("AE")));
        assert_eq!(a.rows[1], [Some("NAUSEA".to_string()), Some("2".to_string())]);
        std::fs::write(&nd, format!("{{\"name\":\"AE\",{meta}}}\n[\"HEADACHE\",1]\n[\"NAUSEA\"]\n")).unwrap();
        let e = read(&nd).unwrap_err().to_string();
        assert!(e.contains("record 2: 1 values, the metadata has 2 columns"), "{e}");
        std::fs::write(&nd, format!("{{\"name\":\"AE\",{meta}}}\n[\"HEADACHE\",1\n")).unwrap();
        let e = read(&nd).unwrap_err().to_string();
        assert!(e.contains("line 2: not JSON"), "{e}");
    }

    #[test]
    fn coded_terms_read_codes_or_names_and_name_a_bad_code() {
        let t = Table {
            domain: "AE".into(),
            variables: vec!["AETERM".into(), "AELLT".into(), "AELLTCD".into()],
            rows: vec![
                vec![Some("HEADACHE".into()), Some("Headache".into()), None],
                vec![Some("FEVER".into()), None, Some("10016558".into())],
                vec![Some("RASH".into()), None, None],
                vec![None, Some("Nausea".into()), None],
            ],
        };
        let (coded, uncoded) = coded_terms(&t, "f").unwrap();
        assert_eq!(coded.len(), 2);
        assert_eq!((coded[1].record, coded[1].llt_code), (2, Some(10016558)));
        assert_eq!(uncoded, 2);
        let mut bad = t.clone();
        bad.rows[1][2] = Some("ten".into());
        let e = coded_terms(&bad, "f").unwrap_err().to_string();
        assert!(e.contains("f, record 2, variable AELLTCD: 'ten' is not an LLT code"), "{e}");
    }
}
