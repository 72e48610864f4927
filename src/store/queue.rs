//! The coding queue: reported terms imported from CSV or JSON Lines, one row per item.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::log::{self, Entry};
use super::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    New,
    Proposed,
    Returned,
    Query,
    Confirmed,
}

impl State {
    pub const ALL: [State; 5] = [State::New, State::Proposed, State::Returned, State::Query, State::Confirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Proposed => "proposed",
            State::Returned => "returned",
            State::Query => "query",
            State::Confirmed => "confirmed",
        }
    }
    pub fn parse(s: &str) -> Result<State> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| anyhow!("unknown state '{s}': use new, proposed, returned, query or confirmed"))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// A queue item: the report and where its coding stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: i64,
    #[serde(flatten)]
    pub report: Report,
    pub state: State,
    pub llt_code: Option<u32>,
    pub pt_code: Option<u32>,
    pub meddra_version: Option<String>,
    pub source: Option<String>,
    pub proposer: Option<String>,
    pub reviewer: Option<String>,
    pub comment: Option<String>,
    /// Bumped by every change; an action quoting an older revision is refused as stale.
    pub revision: i64,
    pub imported_at: String,
    pub updated_at: String,
    pub updated_by: String,
    pub proposed_at: Option<String>,
    pub confirmed_at: Option<String>,
}

// The report's fields read as the item's own (`item.reported_term`).
impl std::ops::Deref for Item {
    type Target = Report;
    fn deref(&self) -> &Report {
        &self.report
    }
}

pub(crate) const ITEM_COLUMNS: &str = "id, external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, llt_code, pt_code, meddra_version, source, proposer, reviewer, comment, revision, imported_at, updated_at, updated_by, proposed_at, confirmed_at";

pub(crate) fn item_from_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    let state: String = r.get(8)?;
    Ok(Item {
        id: r.get(0)?,
        report: Report {
            external_id: r.get(1)?,
            study: r.get(2)?,
            subject: r.get(3)?,
            reported_term: r.get(4)?,
            onset_date: r.get(5)?,
            seriousness: r.get(6)?,
            investigator: r.get(7)?,
        },
        state: State::parse(&state).map_err(|e| rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, e.into()))?,
        llt_code: r.get(9)?,
        pt_code: r.get(10)?,
        meddra_version: r.get(11)?,
        source: r.get(12)?,
        proposer: r.get(13)?,
        reviewer: r.get(14)?,
        comment: r.get(15)?,
        revision: r.get(16)?,
        imported_at: r.get(17)?,
        updated_at: r.get(18)?,
        updated_by: r.get(19)?,
        proposed_at: r.get(20)?,
        confirmed_at: r.get(21)?,
    })
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub imported: usize,
    pub duplicates: Vec<Rejected>,
    pub bad: Vec<Rejected>,
    pub ignored_columns: Vec<String>,
    pub autocoded: usize,
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

fn build_item(line: usize, values: [Option<String>; 7]) -> Result<NewItem, Rejected> {
    let [id, study, subject, term, onset, serious, inv] = values;
    let req = |v: Option<String>, what: &str| -> Result<String, Rejected> {
        match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            Some(s) => Ok(s),
            None => Err(Rejected { line, reason: format!("empty {what}") }),
        }
    };
    let opt = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
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

