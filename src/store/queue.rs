//! The coding queue: importing reported terms and listing items, filtered in SQL.

use std::collections::HashSet;

use anyhow::{anyhow, Result};
use rusqlite::{params, OptionalExtension};

use super::item::{item_from_row, summary_from_row, Item, ItemFilter, ItemSummary, State, ITEM_COLUMNS, SUMMARY_COLUMNS};
use super::log::{self, Entry};
use super::proposals::TopProposal;
use super::workflow::RuleMatch;
use super::Store;
use crate::intake::queue::{NewItem, Rejected};

/// Identical reported terms of the queue (normalised: case, spaces and punctuation ignored).
#[derive(Debug, Clone, PartialEq)]
pub struct TermGroup {
    pub term: String,
    /// The first item of the group (by id).
    pub first_id: i64,
    pub items: i64,
    /// New or returned: waiting for a proposer.
    pub to_code: i64,
    /// Waiting for a reviewer.
    pub proposed: i64,
    pub confirmed: i64,
    /// Distinct LLTs among the proposed items (1: the group can be confirmed at once).
    pub proposed_llts: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub imported: usize,
    pub duplicates: Vec<Rejected>,
    pub bad: Vec<Rejected>,
    pub ignored_columns: Vec<String>,
    /// Coded by the exact-LLT-name rule.
    pub autocoded: usize,
    /// Coded from the synonym list.
    pub by_synonym: usize,
    /// Ids queued before whose reported term the file corrects: a new revision of the item.
    pub superseded: Vec<Rejected>,
    /// The id of the SDTM dataset kept, when the file was one.
    pub dataset: Option<i64>,
    /// The dataset was the latest of its study and domain already, as it stands: not kept twice.
    pub dataset_unchanged: bool,
}

impl Store {
    /// Imports items in one transaction, skipping ids already queued (in the store or earlier in
    /// the file). Items whose normalised term equals a current LLT name are coded by the rule.
    pub fn import_items(&mut self, user: &str, items: &[NewItem], file: &str) -> Result<ImportReport> {
        self.import_kept(user, items, file, None)
    }

