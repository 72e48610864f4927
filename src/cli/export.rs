//! `medcoder export`: coded items with their full MedDRA hierarchy, as CSV or JSON Lines, from
//! either store.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::Serialize;

use crate::meddra::Dictionary;
use crate::store::api::DeskStore;
use crate::store::audit::Head;
use crate::store::item::{Item, ItemFilter, State};
use crate::store::proposals::ProposalSet;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Format {
    Csv,
    Jsonl,
    Xpt,
    Json,
    Ndjson,
}

impl Format {
    /// The dataset format of `export --sdtm`.
    pub fn dataset(self) -> Result<crate::sdtm::Format> {
        Ok(match self {
            Format::Csv => crate::sdtm::Format::Csv,
            Format::Xpt => crate::sdtm::Format::Xpt,
            Format::Json => crate::sdtm::Format::Json,
            Format::Ndjson => crate::sdtm::Format::Ndjson,
            Format::Jsonl => bail!("--sdtm writes xpt, json, ndjson or csv (jsonl is the item export's)"),
        })
    }
}

#[derive(Serialize)]
struct ExportRow {
    item_id: String,
    /// For a part of a split verbatim: the item it was split from, and its part number.
    source_item_id: Option<String>,
    part_no: Option<u32>,
    study: String,
    subject: String,
    reported_term: String,
    state: String,
    llt_code: Option<u32>,
    llt_name: Option<String>,
    pt_code: Option<u32>,
    pt_name: Option<String>,
    hlt_code: Option<u32>,
    hlt_name: Option<String>,
    hlgt_code: Option<u32>,
    hlgt_name: Option<String>,
    soc_code: Option<u32>,
    soc_name: Option<String>,
    meddra_version: Option<String>,
    proposer: Option<String>,
    reviewer: Option<String>,
    /// How the code was found (rule, synonym, model, model-first, search, browse, manual).
    source: Option<String>,
    /// The model's confidence in the coded LLT and in its PT, from the proposals the item has
    /// (empty when the model did not propose them).
    llt_confidence: Option<f64>,
    pt_confidence: Option<f64>,
    imported_at: String,
    proposed_at: Option<String>,
    confirmed_at: Option<String>,
    /// The decision log's head when the export was made: `audit verify --anchors` can prove later
    /// that the history behind these codes was not rewritten.
    log_seq: Option<i64>,
    log_hash: Option<String>,
}

const EXPORT_COLUMNS: [&str; 28] = [
    "item_id",
    "source_item_id",
    "part_no",
    "study",
    "subject",
    "reported_term",
    "state",
    "llt_code",
    "llt_name",
    "pt_code",
    "pt_name",
    "hlt_code",
    "hlt_name",
    "hlgt_code",
    "hlgt_name",
    "soc_code",
    "soc_name",
    "meddra_version",
    "proposer",
    "reviewer",
    "source",
    "llt_confidence",
    "pt_confidence",
    "imported_at",
    "proposed_at",
    "confirmed_at",
    "log_seq",
    "log_hash",
];

impl ExportRow {
    /// The CSV fields, in `EXPORT_COLUMNS` order (JSONL serialises the struct itself).
    fn fields(&self) -> [String; 28] {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let n = |v: Option<u32>| v.map(|c| c.to_string()).unwrap_or_default();
        let f = |v: Option<f64>| v.map(|c| format!("{c:.4}")).unwrap_or_default();
        [
            self.item_id.clone(),
            s(&self.source_item_id),
            n(self.part_no),
            self.study.clone(),
            self.subject.clone(),
            self.reported_term.clone(),
            self.state.clone(),
            n(self.llt_code),
            s(&self.llt_name),
            n(self.pt_code),
            s(&self.pt_name),
            n(self.hlt_code),
            s(&self.hlt_name),
            n(self.hlgt_code),
            s(&self.hlgt_name),
            n(self.soc_code),
            s(&self.soc_name),
            s(&self.meddra_version),
            s(&self.proposer),
            s(&self.reviewer),
            s(&self.source),
            f(self.llt_confidence),
            f(self.pt_confidence),
            self.imported_at.clone(),
            s(&self.proposed_at),
            s(&self.confirmed_at),
            self.log_seq.map(|q| q.to_string()).unwrap_or_default(),
            s(&self.log_hash),
        ]
    }
}

/// The model's confidence in an item's coded LLT and in its PT, from its stored proposals.
fn coded_confidence(it: &Item, set: Option<&ProposalSet>) -> (Option<f64>, Option<f64>) {
    let Some(set) = set.filter(|s| Some(s.meddra_version.as_str()) == it.meddra_version.as_deref()) else { return (None, None) };
    let llt = set.proposals.iter().find(|p| Some(p.llt_code) == it.llt_code).map(|p| p.confidence);
    let pt = set.proposals.iter().position(|p| Some(p.pt_code) == it.pt_code).and_then(|i| set.pt_confidence(i));
    (llt, pt)
}

