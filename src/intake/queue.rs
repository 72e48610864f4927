//! Queue files from outside: reported terms in CSV (header row) or JSON Lines, read and checked
//! row by row. Parsing only: nothing here touches the store.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// A reported term as the site sent it, with its context.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Report {
    pub external_id: String,
    pub study: String,
    pub subject: String,
    pub reported_term: String,
    pub onset_date: Option<String>,
    pub seriousness: Option<String>,
    pub investigator: Option<String>,
}

/// One reported term read from an import file, with its line there.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewItem {
    pub line: usize,
    pub report: Report,
}

impl std::ops::Deref for NewItem {
    type Target = Report;
    fn deref(&self) -> &Report {
        &self.report
    }
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub line: usize,
    pub reason: String,
}

/// Accepted column names for each field (first match wins).
const ID: &[&str] = &["id", "external_id", "item_id"];
const STUDY: &[&str] = &["study", "study_id"];
const SUBJECT: &[&str] = &["subject", "subject_id", "patient"];
const TERM: &[&str] = &["reported_term", "term", "verbatim", "rt"];
const ONSET: &[&str] = &["onset_date", "onset"];
const SERIOUS: &[&str] = &["seriousness", "serious"];
const INVESTIGATOR: &[&str] = &["investigator"];

fn field_of(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    [ID, STUDY, SUBJECT, TERM, ONSET, SERIOUS, INVESTIGATOR].iter().position(|names| names.contains(&n.as_str()))
}

pub(crate) fn build_item(line: usize, values: [Option<String>; 7]) -> Result<NewItem, Rejected> {
    let [id, study, subject, term, onset, serious, inv] = values;
    let req = |v: Option<String>, what: &str| -> Result<String, Rejected> {
        match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            Some(s) => Ok(s),
            None => Err(Rejected { line, reason: format!("empty {what}") }),
        }
    };
    let opt = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    // A line break inside a field (a quoted CSV field, a JSON "\n") would break every line-based
    // view and export of the item; an endless field slows every list.
    for (name, v) in [
        ("id", &id),
        ("study", &study),
        ("subject", &subject),
        ("reported term", &term),
        ("onset date", &onset),
        ("seriousness", &serious),
        ("investigator", &inv),
    ] {
        let Some(v) = v else { continue };
        if v.trim().contains(['\n', '\r', '\u{2028}', '\u{2029}']) {
            return Err(Rejected { line, reason: format!("the {name} contains a line break") });
        }
        // Escape sequences, NUL and direction overrides would reach every terminal that shows it.
        if let Some(c) = crate::text::forbidden_char(v.trim()) {
            return Err(Rejected { line, reason: format!("the {name} contains the control character U+{:04X}", c as u32) });
        }
        // `AE-7#2` is part 2 of AE-7 (a split): a site's id never looks like one.
        if name == "id" && v.contains('#') {
            return Err(Rejected { line, reason: "the id contains '#', which marks the parts of a split verbatim".into() });
        }
        if v.chars().count() > MAX_FIELD_CHARS {
            return Err(Rejected { line, reason: format!("the {name} has {} characters (at most {MAX_FIELD_CHARS})", v.chars().count()) });
        }
    }
    Ok(NewItem {
        line,
        report: Report {
            external_id: req(id, "id")?,
            study: req(study, "study")?,
            subject: req(subject, "subject")?,
            reported_term: req(term, "reported term")?,
            onset_date: opt(onset),
            seriousness: opt(serious),
            investigator: opt(inv),
        },
    })
}

/// The longest field accepted in a queue file (a verbatim term rarely passes 200 characters).
pub const MAX_FIELD_CHARS: usize = 2_000;

