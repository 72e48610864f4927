//! Replay back-test: a labelled stream coded in its order as a team would have coded it. For each
//! row the desk proposes with what it has learned so far (the exact-name rule, the synonym list
//! and the coded-term memory; a trained model, if any, stays fixed), the proposals are recorded,
//! and the row is then learned as a confirmed decision. Nothing is written to any store.

use std::collections::HashMap;

use anyhow::Result;
use serde::Serialize;
use tch::Tensor;

use crate::backtest::{self, Accuracy, Case};
use crate::calibration::Basis;
use crate::engine::Engine;
use crate::intake::labelled::Labelled;
use crate::meddra::autocode::Rules;
use crate::store::proposals::{Proposal, Raw};
use crate::text::normalize;

/// What the desk may use while replaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Learning {
    /// The engine alone, learning nothing.
    ZeroShot,
    /// + the exact-name rule and the synonym list built from the stream so far.
    Synonyms,
    /// + the coded-term memory.
    Memory,
}

impl Learning {
    pub fn label(self) -> &'static str {
        match self {
            Learning::ZeroShot => "zero-shot",
            Learning::Synonyms => "+ synonyms",
            Learning::Memory => "+ memory",
        }
    }
}

/// One replayed row.
#[derive(Debug, Clone)]
struct Row {
    case: Case,
    basis: Option<Basis>,
    /// Coded by a rule (exact LLT name or synonym) rather than proposed by the engine.
    by_rule: bool,
    /// Its normalised term had not been seen earlier in the stream.
    first: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub learning: Learning,
    pub model_version: String,
    pub meddra_version: String,
    pub n: usize,
    pub skipped_unknown_llt: usize,
    pub overall: Accuracy,
    /// Accuracy on each tenth of the stream, in order: the learning curve.
    pub tenths: Vec<Accuracy>,
    /// Rows whose term had not appeared earlier in the stream.
    pub first_occurrences: Accuracy,
    pub brackets: Vec<backtest::Bracket>,
    /// Share of rows coded by a rule (exact name or synonym), and their accuracy.
    pub rule_share: f64,
    pub rule_accuracy: Accuracy,
    /// The top PT confidence above which 80% of the stream lies, and the accuracy there.
    pub confidence_at_80: f64,
    pub accuracy_at_80: Accuracy,
    /// Whether the confidences were calibrated row by row from the rows before.
    pub calibrated: bool,
    /// Expected calibration error and reliability of the confidences as proposed (each row's
    /// before it was learned).
    pub calibration: backtest::CalibrationReport,
    /// Expected calibration error per basis of the top proposal: (basis, rows, PT ECE).
    pub by_basis: Vec<(String, usize, f64)>,
    /// The validated threshold at 95% over the stream's last rows the model proposed for (not
    /// those a rule coded).
    pub validation: backtest::Validation,
}

/// Replays `data` in order. The stream's terms are embedded once, up front (the encoder is fixed
/// during a replay); the engine's memory starts empty and is left empty.
/// With `calibrate`, the confidences are calibrated from the rows already replayed (as a desk
/// calibrates from its store) and each row is learned after it is proposed; the engine's
/// calibration is left as it was.
pub fn replay(engine: &mut Engine, data: &[Labelled], learning: Learning, calibrate: bool, progress: bool) -> Result<ReplayReport> {
    let kept = std::mem::take(&mut engine.calibration);
    let r = replay_rows(engine, data, learning, calibrate, progress);
    engine.calibration = kept;
    r
}