fn export_row(it: &Item, dict: Option<&Dictionary>, head: Option<&Head>, set: Option<&ProposalSet>) -> ExportRow {
    let (llt_confidence, pt_confidence) = coded_confidence(it, set);
    let llt = it.llt_code.and_then(|c| dict.and_then(|d| d.llt(c)));
    let path = it.pt_code.and_then(|p| dict.and_then(|d| d.primary_path(p)));
    ExportRow {
        item_id: it.external_id.clone(),
        source_item_id: it.part_of.clone(),
        part_no: it.part_no,
        study: it.study.clone(),
        subject: it.subject.clone(),
        reported_term: it.reported_term.clone(),
        state: it.state.to_string(),
        llt_code: it.llt_code,
        llt_name: llt.map(|l| l.name.clone()),
        pt_code: it.pt_code,
        pt_name: path.as_ref().map(|p| p.pt.name.clone()),
        hlt_code: path.as_ref().map(|p| p.hlt.code),
        hlt_name: path.as_ref().map(|p| p.hlt.name.clone()),
        hlgt_code: path.as_ref().map(|p| p.hlgt.code),
        hlgt_name: path.as_ref().map(|p| p.hlgt.name.clone()),
        soc_code: path.as_ref().map(|p| p.soc.code),
        soc_name: path.as_ref().map(|p| p.soc.name.clone()),
        meddra_version: it.meddra_version.clone(),
        proposer: it.proposer.clone(),
        reviewer: it.reviewer.clone(),
        source: it.source.clone(),
        llt_confidence,
        pt_confidence,
        imported_at: it.imported_at.clone(),
        proposed_at: it.proposed_at.clone(),
        confirmed_at: it.confirmed_at.clone(),
        log_seq: head.map(|h| h.seq),
        log_hash: head.map(|h| h.hash.clone()),
    }
}

pub(super) fn output(out: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => Box::new(std::io::stdout().lock()),
    })
}

pub fn export(
    store: &mut dyn DeskStore,
    format: Format,
    out: Option<PathBuf>,
    study: Option<String>,
    from: Option<String>,
    to: Option<String>,
    state: String,
) -> Result<ExitCode> {
    let filter = ItemFilter { states: export_states(&state)?, study, text: None };
    let items = store.items(&filter)?;
    let mut sets = HashMap::new();
    for it in items.iter().filter(|i| i.llt_code.is_some()) {
        if let Some(set) = store.proposals(it.id)? {
            sets.insert(it.id, set);
        }
    }
    export_items(&items, &sets, store.log_head()?, &mut |v| store.dictionary(Some(v)).ok(), format, out, from, to)
}

/// A comma-separated list of states, or `all` (every state; an empty filter).
fn export_states(state: &str) -> Result<Vec<State>> {
    if state.trim().eq_ignore_ascii_case("all") {
        return Ok(vec![]);
    }
    state.split(',').map(State::parse).collect()
}

/// The export of either store: `items` as filtered there, the log head they are exported at, and
/// each MedDRA version's dictionary (codes are exported with the hierarchy they were coded in).
#[allow(clippy::too_many_arguments)]
fn export_items(
    items: &[Item],
    sets: &HashMap<i64, ProposalSet>,
    head: Option<Head>,
    dictionary: &mut dyn FnMut(&str) -> Option<Dictionary>,
    format: Format,
    out: Option<PathBuf>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    for d in [&from, &to].into_iter().flatten() {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            bail!("'{d}' is not a date: use YYYY-MM-DD");
        }
    }
    let mut dicts: HashMap<String, Option<Dictionary>> = HashMap::new();
    let mut rows = Vec::new();
    for it in items {
        let day = it.confirmed_at.as_deref().or(it.proposed_at.as_deref()).unwrap_or(&it.updated_at).get(..10).unwrap_or("").to_string();
        if from.as_ref().is_some_and(|f| day.as_str() < f.as_str()) || to.as_ref().is_some_and(|t| day.as_str() > t.as_str()) {
            continue;
        }
        let dict = match &it.meddra_version {
            Some(v) => dicts.entry(v.clone()).or_insert_with(|| dictionary(v)).as_ref(),
            None => None,
        };
        rows.push(export_row(it, dict, head.as_ref(), sets.get(&it.id)));
    }
    let mut w = output(out.as_deref())?;
    match format {
        Format::Csv => {
            let mut c = csv::Writer::from_writer(&mut w);
            c.write_record(EXPORT_COLUMNS)?;
            for r in &rows {
                crate::text::write_sheet_record(&mut c, r.fields())?;
            }
            c.flush()?;
        }
        Format::Jsonl | Format::Xpt | Format::Json | Format::Ndjson => {
            for r in &rows {
                writeln!(w, "{}", serde_json::to_string(r)?)?;
            }
        }
    }
    w.flush()?;
    if let Some(p) = out {
        eprintln!("Exported {} item(s) to {}", rows.len(), p.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_a_list_or_all() {
        assert_eq!(export_states("all").unwrap(), vec![]);
        assert_eq!(export_states(" ALL ").unwrap(), vec![]);
        assert_eq!(export_states("confirmed,proposed").unwrap(), vec![State::Confirmed, State::Proposed]);
        assert!(export_states("everything").is_err());
    }
}