/// Reads a queue file: CSV (header row) or JSON Lines (`.jsonl`/`.ndjson`, one object per line).
/// Good rows come back with the bad ones listed by line; a missing required column fails the file.
pub fn read_file(path: &Path) -> Result<(Vec<NewItem>, Vec<Rejected>, Vec<String>)> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    // Spreadsheet programs save UTF-8 with a byte-order mark; it is not part of the first field.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    // An SDTM AE or MH dataset (SAS transport, Dataset-JSON, or CSV with AETERM/MHTERM) is read as
    // one: an item per record, its id derived from USUBJID and the sequence number.
    if super::sdtm::looks_like_sdtm(&ext, bytes) {
        let received = super::sdtm::receive(path)?.expect("looks like a dataset");
        return Ok((received.items, vec![], vec![]));
    }
    if ext == "jsonl" || ext == "ndjson" || ext == "json" {
        read_jsonl(bytes)
    } else {
        read_csv(path, bytes)
    }
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<(Vec<NewItem>, Vec<Rejected>, Vec<String>)> {
    // No field may hold a line break, so each line (ending at \n only: a bare \r inside a term must
    // not split the row) is one record, read on its own: a quote left open on one line is that
    // line's error and never swallows the lines after it.
    let mut lines = bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, raw)| (i + 1, raw.strip_suffix(b"\r").unwrap_or(raw)))
        .filter(|(_, raw)| !raw.iter().all(u8::is_ascii_whitespace));
    let headers = match lines.next() {
        Some((_, raw)) => csv_line(raw).map_err(|e| anyhow::anyhow!("{}: cannot read the header row: {e}", path.display()))?,
        None => csv::ByteRecord::new(),
    };
    let mut map = [None; 7];
    let mut ignored = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let h = String::from_utf8_lossy(h).to_string();
        match field_of(&h) {
            Some(f) if map[f].is_none() => map[f] = Some(i),
            _ => ignored.push(h.trim().to_string()),
        }
    }
    for (f, names) in [(0, ID), (1, STUDY), (2, SUBJECT), (3, TERM)] {
        if map[f].is_none() {
            bail!("{}, line 1: missing column '{}' (accepted names: {})", path.display(), names[0], names.join(", "));
        }
    }
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for (line, raw) in lines {
        let rec = match csv_line(raw) {
            Ok(rec) => rec,
            Err(reason) => {
                bad.push(Rejected { line, reason });
                continue;
            }
        };
        // More fields than the header is usually an unquoted comma inside a term: refused rather
        // than importing the term cut short.
        if rec.len() != headers.len() {
            bad.push(Rejected { line, reason: format!("{} fields, the header has {} (quote a term that contains a comma)", rec.len(), headers.len()) });
            continue;
        }
        let mut values: [Option<String>; 7] = Default::default();
        let mut broken = None;
        for (f, col) in map.iter().enumerate() {
            if let Some(c) = col {
                match std::str::from_utf8(&rec[*c]) {
                    Ok(s) => values[f] = Some(s.to_string()),
                    Err(_) => broken = Some(String::from_utf8_lossy(&headers[*c]).to_string()),
                }
            }
        }
        if let Some(col) = broken {
            bad.push(Rejected { line, reason: format!("column {col} is not valid UTF-8 text") });
            continue;
        }
        match build_item(line, values) {
            Ok(item) => good.push(item),
            Err(rej) => bad.push(rej),
        }
    }
    Ok((good, bad, ignored))
}

/// One CSV line as a record; the error says why it cannot be read.
fn csv_line(raw: &[u8]) -> Result<csv::ByteRecord, String> {
    if let Some(col) = open_quote(raw) {
        return Err(format!("a quote opened at character {col} is never closed on this line (a field cannot hold a line break)"));
    }
    let mut one = csv::ReaderBuilder::new().has_headers(false).flexible(true).terminator(csv::Terminator::Any(b'\n')).from_reader(raw);
    match one.byte_records().next() {
        Some(Ok(rec)) => Ok(rec),
        Some(Err(e)) => Err(format!("unreadable CSV: {e}")),
        None => Ok(csv::ByteRecord::new()),
    }
}

/// Where a quoted field that is never closed starts on a CSV line (1-based byte), if any.
fn open_quote(line: &[u8]) -> Option<usize> {
    let (mut quoted, mut field_start, mut just_closed, mut opened) = (false, true, false, 0);
    for (i, &b) in line.iter().enumerate() {
        if quoted {
            if b == b'"' {
                quoted = false;
                just_closed = true;
            }
            continue;
        }
        match b {
            // `""` inside a quoted field: the quote just closed reopens it.
            b'"' if field_start || just_closed => {
                quoted = true;
                if field_start {
                    opened = i + 1;
                }
            }
            b',' => {
                field_start = true;
                just_closed = false;
                continue;
            }
            _ => {}
        }
        field_start = false;
        just_closed = false;
    }
    quoted.then_some(opened)
}