    /// Imports items, and keeps the dataset they came from (when they came from one) in the same
    /// transaction: the items and their dataset are stored together or not at all.
    pub fn import_kept(&mut self, user: &str, items: &[NewItem], file: &str, kept: Option<&super::datasets::Kept>) -> Result<ImportReport> {
        // A file name is stored text too: escaped, never raw control or format characters.
        let file = &*crate::text::printable(file);
        self.user(user)?;
        let dict = self.active_dictionary().ok();
        let rules = dict.as_ref().map(crate::meddra::autocode::Rules::new);
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut report = ImportReport::default();
        let mut seen = HashSet::new();
        for it in items {
            // `AE-7#2` is part 2 of AE-7: only a split makes such ids (intake refuses them in files).
            if it.external_id.contains('#') {
                anyhow::bail!("{file}, line {}: the id {} contains '#', which marks the parts of a split verbatim", it.line, it.external_id);
            }
            let queued = tx.query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE external_id = ?1"), [&it.external_id], item_from_row).optional()?;
            if !seen.insert(it.external_id.clone()) {
                report.duplicates.push(Rejected { line: it.line, reason: format!("id {} is already queued", it.external_id) });
                continue;
            }
            if let Some(queued) = queued {
                // The same id with another reported term: the site corrected its verbatim.
                if queued.reported_term == it.reported_term.trim() {
                    report.duplicates.push(Rejected { line: it.line, reason: format!("id {} is already queued", it.external_id) });
                } else if queued.study != it.study || queued.subject != it.subject {
                    report.duplicates.push(Rejected { line: it.line, reason: other_record(&queued, &it.study, &it.subject) });
                } else if queued.state == State::Split || super::lifecycle::has_live_parts(&tx, &queued.external_id)? {
                    report.duplicates.push(Rejected {
                        line: it.line,
                        reason: format!("id {} was split into parts: a corrected verbatim goes to its parts (queue show {})", it.external_id, it.external_id),
                    });
                } else if queued.state == State::Void {
                    report
                        .duplicates
                        .push(Rejected { line: it.line, reason: format!("id {} is a part of a returned split: it is coded no more", it.external_id) });
                } else {
                    let why = format!("corrected verbatim from {file}, line {}", it.line);
                    super::lifecycle::supersede(&tx, user, dict.as_ref(), &queued, it.reported_term.trim(), &why)?;
                    report.superseded.push(Rejected { line: it.line, reason: corrected(&queued, it.reported_term.trim()) });
                }
                continue;
            }
            let now = super::now();
            tx.execute(
                "INSERT INTO item(external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, imported_at, updated_at, updated_by, term_key, syn_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'new', ?8, ?8, ?9, ?10, synonym_key(?10, (SELECT value FROM setting WHERE key = 'synonym_qualifiers')))",
                params![it.external_id, it.study, it.subject, it.reported_term, it.onset_date, it.seriousness, it.investigator, now, user, crate::text::normalize(&it.reported_term)],
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
                    report.autocoded += usize::from(super::workflow::autocode(&tx, user, id, d, llt, &RuleMatch::exact_name())?);
                } else if let Some((syn, llt)) = super::synonyms::active(&tx, d, &it.study, &crate::text::normalize(&it.reported_term))? {
                    report.by_synonym += usize::from(super::workflow::autocode(&tx, user, id, d, llt, &RuleMatch::synonym(&syn))?);
                }
            }
        }
        if let Some(k) = kept {
            let (id, new) = super::datasets::keep(&tx, user, file, k)?;
            (report.dataset, report.dataset_unchanged) = (Some(id), !new);
        }
        tx.commit()?;
        Ok(report)
    }

    pub fn item(&self, external_id: &str) -> Result<Item> {
        self.conn
            .query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE external_id = ?1"), [external_id], item_from_row)
            .optional()?
            .ok_or_else(|| anyhow!("no queue item with id '{}'", crate::text::printable(external_id)))
    }

    /// Items matching the filter, in id order; the filter is SQL (indexed by state and study).
    pub fn items(&self, f: &ItemFilter) -> Result<Vec<Item>> {
        let (clause, args) = where_clause(f, "", 0);
        let mut st = self.conn.prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM item{clause} ORDER BY id"))?;
        let rows = st.query_map(rusqlite::params_from_iter(args), item_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The queue list: items matching the filter with their top proposal for `meddra_version`.
    /// Two ordered scans merged by id: a join would seek once per item, which costs a 50,000-item
    /// queue three times as much (BENCHMARKS.md).
    pub fn queue_rows(&self, f: &ItemFilter, meddra_version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>> {
        let (clause, args) = where_clause(f, "", 0);
        let mut st = self.conn.prepare_cached(&format!("SELECT {SUMMARY_COLUMNS} FROM item{clause} ORDER BY id"))?;
        let items = st.query_map(rusqlite::params_from_iter(args), summary_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        let mut st = self.conn.prepare_cached(
            "SELECT item_id, top_llt, top_confidence, entropy, top_pt_confidence FROM item_proposals WHERE meddra_version = ?1 ORDER BY item_id",
        )?;
        let tops = st
            .query_map([meddra_version], |r| {
                let llt: Option<u32> = r.get(1)?;
                let confidence: Option<f64> = r.get(2)?;
                Ok((r.get::<_, i64>(0)?, TopProposal { top: llt.zip(confidence), entropy: r.get(3)?, pt: r.get(4)? }))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut next = 0;
        Ok(items
            .into_iter()
            .map(|it| {
                while tops.get(next).is_some_and(|(id, _)| *id < it.id) {
                    next += 1;
                }
                let top = tops.get(next).filter(|(id, _)| *id == it.id).map(|(_, t)| *t);
                (it, top)
            })
            .collect())
    }

    /// The queue grouped by normalised reported term (the filter applies to the items): each
    /// distinct term with its counts, in order of first appearance.
    pub fn term_groups(&self, f: &ItemFilter) -> Result<Vec<TermGroup>> {
        let (clause, args) = where_clause(f, "", 0);
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT term_key, min(id), count(*), sum(state IN ('new', 'returned', 'answered')), sum(state = 'proposed'), sum(state = 'confirmed'),
                    count(DISTINCT CASE WHEN state = 'proposed' THEN llt_code END)
             FROM item{clause} GROUP BY term_key ORDER BY min(id)"
        ))?;
        let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(TermGroup {
                term: r.get(0)?,
                first_id: r.get(1)?,
                items: r.get(2)?,
                to_code: r.get(3)?,
                proposed: r.get(4)?,
                confirmed: r.get(5)?,
                proposed_llts: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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

/// Why a line with a queued id but another study or subject is not taken as its correction.
pub(crate) fn other_record(queued: &Item, study: &str, subject: &str) -> String {
    format!(
        "id {} is queued for study {}, subject {}; this line says study {study}, subject {subject}: not a correction of that record",
        queued.external_id, queued.study, queued.subject
    )
}

/// What the import says of a corrected verbatim, naming a confirmed code it takes back.
pub(crate) fn corrected(queued: &Item, term: &str) -> String {
    let dropped = match (queued.state, queued.llt_code) {
        (State::Confirmed, Some(c)) => format!("; its confirmed code LLT {c} was dropped: it is coded again"),
        (_, Some(c)) => format!("; its code LLT {c} was dropped"),
        _ => String::new(),
    };
    format!("id {}: reported term corrected from '{}' to '{term}'{dropped}", queued.external_id, queued.reported_term)
}

/// The WHERE clause of a filter (columns prefixed by `table`) and its arguments, numbered after
/// the query's own `before` arguments.
fn where_clause(f: &ItemFilter, table: &str, before: usize) -> (String, Vec<String>) {
    let mut conds = Vec::new();
    let mut args = Vec::new();
    let mut arg = |v: String| {
        args.push(v);
        format!("?{}", before + args.len())
    };
    if !f.states.is_empty() {
        let list: Vec<String> = f.states.iter().map(|s| arg(s.as_str().to_string())).collect();
        conds.push(format!("{table}state IN ({})", list.join(", ")));
    }
    if let Some(study) = &f.study {
        conds.push(format!("{table}study = {}", arg(study.clone())));
    }
    if let Some(text) = f.text.as_deref().map(crate::text::normalize).filter(|t| !t.is_empty()) {
        // normalize() is the Rust function registered on the connection: the same matching as
        // the desk's filter box, case, punctuation and spacing ignored.
        conds.push(format!("instr(normalize({table}external_id || ' ' || {table}reported_term || ' ' || {table}subject), {}) > 0", arg(text)));
    }
    if conds.is_empty() {
        return (String::new(), vec![]);
    }
    (format!(" WHERE {}", conds.join(" AND ")), args)
}
