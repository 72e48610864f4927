//! SDTM datasets (AE, MH) as the queue and the synonym list take them: the items of a received
//! dataset (read by `crate::sdtm`) and the synonyms of a coded one, from a text view of its values,
//! with the file, record and variable named in every error.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::labelled::Labelled;
use super::queue::{NewItem, Rejected};
use crate::meddra::Dictionary;
use crate::sdtm::{Dataset, Format};
use crate::text::normalize;

/// A dataset's values as text: its domain (AE, MH), its variables in order, and one row per
/// record (None for a missing or blank value; numbers as SAS prints them).
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
        // A cut or damaged Dataset-JSON file is still one (and refused as one, naming its record):
        // its metadata names the `columns` early on.
        "json" | "ndjson" => {
            let head = String::from_utf8_lossy(if ext == "json" { &bytes[..bytes.len().min(65536)] } else { first });
            head.trim_start().starts_with('{') && (key_of(&head, "columns", '[') || key_of(&head, "datasetJSONVersion", '"'))
        }
        _ => String::from_utf8_lossy(first).split(',').any(|h| matches!(h.trim().trim_matches('"').to_ascii_uppercase().as_str(), "AETERM" | "MHTERM")),
    }
}

/// The variables an item is made from, by column: id parts, study, subject, term, onset and
/// seriousness.
struct Columns {
    prefix: &'static str,
    study: usize,
    subject: usize,
    term: usize,
    seq: usize,
    onset: Option<usize>,
    serious: Option<usize>,
}

fn columns(t: &Table, file: &str) -> Result<Columns> {
    let prefix = t.coding_prefix().ok_or_else(|| anyhow!("{file}: neither AETERM nor MHTERM: not an SDTM AE or MH dataset"))?;
    let need = |v: &str| t.column(v).ok_or_else(|| anyhow!("{file}: no variable {v}"));
    Ok(Columns {
        prefix,
        study: need("STUDYID")?,
        subject: need("USUBJID")?,
        term: need(&format!("{prefix}TERM"))?,
        seq: need(&format!("{prefix}SEQ"))?,
        onset: t.column(&format!("{prefix}STDTC")),
        serious: t.column("AESER"),
    })
}

/// A record's item id: `STUDYID-USUBJID-AE<AESEQ>` (MH: `-MH<MHSEQ>`), unique as SDTM's keys
/// are; the sequence number as a whole number ("01" is 1). None when a part is missing or the
/// sequence number is not a whole number.
fn record_id(t: &Table, c: &Columns, row: usize) -> Option<String> {
    let seq = whole_number(t.value(row, c.seq)?)?;
    Some(format!("{}-{}-{}{seq}", t.value(row, c.study)?, t.value(row, c.subject)?, c.prefix))
}

fn whole_number(v: &str) -> Option<u64> {
    v.trim().parse::<f64>().ok().filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 1e15).map(|x| x as u64)
}

/// One record as the export matches it to its item: id, study, subject and reported term (None
/// for a record lacking one of them).
pub type RecordKey = Option<(String, String, String, String)>;

/// The keys of every record, in order, and the domain prefix (AE, MH).
pub fn record_keys(t: &Table, file: &str) -> Result<(&'static str, Vec<RecordKey>)> {
    let c = columns(t, file)?;
    let keys = (0..t.rows.len())
        .map(|row| {
            let v = |col: usize| t.value(row, col).map(String::from);
            Some((record_id(t, &c, row)?, v(c.study)?, v(c.subject)?, v(c.term)?))
        })
        .collect();
    Ok((c.prefix, keys))
}

/// Whether `text` holds the JSON key `key` with a value starting `opens` (`"columns": [`).
fn key_of(text: &str, key: &str, opens: char) -> bool {
    text.match_indices(&format!("\"{key}\"")).any(|(at, k)| {
        let rest = text[at + k.len()..].trim_start();
        rest.strip_prefix(':').is_some_and(|r| r.trim_start().starts_with(opens))
    })
}

