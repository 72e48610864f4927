//! The engine's latest top-5 per queue item: written in batches by the worker and `propose`,
//! read for the desk, the queue list and the decision log.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::item::{item_from_row, Item, ITEM_COLUMNS};
use super::Store;

/// One of the engine's ranked proposals for an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub llt_code: u32,
    pub pt_code: u32,
    /// The engine's raw ranking score.
    pub score: f64,
    /// Calibrated probability that this LLT is right, in [0, 1].
    pub confidence: f64,
    /// Why the coded-term memory put it here: the confirmed term it resembles ("like 'head ache
    /// severe', AE-0112"); None when the LLT's own name scored best.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// Calibrated probability that this LLT's PT is right (the LLTs of one PT share it): the sum
    /// over the PT's candidate LLTs. None in proposals stored before PT confidence existed
    /// (`ProposalSet::pt_confidence` then sums the stored ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pt_confidence: Option<f64>,
    /// The confidences before calibration and where they came from: what the calibration learns
    /// from when the decision is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Raw>,
}

/// A proposal's uncalibrated LLT and PT confidence and their basis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Raw {
    pub llt: f64,
    pub pt: f64,
    pub basis: crate::calibration::Basis,
}

impl Proposal {
    /// A proposal with nothing but its code and figures (tests, benches).
    pub fn plain(llt_code: u32, pt_code: u32, score: f64, confidence: f64) -> Proposal {
        Proposal { llt_code, pt_code, score, confidence, evidence: None, pt_confidence: None, raw: None }
    }

    pub fn with_evidence(mut self, evidence: Option<String>) -> Proposal {
        self.evidence = evidence;
        self
    }
}

/// The PT confidence of `proposals[i]`: as computed with it, or for older proposals the sum of
/// the stored confidences of its PT's LLTs (at most one, so a sum over the top five).
pub fn pt_confidence_in(proposals: &[Proposal], i: usize) -> Option<f64> {
    let p = proposals.get(i)?;
    Some(p.pt_confidence.unwrap_or_else(|| proposals.iter().filter(|q| q.pt_code == p.pt_code).map(|q| q.confidence).sum::<f64>().min(1.0)))
}

/// Share of a PT's confidence below which the choice of LLT within the PT is flagged uncertain.
pub const UNCERTAIN_LLT_SHARE: f64 = 0.5;

/// The engine's proposals for an item, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalSet {
    pub model_version: String,
    pub meddra_version: String,
    pub entropy: Option<f64>,
    pub proposals: Vec<Proposal>,
    pub computed_at: String,
}

/// The first of an item's stored proposals: (LLT code, confidence), with the set's entropy and
/// its PT confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopProposal {
    pub top: Option<(u32, f64)>,
    pub entropy: Option<f64>,
    /// The top proposal's PT confidence, as computed with it (None for proposals stored before
    /// PT confidence: they are judged as before, by LLT confidence and entropy).
    pub pt: Option<f64>,
}

impl ProposalSet {
    /// Every figure finite and each confidence a probability: a broken model's output is refused
    /// whole, on either store, before anything is stored.
    pub fn check(&self, item_id: i64) -> Result<()> {
        let id = crate::text::printable(&self.model_version);
        if let Some(e) = self.entropy.filter(|e| !e.is_finite()) {
            anyhow::bail!("model {id} produced a non-finite entropy ({e}) for item {item_id}: nothing was stored; check or retrain the model");
        }
        for p in &self.proposals {
            let probability = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
            let raw_ok = p.raw.is_none_or(|r| probability(r.llt) && probability(r.pt));
            if !p.score.is_finite() || !probability(p.confidence) || !p.pt_confidence.is_none_or(probability) || !raw_ok {
                anyhow::bail!(
                    "model {id} produced score {} and confidence {} for LLT {} of item {item_id}: nothing was stored; check or retrain the model",
                    p.score,
                    p.confidence,
                    p.llt_code
                );
            }
        }
        Ok(())
    }

    pub fn top(&self) -> TopProposal {
        TopProposal {
            top: self.proposals.first().map(|p| (p.llt_code, p.confidence)),
            entropy: self.entropy,
            pt: self.proposals.first().and_then(|p| p.pt_confidence),
        }
    }

    /// The PT confidence of the `i`th proposal.
    pub fn pt_confidence(&self, i: usize) -> Option<f64> {
        pt_confidence_in(&self.proposals, i)
    }
}