fn replay_rows(engine: &mut Engine, data: &[Labelled], learning: Learning, calibrate: bool, progress: bool) -> Result<ReplayReport> {
    let dict = engine.dict.clone();
    let known: Vec<&Labelled> = data.iter().filter(|l| dict.llt(l.llt).is_some()).collect();
    let terms: Vec<String> = known.iter().map(|l| normalize(&l.term)).collect();
    let pb = progress.then(|| {
        let pb = indicatif::ProgressBar::new(known.len() as u64);
        pb.set_style(indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ETA {eta}").expect("template").progress_chars("=> "));
        pb.set_message(format!("replay ({})", learning.label()));
        pb
    });
    let raw: Vec<&str> = known.iter().map(|l| l.term.as_str()).collect();
    let emb: Option<Tensor> = if engine.trained.is_none() || learning == Learning::Memory { Some(engine.embed(&raw)?) } else { None };
    engine.forget();
    let rules = Rules::new(&dict);
    let mut synonyms: HashMap<&str, u32> = HashMap::new();
    let mut rows = Vec::with_capacity(known.len());
    for (i, l) in known.iter().enumerate() {
        let first = !synonyms.contains_key(terms[i].as_str()) && !terms[..i].contains(&terms[i]);
        let rule = match learning {
            Learning::ZeroShot => None,
            _ => rules.code(&l.term).map(|x| (x.code, Basis::Rule)).or_else(|| synonyms.get(terms[i].as_str()).map(|&c| (c, Basis::Synonym))),
        };
        let mut proposals = match (&emb, &engine.trained) {
            (Some(e), None) => engine.propose_embedded(&e.get(i as i64).unsqueeze(0))?.remove(0),
            _ => engine.propose(&[l.term.as_str()])?.remove(0),
        };
        let pt = |code: u32| dict.llt(code).map_or(0, |x| x.pt_code);
        let choices = proposals.choices;
        let mut ranked: Vec<Proposal> = proposals.proposals.drain(..).collect();
        let mut entropy = Some(proposals.entropy);
        if let Some((code, basis)) = rule {
            ranked.retain(|p| p.llt_code != code);
            let c = (engine.calibration.llt.apply(basis, 1.0), engine.calibration.pt.apply(basis, 1.0));
            let mut p = Proposal::plain(code, pt(code), 1.0, c.0);
            p.pt_confidence = Some(c.1.max(c.0));
            p.raw = Some(Raw { llt: 1.0, pt: 1.0, basis });
            ranked.insert(0, p);
            ranked.truncate(crate::engine::TOP);
            entropy = Some(0.0);
        }
        let case = Case::of_proposals(l.llt, pt(l.llt), &ranked, entropy);
        if let (true, Some(raw)) = (calibrate, case.raw) {
            engine.calibration.observe(raw.basis, raw.llt, case.llt_hit(), raw.pt, case.pt_hit());
        }
        rows.push(Row { basis: case.raw.map(|r| r.basis), case, by_rule: rule.is_some(), first });
        // Learn the row as a confirmed decision (the newest confirmation of a term wins).
        if learning != Learning::ZeroShot {
            synonyms.insert(terms[i].as_str(), l.llt);
        }
        if let (Learning::Memory, Some(e)) = (learning, &emb) {
            // As on a desk: a term the memory already knows is no evidence about the model.
            if first {
                engine.learn_record(&l.term, &e.get(i as i64), choices, l.llt);
            }
            engine.remember(&terms[i], l.llt, Some(format!("row {}", l.line)), &e.get(i as i64));
        }
        if let Some(pb) = &pb {
            pb.inc(1);
        }
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    engine.forget();
    Ok(summarise(rows, learning, calibrate, &engine.model_version, &dict.version, data.len() - known.len()))
}

fn summarise(rows: Vec<Row>, learning: Learning, calibrated: bool, model_version: &str, meddra_version: &str, skipped: usize) -> ReplayReport {
    let cases: Vec<Case> = rows.iter().map(|r| r.case.clone()).collect();
    let all = backtest::report(&cases);
    let n = cases.len();
    let tenths = (0..10).map(|k| backtest::accuracy(&cases[k * n / 10..(k + 1) * n / 10].iter().collect::<Vec<_>>())).collect();
    let pick = |f: &dyn Fn(&Row) -> bool| backtest::accuracy(&rows.iter().filter(|r| f(r)).map(|r| &r.case).collect::<Vec<_>>());
    let mut by_conf: Vec<&Case> = cases.iter().collect();
    by_conf.sort_by(|a, b| b.pt_confidence.total_cmp(&a.pt_confidence));
    let cover = ((n as f64) * 0.8).round() as usize;
    let confidence_at_80 = by_conf.get(cover.saturating_sub(1)).map_or(0.0, |c| c.pt_confidence);
    let by_basis = Basis::ALL
        .iter()
        .filter_map(|&b| {
            let pts: Vec<(f64, bool)> = rows.iter().filter(|r| r.basis == Some(b)).map(|r| (r.case.pt_confidence, r.case.pt_hit())).collect();
            (!pts.is_empty()).then(|| (b.name().to_string(), pts.len(), crate::calibration::ece(&pts)))
        })
        .collect();
    ReplayReport {
        calibrated,
        calibration: all.calibration,
        by_basis,
        // Model-first coding codes only what no rule did: the threshold is the model's own.
        validation: backtest::validate(&rows.iter().filter(|r| !r.by_rule).map(|r| r.case.clone()).collect::<Vec<_>>(), crate::calibration::DEFAULT_TARGET),
        learning,
        model_version: model_version.into(),
        meddra_version: meddra_version.into(),
        n,
        skipped_unknown_llt: skipped,
        overall: all.overall,
        tenths,
        first_occurrences: pick(&|r| r.first),
        brackets: all.brackets,
        rule_share: if n == 0 { 0.0 } else { rows.iter().filter(|r| r.by_rule).count() as f64 / n as f64 },
        rule_accuracy: pick(&|r| r.by_rule),
        confidence_at_80,
        accuracy_at_80: backtest::accuracy(&by_conf[..cover]),
    }
}

/// The replay as text, in the style of `eval`.
pub fn render(reports: &[ReplayReport]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let Some(first) = reports.first() else { return s };
    let pct = |x: f64| format!("{:5.1}", 100.0 * x);
    let _ = writeln!(
        s,
        "replay: model {}  MedDRA {}  {} labelled terms in stream order ({} with an LLT not in this dictionary skipped)",
        first.model_version, first.meddra_version, first.n, first.skipped_unknown_llt
    );
    let _ = writeln!(s, "  {:<28} {:>6} {:>7} {:>7} {:>7} {:>7}", "subset", "terms", "LLT@1", "PT@1", "LLT@5", "PT@5");
    let row = |s: &mut String, name: &str, a: &Accuracy| {
        let _ = writeln!(s, "  {:<28} {:>6} {:>7} {:>7} {:>7} {:>7}", name, a.n, pct(a.llt_at_1), pct(a.pt_at_1), pct(a.llt_at_5), pct(a.pt_at_5));
    };
    for r in reports {
        if reports.len() > 1 {
            let _ = writeln!(s, "{}", r.learning.label());
        }
        for b in &r.brackets {
            row(&mut s, &b.name, &b.accuracy);
        }
        row(&mut s, "first occurrences", &r.first_occurrences);
        row(&mut s, &format!("coded by a rule ({}%)", pct(r.rule_share).trim()), &r.rule_accuracy);
        row(&mut s, &format!("PT confidence >= {:.2} (80%)", r.confidence_at_80), &r.accuracy_at_80);
        let by_basis: Vec<String> = r.by_basis.iter().map(|(b, n, e)| format!("{b} {e:.3} ({n})")).collect();
        let _ = writeln!(
            s,
            "  calibration error (ECE){}: PT {:.3}  LLT {:.3}; PT by basis: {}",
            if r.calibrated { ", learned row by row" } else { ", uncalibrated" },
            r.calibration.pt_ece,
            r.calibration.llt_ece,
            by_basis.join(", ")
        );
        let _ = writeln!(s, "  {}", r.validation.summary());
        let curve: Vec<String> = r.tenths.iter().map(|a| pct(a.pt_at_1).trim().to_string()).collect();
        let _ = writeln!(s, "  PT@1 per tenth of the stream: {}", curve.join(" "));
    }
    s
}

/// The learning curve (PT@1 and LLT@1 per tenth of the stream) of each report, as SVG: one
/// colour per way of learning, PT@1 solid and LLT@1 dashed.
pub fn render_svg(reports: &[ReplayReport], title: &str) -> Result<String> {
    use crate::charts::{Series, Xy};
    let labels: Vec<String> = (1..=10).map(|k| k.to_string()).collect();
    let mut series = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let colour = [crate::charts::GREY, 0, crate::charts::RED][i % 3];
        for (dashed, name) in [(false, "PT@1"), (true, "LLT@1")] {
            series.push(Series {
                name: format!("{} {name}", r.learning.label()),
                points: r.tenths.iter().enumerate().map(|(k, a)| (k as f64, if dashed { a.llt_at_1 } else { a.pt_at_1 })).collect(),
                colour,
                dashed,
                dots: false,
            });
        }
    }
    crate::charts::xy(&Xy { title, x: "tenth of the stream", y: "accuracy", x_labels: Some(&labels), diagonal: false, band: vec![] }, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(llt: u32, top: u32, conf: f64) -> Row {
        Row { case: Case::evaluated(llt, llt * 10, vec![(top, top * 10, conf)], Some(1.0 - conf)), basis: None, by_rule: conf == 1.0, first: true }
    }

    #[test]
    fn tenths_rule_share_and_the_80_percent_confidence_by_hand() {
        // 10 rows: rows 0-4 wrong with low confidence, 5-9 right with high; the last two by rule.
        let mut rows: Vec<Row> = (0..10).map(|i| if i < 5 { case(1, 2, 0.1 + i as f64 / 100.0) } else { case(1, 1, 0.9) }).collect();
        rows[8] = case(1, 1, 1.0);
        rows[9] = case(1, 1, 1.0);
        rows[9].first = false;
        let r = summarise(rows, Learning::Memory, false, "m", "v", 3);
        assert_eq!((r.n, r.skipped_unknown_llt), (10, 3));
        assert_eq!(r.tenths.iter().map(|a| a.llt_at_1).collect::<Vec<_>>(), [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(r.overall.llt_at_1, 0.5);
        assert_eq!((r.rule_share, r.rule_accuracy.n, r.rule_accuracy.llt_at_1), (0.2, 2, 1.0));
        assert_eq!((r.first_occurrences.n, r.first_occurrences.llt_at_1), (9, 4.0 / 9.0));
        // The 8 most confident: 5 right, then 0.14, 0.13, 0.12 wrong: 80% coverage at 0.12.
        assert!((r.confidence_at_80 - 0.12).abs() < 1e-12, "{}", r.confidence_at_80);
        assert_eq!((r.accuracy_at_80.n, r.accuracy_at_80.llt_at_1), (8, 5.0 / 8.0));
    }
}
