//! Read-only views over the queue and the log: back-test cases, training pairs, recode candidates.

use std::collections::HashMap;

use anyhow::Result;

use super::item::{item_from_row, Item, ItemFilter, State, ITEM_COLUMNS};
use super::proposals::Proposal;
use super::Store;
use crate::backtest::Case;
use crate::meddra::Dictionary;

/// A confirmed (reported term, LLT) pair for training.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrainingPair {
    pub reported_term: String,
    pub llt_code: u32,
    pub meddra_version: String,
    pub confirmed_at: String,
}

/// Why a confirmed code needs recoding in the active version.
#[derive(Debug, Clone, PartialEq)]
pub struct RecodeCandidate {
    pub item: Item,
    pub reason: String,
}

impl Store {
    /// Confirmed items with the model's proposals as they stood when the code was confirmed.
    pub fn backtest_cases(&self, model_version: Option<&str>) -> Result<Vec<Case>> {
        backtest_cases_in(&self.conn, model_version)
    }

    /// Newest confirmed decision per normalised reported term.
    pub fn training_pairs(&self) -> Result<Vec<TrainingPair>> {
        let mut st = self.conn.prepare(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE state = 'confirmed' ORDER BY confirmed_at, id"))?;
        let items = st.query_map([], item_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(training_pairs(items))
    }

    /// Confirmed codes from another MedDRA version whose LLT is gone or non-current, or whose PT
    /// changed, in the given (active) dictionary.
    pub fn recode_candidates(&self, dict: &Dictionary) -> Result<Vec<RecodeCandidate>> {
        Ok(recode_candidates(self.items(&ItemFilter { states: vec![State::Confirmed], ..Default::default() })?, dict))
    }
}

/// The newest confirmed decision per normalised reported term, from confirmed items (of either
/// store) in order of confirmation.
pub fn training_pairs(items: Vec<Item>) -> Vec<TrainingPair> {
    let mut newest: HashMap<String, TrainingPair> = HashMap::new();
    for it in items {
        let key = crate::text::normalize(&it.reported_term);
        if key.is_empty() {
            continue;
        }
        let (Some(llt), Some(at)) = (it.llt_code, it.confirmed_at.clone()) else { continue };
        newest.insert(key.clone(), TrainingPair { reported_term: key, llt_code: llt, meddra_version: it.meddra_version.unwrap_or_default(), confirmed_at: at });
    }
    let mut out: Vec<TrainingPair> = newest.into_values().collect();
    out.sort_by(|a, b| a.reported_term.cmp(&b.reported_term));
    out
}

/// The confirmed items (of either store) whose code the active version no longer takes as it was:
/// the LLT is gone or non-current, or it moved to another PT.
pub fn recode_candidates(items: Vec<Item>, dict: &Dictionary) -> Vec<RecodeCandidate> {
    let mut out = Vec::new();
    for it in items {
        if it.meddra_version.as_deref() == Some(dict.version.as_str()) {
            continue;
        }
        let Some(code) = it.llt_code else { continue };
        let reason = match dict.llt(code) {
            None => Some(format!("LLT {code} does not exist in MedDRA {}", dict.version)),
            Some(l) if !l.current => Some(format!("LLT {code} '{}' is non-current in MedDRA {}", l.name, dict.version)),
            Some(l) if Some(l.pt_code) != it.pt_code => Some(format!(
                "LLT {code} '{}' moved from PT {} to PT {} '{}'",
                l.name,
                it.pt_code.map(|p| p.to_string()).unwrap_or_default(),
                l.pt_code,
                dict.pt(l.pt_code).map(|p| p.name.as_str()).unwrap_or("?")
            )),
            Some(_) => None,
        };
        if let Some(reason) = reason {
            out.push(RecodeCandidate { item: it, reason });
        }
    }
    out
}

/// The back-test cases of a connection (a transaction's too: model-first coding validates its
/// threshold inside the transaction that stores the proposals).
pub(crate) fn backtest_cases_in(conn: &rusqlite::Connection, model_version: Option<&str>) -> Result<Vec<Case>> {
    // The newest confirm row of each still-confirmed item that carries proposals.
    let mut st = conn.prepare(
        "SELECT l.llt_code, l.pt_code, l.proposals, l.entropy, l.model_version, i.source, i.study, l.at FROM decision_log l
         JOIN item i ON i.id = l.item_id AND i.state = 'confirmed'
         WHERE l.seq = (SELECT max(seq) FROM decision_log WHERE item_id = l.item_id AND action = 'confirm')
           AND l.proposals IS NOT NULL ORDER BY l.seq",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            (r.get::<_, u32>(0)?, r.get::<_, Option<u32>>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<f64>>(3)?, r.get::<_, Option<String>>(4)?),
            (r.get::<_, Option<String>>(5)?, r.get::<_, String>(6)?, r.get::<_, String>(7)?),
        ))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let ((llt, pt, json, entropy, model), (source, study, at)) = r?;
        if model_version.is_some_and(|m| Some(m) != model.as_deref()) {
            continue;
        }
        let props: Vec<Proposal> = serde_json::from_str(&json)?;
        out.push(crate::backtest::confirmed_case(llt, pt.unwrap_or(0), &props, entropy, source.as_deref(), study, &at, model));
    }
    Ok(out)
}