/// An item's stored proposals: the one place that reads the table, for the store and for a
/// workflow transaction alike.
pub(crate) fn read(conn: &Connection, item_id: i64) -> Result<Option<ProposalSet>> {
    let mut st = conn.prepare_cached("SELECT model_version, meddra_version, entropy, proposals, computed_at FROM item_proposals WHERE item_id = ?1")?;
    let row: Option<(String, String, Option<f64>, String, String)> =
        st.query_row([item_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))).optional()?;
    row.map(|(model_version, meddra_version, entropy, json, computed_at)| {
        Ok(ProposalSet { model_version, meddra_version, entropy, proposals: serde_json::from_str(&json)?, computed_at })
    })
    .transpose()
}

impl Store {
    /// Stores the engine's latest proposals for several items (replacing older ones) in one
    /// transaction: one commit per batch, not per item, so `propose` over a large queue is not
    /// bound by disk syncs. The top proposal is kept in its own columns for the queue list.
    pub fn set_proposals(&mut self, sets: &[(i64, ProposalSet)]) -> Result<()> {
        for (item_id, set) in sets {
            set.check(*item_id)?;
        }
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO item_proposals(item_id, model_version, meddra_version, entropy, proposals, computed_at, top_llt, top_confidence, top_pt_confidence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(item_id) DO UPDATE SET model_version = excluded.model_version, meddra_version = excluded.meddra_version, entropy = excluded.entropy,
                   proposals = excluded.proposals, computed_at = excluded.computed_at, top_llt = excluded.top_llt, top_confidence = excluded.top_confidence,
                   top_pt_confidence = excluded.top_pt_confidence",
            )?;
            for (item_id, set) in sets {
                let top = set.top().top;
                st.execute(params![
                    item_id,
                    set.model_version,
                    set.meddra_version,
                    set.entropy,
                    serde_json::to_string(&set.proposals)?,
                    set.computed_at,
                    top.map(|t| t.0),
                    top.map(|t| t.1),
                    set.proposals.first().and_then(|p| p.pt_confidence)
                ])?;
            }
        }
        super::model_first::code(&tx, sets, self.runner.as_deref())?;
        tx.commit()?;
        Ok(())
    }

    pub fn proposals(&self, item_id: i64) -> Result<Option<ProposalSet>> {
        read(&self.conn, item_id)
    }

    /// Open items without proposals from this model and dictionary version (all open items when
    /// `all`): the work of `medcoder propose` and of the desk's background worker.
    pub fn items_needing_proposals(&self, model_version: &str, meddra_version: &str, all: bool) -> Result<Vec<Item>> {
        let cols = ITEM_COLUMNS.split(", ").map(|c| format!("i.{c}")).collect::<Vec<_>>().join(", ");
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {cols} FROM item i LEFT JOIN item_proposals p ON p.item_id = i.id
             WHERE i.state IN ('new', 'proposed', 'returned', 'query', 'answered')
               AND (?3 OR p.item_id IS NULL OR p.model_version != ?1 OR p.meddra_version != ?2)
             ORDER BY i.id"
        ))?;
        let rows = st.query_map(params![model_version, meddra_version, all], item_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod checks {
    use super::*;

    #[test]
    fn a_broken_models_figures_are_refused_whole() {
        let p = |confidence: f64, score: f64| Proposal { llt_code: 1, pt_code: 2, score, confidence, evidence: None, pt_confidence: None, raw: None };
        let set = |proposals: Vec<Proposal>, entropy: Option<f64>| ProposalSet {
            model_version: "m\u{1b}".into(),
            meddra_version: "v".into(),
            entropy,
            proposals,
            computed_at: "now".into(),
        };
        assert!(set(vec![p(0.5, 1.0)], Some(0.3)).check(7).is_ok());
        for bad in
            [set(vec![p(f64::NAN, 1.0)], None), set(vec![p(0.5, f64::INFINITY)], None), set(vec![p(1.5, 1.0)], None), set(vec![p(0.5, 1.0)], Some(f64::NAN))]
        {
            let err = bad.check(7).unwrap_err().to_string();
            assert!(err.contains("item 7") && err.contains("nothing was stored") && !err.contains('\u{1b}'), "{err}");
        }
        let mut s = Store::in_memory().unwrap();
        assert!(s.set_proposals(&[(1, set(vec![p(f64::NAN, 0.0)], None))]).is_err());
    }
}