fn read_jsonl(bytes: &[u8]) -> Result<(Vec<NewItem>, Vec<Rejected>, Vec<String>)> {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let mut ignored: Vec<String> = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            bad.push(Rejected { line, reason: "not valid UTF-8 text".into() });
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(text) {
            Ok(o) => o,
            Err(e) => {
                bad.push(Rejected { line, reason: format!("not a JSON object: {e}") });
                continue;
            }
        };
        let mut values: [Option<String>; 7] = Default::default();
        let mut nested = None;
        for (k, v) in obj {
            let value = match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                serde_json::Value::Number(n) => Some(n.to_string()),
                other => {
                    let kind = if other.is_object() {
                        "an object"
                    } else if other.is_array() {
                        "an array"
                    } else {
                        "true/false"
                    };
                    nested = Some(format!("field {}: {kind}, not text", crate::text::printable(&k)));
                    None
                }
            };
            match field_of(&k) {
                Some(f) if values[f].is_none() => values[f] = value,
                _ => {
                    if !ignored.contains(&k) {
                        ignored.push(k)
                    }
                }
            }
        }
        if let Some(reason) = nested {
            bad.push(Rejected { line, reason });
            continue;
        }
        match build_item(line, values) {
            Ok(item) => good.push(item),
            Err(rej) => bad.push(rej),
        }
    }
    Ok((good, bad, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_quote_spoils_its_own_line_only_and_nested_json_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("q.csv");
        std::fs::write(&csv, "id,study,subject,reported_term\nA1,S,1,\"rash\nA2,S,1,\"say \"\"hi\"\", ok\"\nA3,S,1,nausea\n").unwrap();
        let (good, bad, _) = read_file(&csv).unwrap();
        assert_eq!(good.iter().map(|g| g.external_id.as_str()).collect::<Vec<_>>(), ["A2", "A3"]);
        assert_eq!(good[0].reported_term, "say \"hi\", ok");
        assert_eq!((bad.len(), bad[0].line), (1, 2), "{bad:?}");
        assert!(bad[0].reason.contains("never closed"), "{bad:?}");
        let jl = dir.path().join("q.jsonl");
        std::fs::write(&jl, "{\"id\":\"J1\",\"study\":\"S\",\"subject\":\"1\",\"reported_term\":{\"text\":\"rash\"}}\n{\"id\":7,\"study\":\"S\",\"subject\":\"1\",\"reported_term\":\"rash\"}\n").unwrap();
        let (good, bad, _) = read_file(&jl).unwrap();
        assert_eq!((good.len(), good[0].external_id.as_str()), (1, "7"));
        assert!(bad[0].line == 1 && bad[0].reason.contains("field reported_term: an object, not text"), "{bad:?}");
    }

    #[test]
    fn csv_good_bad_and_ignored_columns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.csv");
        let mut bytes = b"id,study,subject,term,onset_date,expected_llt_code\nA1,S,001,headache,2026-01-01,1\nA2,S,002,,2026-01-01,1\nA3,S\n".to_vec();
        bytes.extend_from_slice(b"A4,S,004,na\xffusea,,\n");
        std::fs::write(&p, bytes).unwrap();
        let (good, bad, ignored) = read_file(&p).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].reported_term, "headache");
        assert_eq!(good[0].line, 2);
        assert_eq!(ignored, vec!["expected_llt_code"]);
        let reasons: Vec<_> = bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(reasons[0], (3, "empty reported term"));
        assert_eq!(reasons[1].0, 4);
        assert!(reasons[2].1.contains("not valid UTF-8"), "{reasons:?}");
    }

    #[test]
    fn csv_missing_column_fails_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.csv");
        std::fs::write(&p, "id,study,term\nA1,S,x\n").unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert!(e.contains("line 1: missing column 'subject'"), "{e}");
    }

    #[test]
    fn jsonl_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.jsonl");
        std::fs::write(&p, "{\"id\":\"J1\",\"study\":\"S\",\"subject\":7,\"reported_term\":\"rash\",\"investigator\":\"Dr X\"}\n\nnot json\n{\"id\":\"J2\",\"study\":\"S\",\"subject\":\"1\"}\n").unwrap();
        let (good, bad, _) = read_file(&p).unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].subject, "7");
        assert_eq!(good[0].investigator.as_deref(), Some("Dr X"));
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3, 4]);
    }
}
