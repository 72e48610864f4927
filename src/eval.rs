//! Evaluating the engine on a labelled file of (reported term, LLT code) pairs: the back-test
//! figures overall and on the terms not seen in training, plus candidate recall.

use std::collections::HashSet;

use anyhow::Result;
use serde::Serialize;

use crate::backtest::{self, Case};
use crate::engine::Engine;
use crate::intake::labelled::Labelled;
use crate::text::normalize;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model_version: String,
    pub meddra_version: String,
    pub n: usize,
    pub skipped_unknown_llt: usize,
    pub all: backtest::Report,
    pub unseen: Option<(usize, backtest::Accuracy)>,
    pub dense_candidate_recall: f64,
    pub ensemble_candidate_recall: Option<f64>,
    /// With a trained model's gated proposals: the terms by how much the model counted.
    pub by_gate: Vec<GateBucket>,
}

/// Terms by the trained model's weight (its gate), with the dense index's top-1 on the same terms:
/// where the weight is 0 the proposals are the dense index's by construction.
#[derive(Debug, Clone, Serialize)]
pub struct GateBucket {
    pub name: String,
    pub accuracy: backtest::Accuracy,
    pub dense_llt_at_1: f64,
    pub dense_pt_at_1: f64,
}

fn by_gate(cases: &[Case], gates: &[(Option<f64>, Option<u32>)], pt_of: &dyn Fn(u32) -> u32) -> Vec<GateBucket> {
    if gates.iter().all(|(g, _)| g.is_none()) {
        return vec![];
    }
    let buckets: [(&str, &dyn Fn(f64) -> bool); 3] =
        [("model weight 0", &|g| g <= 0.0), ("model weight 1-99%", &|g| g > 0.0 && g < 1.0), ("model weight 100%", &|g| g >= 1.0)];
    buckets
        .iter()
        .map(|(name, within)| {
            let rows: Vec<usize> = (0..cases.len()).filter(|&i| gates[i].0.is_some_and(within)).collect();
            let n = rows.len().max(1) as f64;
            let dense = |i: &usize| gates[*i].1;
            GateBucket {
                name: name.to_string(),
                accuracy: backtest::accuracy(&rows.iter().map(|&i| &cases[i]).collect::<Vec<_>>()),
                dense_llt_at_1: rows.iter().filter(|i| dense(i) == Some(cases[**i].llt)).count() as f64 / n,
                dense_pt_at_1: rows.iter().filter(|i| dense(i).map(pt_of) == Some(cases[**i].pt)).count() as f64 / n,
            }
        })
        .collect()
}

pub fn evaluate(engine: &Engine, data: &[Labelled], seen: Option<&HashSet<String>>, progress: bool) -> Result<EvalReport> {
    evaluate_with(engine, data, seen, None, progress)
}