/// The items of an AE or MH dataset, one per record (numbered from 1 as `line`): id
/// `STUDYID-USUBJID-AE<AESEQ>`, study STUDYID, subject USUBJID, the reported term xxTERM, onset xxSTDTC,
/// seriousness AESER. Records lacking one of the required variables' values are listed.
pub fn to_items(t: &Table, file: &str) -> Result<(Vec<NewItem>, Vec<Rejected>)> {
    let c = columns(t, file)?;
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let mut first_of: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let p = c.prefix;
    for row in 0..t.rows.len() {
        let record = row + 1;
        let v = |col: Option<usize>| col.and_then(|col| t.value(row, col)).map(String::from);
        // What a record lacks is named by its variable.
        let missing = [("STUDYID", c.study), ("USUBJID", c.subject), (&*format!("{p}SEQ"), c.seq), (&*format!("{p}TERM"), c.term)]
            .into_iter()
            .find(|(_, col)| t.value(row, *col).is_none())
            .map(|(name, _)| name.to_string());
        if let Some(name) = missing {
            bad.push(Rejected { line: record, reason: format!("record {record}, variable {name}: empty") });
            continue;
        }
        let Some(id) = record_id(t, &c, row) else {
            let seq = t.value(row, c.seq).unwrap_or_default();
            bad.push(Rejected { line: record, reason: format!("record {record}, variable {p}SEQ: '{seq}' is not a whole number") });
            continue;
        };
        if let Some(first) = first_of.insert(id.clone(), record) {
            first_of.insert(id.clone(), first);
            bad.push(Rejected {
                line: record,
                reason: format!("record {record}: STUDYID, USUBJID and {p}SEQ repeat record {first}'s ({id}): the keys of an SDTM record are unique"),
            });
            continue;
        }
        let values = [Some(id), v(Some(c.study)), v(Some(c.subject)), v(Some(c.term)), v(c.onset), v(c.serious), None];
        match super::queue::build_item(record, values) {
            Ok(item) => good.push(item),
            Err(r) => bad.push(Rejected { line: r.line, reason: format!("record {}: {}", r.line, r.reason) }),
        }
    }
    Ok((good, bad))
}

impl Table {
    /// The text view of a dataset: every value as text, blank as None.
    pub fn of(ds: &Dataset) -> Table {
        let rows = ds.rows.iter().map(|r| r.iter().map(crate::sdtm::text).collect()).collect();
        Table { domain: ds.domain(), variables: ds.meta.columns.iter().map(|c| c.name.clone()).collect(), rows }
    }
}

/// Reads an SDTM dataset file in any of its forms, as text.
pub fn read(path: &Path) -> Result<Table> {
    Ok(Table::of(&crate::sdtm::read(path)?.0))
}

/// An SDTM dataset received for coding: the dataset as it came (kept, to be written back) and
/// its items, one per record.
#[derive(Debug, Clone)]
pub struct Received {
    pub dataset: Dataset,
    pub format: Format,
    pub items: Vec<NewItem>,
}

/// Reads a queue file that is an SDTM dataset (None when it is not one). A record lacking a
/// required value refuses the whole dataset: it is written back whole, so it is taken whole.
pub fn receive(path: &Path) -> Result<Option<Received>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    if !looks_like_sdtm(&ext, bytes) {
        return Ok(None);
    }
    let file = path.display().to_string();
    let (dataset, format) = crate::sdtm::read(path)?;
    if dataset.rows.is_empty() {
        bail!("{file}: the {} dataset has no records: nothing to code", dataset.domain());
    }
    let (items, bad) = to_items(&Table::of(&dataset), &file)?;
    if !bad.is_empty() {
        let listed: Vec<String> = bad.iter().take(10).map(|b| b.reason.clone()).collect();
        let more = if bad.len() > 10 { format!("; and {} more", bad.len() - 10) } else { String::new() };
        bail!(
            "{file}: {} record(s) cannot be queued, so nothing was imported (a dataset is coded and written back whole): {}{more}",
            bad.len(),
            listed.join("; ")
        );
    }
    Ok(Some(Received { dataset, format, items }))
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
        assert!(e.contains("line 2 (record 1): the file is cut short"), "{e}");
        std::fs::write(&nd, format!("{{\"name\":\"AE\",{meta}}}\n[\"HEADACHE\",1]]\n")).unwrap();
        let e = read(&nd).unwrap_err().to_string();
        assert!(e.contains("line 2 (record 1): not JSON"), "{e}");
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