/// Reads a queue file: CSV (header row) or JSON Lines (`.jsonl`/`.ndjson`, one object per line).
/// Good rows come back with the bad ones listed by line; a missing required column fails the file.
pub fn read_file(path: &Path) -> Result<(Vec<NewItem>, Vec<Rejected>, Vec<String>)> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if ext == "jsonl" || ext == "ndjson" || ext == "json" {
        read_jsonl(path, &bytes)
    } else {
        read_csv(path, &bytes)
    }
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<(Vec<NewItem>, Vec<Rejected>, Vec<String>)> {
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = r.byte_headers().with_context(|| format!("{}: cannot read the header row", path.display()))?.clone();
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
    for rec in r.byte_records() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad.push(Rejected { line, reason: format!("unreadable CSV: {e}") });
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.len() < headers.len() {
            bad.push(Rejected { line, reason: format!("{} fields, the header has {}", rec.len(), headers.len()) });
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

fn read_jsonl(_path: &Path, bytes: &[u8]) -> Result<(Vec<NewItem>, Vec<Rejected>, Vec<String>)> {
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
        for (k, v) in obj {
            let value = match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
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
        match build_item(line, values) {
            Ok(item) => good.push(item),
            Err(rej) => bad.push(rej),
        }
    }
    Ok((good, bad, ignored))
}

/// Filters for listing items.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub states: Vec<State>,
    pub study: Option<String>,
    pub text: Option<String>,
}

impl Store {
    /// Imports items in one transaction, skipping ids already queued (in the store or earlier in
    /// the file). Items whose normalised term equals a current LLT name are coded by the rule.
    pub fn import_items(&mut self, user: &str, items: &[NewItem], file: &str) -> Result<ImportReport> {
        self.user(user)?;
        let dict = self.active_dictionary().ok();
        let auto_confirm = self.setting("autocode_confirm")?.as_deref() == Some("on");
        let rules = dict.as_ref().map(crate::meddra::autocode::Rules::new);
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut report = ImportReport::default();
        let mut seen = HashSet::new();
        for it in items {
            let exists: bool = tx
                .query_row("SELECT 1 FROM item WHERE external_id = ?1", [&it.external_id], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if exists || !seen.insert(it.external_id.clone()) {
                report.duplicates.push(Rejected { line: it.line, reason: format!("id {} is already queued", it.external_id) });
                continue;
            }
            let now = super::now();
            tx.execute(
                "INSERT INTO item(external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, imported_at, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'new', ?8, ?8, ?9)",
                params![it.external_id, it.study, it.subject, it.reported_term, it.onset_date, it.seriousness, it.investigator, now, user],
            )?;
            let id = tx.last_insert_rowid();
            log::append(
                &tx,
                &Entry {
                    user: user.into(),
                    action: "import".into(),
                    item_id: Some(id),
                    external_id: Some(it.external_id.clone()),
                    reported_term: Some(it.reported_term.clone()),
                    state_to: Some("new".into()),
                    comment: Some(format!("{file}, line {}", it.line)),
                    ..Default::default()
                },
            )?;
            report.imported += 1;
            if let (Some(d), Some(rules)) = (&dict, &rules) {
                if let Some(llt) = rules.code(&it.reported_term) {
                    super::workflow::autocode(&tx, user, id, d, llt, auto_confirm)?;
                    report.autocoded += 1;
                }
            }
        }
        tx.commit()?;
        Ok(report)
    }

    pub fn item(&self, external_id: &str) -> Result<Item> {
        self.conn
            .query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE external_id = ?1"), [external_id], item_from_row)
            .optional()?
            .ok_or_else(|| anyhow!("no queue item with id '{external_id}'"))
    }

    pub fn items(&self, f: &ItemFilter) -> Result<Vec<Item>> {
        let mut st = self.conn.prepare(&format!("SELECT {ITEM_COLUMNS} FROM item ORDER BY id"))?;
        let text = f.text.as_deref().map(crate::text::normalize);
        let rows = st.query_map([], item_from_row)?;
        let mut out = Vec::new();
        for r in rows {
            let it = r?;
            if !f.states.is_empty() && !f.states.contains(&it.state) {
                continue;
            }
            if f.study.as_deref().is_some_and(|s| s != it.study) {
                continue;
            }
            if let Some(t) = &text {
                let hay = crate::text::normalize(&format!("{} {} {}", it.external_id, it.reported_term, it.subject));
                if !hay.contains(t.as_str()) {
                    continue;
                }
            }
            out.push(it);
        }
        Ok(out)
    }

    /// The studies with queued items, sorted (without loading the items).
    pub fn studies(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare_cached("SELECT DISTINCT study FROM item ORDER BY study")?;
        let rows = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(rows)
    }

    /// Items per state, for the queue header.
    pub fn state_counts(&self) -> Result<Vec<(State, usize)>> {
        let mut st = self.conn.prepare_cached("SELECT state, count(*) FROM item GROUP BY state")?;
        let counts: std::collections::HashMap<String, i64> = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(State::ALL.into_iter().map(|s| (s, counts.get(s.as_str()).copied().unwrap_or(0) as usize)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