/// As `evaluate`, optionally with another fusion (one component alone).
pub fn evaluate_with(
    engine: &Engine,
    data: &[Labelled],
    seen: Option<&HashSet<String>>,
    fusion: Option<crate::model::registry::Fusion>,
    progress: bool,
) -> Result<EvalReport> {
    let dict = &engine.dict;
    let known: Vec<&Labelled> = data.iter().filter(|l| dict.llt(l.llt).is_some()).collect();
    let pb = if progress { Some(indicatif::ProgressBar::new(known.len() as u64)) } else { None };
    let mut cases = Vec::with_capacity(known.len());
    let mut recall = 0usize;
    let mut ens_recall = 0usize;
    let mut gates = Vec::with_capacity(known.len());
    for chunk in known.chunks(256) {
        let terms: Vec<&str> = chunk.iter().map(|l| l.term.as_str()).collect();
        let props = engine.propose_with(&terms, fusion)?;
        for (l, p) in chunk.iter().zip(props) {
            recall += usize::from(p.dense_candidates.contains(&l.llt));
            ens_recall += usize::from(p.ensemble_candidates.contains(&l.llt));
            gates.push((p.gate, p.choices.map(|c| c.1)));
            cases.push(Case::evaluated(
                l.llt,
                dict.llt(l.llt).map(|x| x.pt_code).unwrap_or(0),
                p.proposals.iter().map(|s| (s.llt_code, s.pt_code, s.confidence)).collect(),
                Some(p.entropy),
            ));
        }
        if let Some(pb) = &pb {
            pb.inc(chunk.len() as u64);
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let unseen = seen.map(|s| {
        let u: Vec<&Case> = known.iter().zip(&cases).filter(|(l, _)| !s.contains(&normalize(&l.term))).map(|(_, c)| c).collect();
        (u.len(), backtest::accuracy(&u))
    });
    let by_gate = by_gate(&cases, &gates, &|code| dict.llt(code).map_or(0, |x| x.pt_code));
    Ok(EvalReport {
        by_gate,
        model_version: engine.model_version.clone(),
        meddra_version: dict.version.clone(),
        n: cases.len(),
        skipped_unknown_llt: data.len() - known.len(),
        all: backtest::report(&cases),
        unseen,
        dense_candidate_recall: if cases.is_empty() { 0.0 } else { recall as f64 / cases.len() as f64 },
        ensemble_candidate_recall: (engine.trained.is_some() && !cases.is_empty()).then(|| ens_recall as f64 / cases.len() as f64),
    })
}

pub fn render(r: &EvalReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let pct = |x: f64| format!("{:5.1}", 100.0 * x);
    let _ = writeln!(
        s,
        "model {}  MedDRA {}  {} labelled terms ({} with an LLT not in this dictionary skipped)",
        r.model_version, r.meddra_version, r.n, r.skipped_unknown_llt
    );
    let _ = writeln!(s, "  {:<20} {:>6} {:>7} {:>7} {:>7} {:>7}", "subset", "terms", "LLT@1", "PT@1", "LLT@5", "PT@5");
    let row = |s: &mut String, name: &str, a: &backtest::Accuracy| {
        let _ = writeln!(s, "  {:<20} {:>6} {:>7} {:>7} {:>7} {:>7}", name, a.n, pct(a.llt_at_1), pct(a.pt_at_1), pct(a.llt_at_5), pct(a.pt_at_5));
    };
    for b in &r.all.brackets {
        row(&mut s, &b.name, &b.accuracy);
    }
    if let Some((_, a)) = &r.unseen {
        row(&mut s, "unseen in training", a);
    }
    for b in &r.by_gate {
        let _ = writeln!(
            s,
            "  {:<20} {:>6} {:>7} {:>7} {:>7} {:>7}   dense index: {} / {}",
            b.name,
            b.accuracy.n,
            pct(b.accuracy.llt_at_1),
            pct(b.accuracy.pt_at_1),
            pct(b.accuracy.llt_at_5),
            pct(b.accuracy.pt_at_5),
            pct(b.dense_llt_at_1).trim(),
            pct(b.dense_pt_at_1).trim()
        );
    }
    let c = &r.all.calibration;
    if let Some(&(coverage, llt, pt)) = r.all.curve.get((((r.n as f64) * 0.8).round() as usize).saturating_sub(1)) {
        let _ = writeln!(s, "  most confident {:.0}% by PT confidence: LLT@1 {} PT@1 {}", 100.0 * coverage, pct(llt).trim(), pct(pt).trim());
    }
    let _ = writeln!(s, "  calibration error (ECE, as the model gives them): PT {:.3}  LLT {:.3}", c.pt_ece, c.llt_ece);
    let _ = writeln!(s, "  {}", r.all.validation.summary());
    let _ = writeln!(
        s,
        "  candidate recall (top-10): dense {}%{}",
        pct(r.dense_candidate_recall),
        r.ensemble_candidate_recall.map(|e| format!(", ensemble {}%", pct(e))).unwrap_or_default()
    );
    s
}
