//! Back-testing the model against what coders finally confirmed: top-1 and top-5 accuracy,
//! accuracy and coverage at confidence thresholds, and accuracy by uncertainty bracket, the
//! figures of the XTARS paper's deployment table.

use serde::Serialize;

use crate::calibration::{ece, recent_bound, reliability, validated_threshold, wilson_lower, wilson_upper, ReliabilityBin, Validated, VALIDATION_WINDOW};
use crate::store::proposals::{pt_confidence_in, Proposal, Raw};

/// How a confirmed code was found: the model is only measured where it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// The exact-LLT-name rule: the model is trivially right there, and not counted.
    Rule,
    /// The synonym list: not counted either.
    Synonym,
    /// The model proposed the code itself (model-first) and a reviewer confirmed it.
    ModelFirst,
    /// The coder accepted the model's first proposal.
    ModelTop1,
    /// The coder took the model's second to fifth proposal.
    ModelTop2To5,
    /// Found by search, the browser or typed: the model's proposals were passed over.
    Person,
    /// A labelled file's row (`eval`, replays): every row asks the model.
    Evaluated,
}

impl Route {
    /// The route of a confirmed item: its code's source, and where the LLT ranked among the
    /// proposals stored with the confirmation.
    pub fn of(source: Option<&str>, llt: u32, proposals: &[(u32, u32, f64)]) -> Route {
        match source {
            Some("rule") => Route::Rule,
            Some("synonym") => Route::Synonym,
            Some(crate::store::model_first::SOURCE) => match proposals.first() {
                Some(p) if p.0 == llt => Route::ModelFirst,
                _ => Route::Person,
            },
            Some("model") => match proposals.iter().position(|p| p.0 == llt) {
                Some(0) => Route::ModelTop1,
                Some(_) => Route::ModelTop2To5,
                None => Route::Person,
            },
            _ => Route::Person,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Route::Rule => "exact-name rule",
            Route::Synonym => "synonym list",
            Route::ModelFirst => "model-first, reviewed",
            Route::ModelTop1 => "model, top-1 accepted",
            Route::ModelTop2To5 => "model, top-2..5 taken",
            Route::Person => "search/browse/manual",
            Route::Evaluated => "labelled rows",
        }
    }

    /// Whether the model was asked: a rule or a synonym decided before it was.
    pub fn model_asked(self) -> bool {
        !matches!(self, Route::Rule | Route::Synonym)
    }
}

/// One confirmed item with what the model had proposed for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub llt: u32,
    pub pt: u32,
    /// (llt, pt, confidence), best first.
    pub proposals: Vec<(u32, u32, f64)>,
    /// The top proposal's PT confidence (0 without proposals).
    pub pt_confidence: f64,
    /// The top proposal's uncalibrated confidences and their basis, where stored.
    pub raw: Option<Raw>,
    /// Predictive entropy; lower is more certain. Falls back to 1 - top confidence when absent.
    pub entropy: Option<f64>,
    pub route: Route,
    /// The item's study and the month (YYYY-MM) it was confirmed in, where known.
    pub study: Option<String>,
    pub month: Option<String>,
    /// When it was confirmed (ISO time), where known: the validation window is the newest ones.
    pub at: Option<String>,
    /// The model whose proposals the decision was taken with, where known.
    pub model: Option<String>,
}

/// A confirmed item of either store as a case: its code, the proposals stored with the
/// confirmation, the code's source, its study and when (`at`, ISO time) it was confirmed.
#[allow(clippy::too_many_arguments)]
pub fn confirmed_case(
    llt: u32,
    pt: u32,
    proposals: &[Proposal],
    entropy: Option<f64>,
    source: Option<&str>,
    study: String,
    at: &str,
    model: Option<String>,
) -> Case {
    let mut c = Case::of_proposals(llt, pt, proposals, entropy);
    c.model = model;
    c.route = Route::of(source, llt, &c.proposals);
    c.study = Some(study);
    c.month = at.get(..7).map(String::from);
    c.at = Some(at.to_string());
    c
}

impl Case {
    /// A labelled row: the model asked, no study or month; the PT confidence summed from the
    /// proposals given.
    pub fn evaluated(llt: u32, pt: u32, proposals: Vec<(u32, u32, f64)>, entropy: Option<f64>) -> Case {
        let pt_confidence = proposals.first().map_or(0.0, |top| proposals.iter().filter(|p| p.1 == top.1).map(|p| p.2).sum::<f64>().min(1.0));
        Case { llt, pt, proposals, pt_confidence, raw: None, entropy, route: Route::Evaluated, study: None, month: None, at: None, model: None }
    }

    /// A labelled row from the engine's proposals, with their PT confidence and raw figures.
    pub fn of_proposals(llt: u32, pt: u32, proposals: &[Proposal], entropy: Option<f64>) -> Case {
        let mut c = Case::evaluated(llt, pt, proposals.iter().map(|p| (p.llt_code, p.pt_code, p.confidence)).collect(), entropy);
        c.pt_confidence = pt_confidence_in(proposals, 0).unwrap_or(0.0);
        c.raw = proposals.first().and_then(|p| p.raw);
        c
    }

    fn top(&self) -> Option<&(u32, u32, f64)> {
        self.proposals.first()
    }
    pub fn llt_hit(&self) -> bool {
        self.top().is_some_and(|p| p.0 == self.llt)
    }
    pub fn pt_hit(&self) -> bool {
        self.top().is_some_and(|p| p.1 == self.pt)
    }
    pub fn confidence(&self) -> f64 {
        self.top().map_or(0.0, |p| p.2)
    }
    fn uncertainty(&self) -> f64 {
        self.entropy.unwrap_or(1.0 - self.confidence())
    }
}

/// (PT score, PT right) of the cases where the model was asked, in their order: the top
/// proposal's PT confidence on the model's own scale, before calibration (as stored where it has
/// no raw figure), so that a calibration learned later does not move the threshold.
pub fn pt_points(cases: &[Case]) -> Vec<(f64, bool)> {
    cases.iter().filter(|c| c.route.model_asked()).map(|c| (c.raw.map_or(c.pt_confidence, |r| r.pt), c.pt_hit())).collect()
}

/// The newest `VALIDATION_WINDOW` cases where the model was asked, oldest first: those with a
/// confirmation time in time order (a store's), else as given (a labelled file's rows).
pub fn window(cases: &[Case]) -> Vec<Case> {
    let mut asked: Vec<Case> = cases.iter().filter(|c| c.route.model_asked()).cloned().collect();
    asked.sort_by(|a, b| a.at.cmp(&b.at));
    let from = asked.len().saturating_sub(VALIDATION_WINDOW);
    asked.split_off(from)
}

/// The validated threshold of a team's cases at `target`: over the newest decisions (`window`),
/// with what the newest above it say (drift).
pub fn validate(cases: &[Case], target: f64) -> Validation {
    let recent = window(cases);
    let points = pt_points(&recent);
    let threshold = validated_threshold(&points, target);
    let drift = threshold.map(|t| recent_bound(&points, t.threshold));
    Validation { target, over: points.len(), threshold, drift, model: None }
}

/// The model of the newest decision among `cases`: the one a team's figures are shown for.
pub fn newest_model(cases: &[Case]) -> Option<String> {
    cases.iter().filter(|c| c.model.is_some()).max_by(|a, b| a.at.cmp(&b.at)).and_then(|c| c.model.clone())
}

/// The validated threshold and its drift check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    pub target: f64,
    /// Decisions it was validated on (the newest, at most `VALIDATION_WINDOW`).
    pub over: usize,
    pub threshold: Option<Validated>,
    /// (n, right, lower bound) of the newest `DRIFT_WINDOW` decisions above the threshold.
    pub drift: Option<(usize, usize, f64)>,
    /// The model whose decisions these are (None: every model's).
    pub model: Option<String>,
}

impl Validation {
    pub fn for_model(mut self, model: Option<&str>) -> Validation {
        self.model = model.map(String::from);
        self
    }

    /// Whether the newest decisions above the threshold fell below the target.
    pub fn drifting(&self) -> bool {
        self.drift.is_some_and(|(_, _, lower)| lower < self.target)
    }

    /// One line for a header or `doctor`.
    pub fn summary(&self) -> String {
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        match (&self.threshold, self.drift) {
            (None, _) => format!(
                "no validated threshold{}: PT@1 does not reach a one-sided 95% lower bound of {} on any part of the {} newest decisions the model proposed for",
                self.model.as_deref().map(|m| format!(" for {m}")).unwrap_or_default(),
                pct(self.target),
                self.over
            ),
            (Some(t), drift) => {
                let mut s = format!(
                    "validated threshold{}: PT score >= {:.3} (before calibration): {}/{} right, lower bound {} >= target {}, coverage {}",
                    self.model.as_deref().map(|m| format!(" for {m}")).unwrap_or_default(),
                    t.threshold,
                    t.right,
                    t.n,
                    pct(t.lower),
                    pct(self.target),
                    pct(t.coverage)
                );
                if let (true, Some((n, right, lower))) = (self.drifting(), drift) {
                    s.push_str(&format!("; DRIFT: the newest {n} above it are {right}/{n} right, lower bound {} < target", pct(lower)));
                }
                s
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    pub n: usize,
    pub llt_at_1: f64,
    pub pt_at_1: f64,
    pub llt_at_5: f64,
    pub pt_at_5: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    pub threshold: f64,
    pub coverage: f64,
    pub n: usize,
    pub llt_accuracy: f64,
    pub pt_accuracy: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bracket {
    pub name: String,
    pub accuracy: Accuracy,
}

/// Accuracy of one group of cases (a route, a study, a month).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub name: String,
    pub accuracy: Accuracy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Where the model was asked (rule- and synonym-coded items left out).
    pub overall: Accuracy,
    /// Every route, the uncounted ones too.
    pub by_route: Vec<Group>,
    /// Where the model was asked, per study and per month confirmed.
    pub by_study: Vec<Group>,
    pub by_month: Vec<Group>,
    pub thresholds: Vec<Threshold>,
    pub brackets: Vec<Bracket>,
    /// (coverage, LLT accuracy, PT accuracy) when proposals are accepted from most to least
    /// confident (by PT confidence).
    pub curve: Vec<(f64, f64, f64)>,
    /// The two-sided 95% Wilson band of the curve's PT accuracy at each point.
    pub band: Vec<(f64, f64)>,
    /// Accuracy per bracket of PT confidence, most confident first.
    pub by_confidence: Vec<Group>,
    /// How well the confidences say how often they are right.
    pub calibration: CalibrationReport,
    /// The validated threshold at the default target over the newest decisions.
    pub validation: Validation,
}

/// Expected calibration error and the reliability table, of the LLT and of the PT confidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    pub llt_ece: f64,
    pub pt_ece: f64,
    pub llt: Vec<ReliabilityBin>,
    pub pt: Vec<ReliabilityBin>,
}

impl CalibrationReport {
    pub fn of(cases: &[&Case]) -> CalibrationReport {
        let llt: Vec<(f64, bool)> = cases.iter().map(|c| (c.confidence(), c.llt_hit())).collect();
        let pt: Vec<(f64, bool)> = cases.iter().map(|c| (c.pt_confidence, c.pt_hit())).collect();
        CalibrationReport { llt_ece: ece(&llt), pt_ece: ece(&pt), llt: reliability(&llt), pt: reliability(&pt) }
    }
}

/// Brackets of PT confidence: (name, low, high).
pub const CONFIDENCE_BRACKETS: [(&str, f64, f64); 6] =
    [(">= 0.95", 0.95, 2.0), ("0.90-0.95", 0.9, 0.95), ("0.80-0.90", 0.8, 0.9), ("0.60-0.80", 0.6, 0.8), ("0.40-0.60", 0.4, 0.6), ("< 0.40", -1.0, 0.4)];

fn ratio(k: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        k as f64 / n as f64
    }
}

pub fn accuracy(cases: &[&Case]) -> Accuracy {
    let n = cases.len();
    let c = |f: &dyn Fn(&Case) -> bool| ratio(cases.iter().filter(|x| f(x)).count(), n);
    Accuracy {
        n,
        llt_at_1: c(&|x| x.llt_hit()),
        pt_at_1: c(&|x| x.pt_hit()),
        llt_at_5: c(&|x| x.proposals.iter().take(5).any(|p| p.0 == x.llt)),
        pt_at_5: c(&|x| x.proposals.iter().take(5).any(|p| p.1 == x.pt)),
    }
}

/// z of the curve's two-sided 95% band.
const BAND_Z: f64 = 1.959_963_984_540_054;

pub const THRESHOLDS: [f64; 8] = [0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

/// Accuracy per key, in key order.
fn grouped<K: Ord>(cases: &[&Case], key: impl Fn(&Case) -> Option<K>, name: impl Fn(&K) -> String) -> Vec<Group> {
    let mut by: std::collections::BTreeMap<K, Vec<&Case>> = std::collections::BTreeMap::new();
    for c in cases {
        if let Some(k) = key(c) {
            by.entry(k).or_default().push(c);
        }
    }
    by.iter().map(|(k, v)| Group { name: name(k), accuracy: accuracy(v) }).collect()
}

/// The back-test of `cases`: the model's figures over the cases where it was asked; every route
/// apart.
pub fn report(every: &[Case]) -> Report {
    let by_route = grouped(&every.iter().collect::<Vec<_>>(), |c| Some(c.route), |r| r.name().to_string());
    let cases: Vec<Case> = every.iter().filter(|c| c.route.model_asked()).cloned().collect();
    let cases = cases.as_slice();
    let all: Vec<&Case> = cases.iter().collect();
    let by_study = grouped(&all, |c| c.study.clone(), String::clone);
    let by_month = grouped(&all, |c| c.month.clone(), String::clone);
    let thresholds = THRESHOLDS
        .iter()
        .map(|&t| {
            let kept: Vec<&Case> = cases.iter().filter(|c| c.pt_confidence >= t).collect();
            let a = accuracy(&kept);
            Threshold { threshold: t, coverage: ratio(kept.len(), cases.len()), n: kept.len(), llt_accuracy: a.llt_at_1, pt_accuracy: a.pt_at_1 }
        })
        .collect();
    let mut by_uncertainty = all.clone();
    by_uncertainty.sort_by(|a, b| a.uncertainty().total_cmp(&b.uncertainty()));
    let n = by_uncertainty.len();
    let take = |frac: f64| ((n as f64) * frac).round() as usize;
    let brackets = vec![
        Bracket { name: "all".into(), accuracy: accuracy(&by_uncertainty) },
        Bracket { name: "lowest-entropy 80%".into(), accuracy: accuracy(&by_uncertainty[..take(0.8)]) },
        Bracket { name: "highest-entropy 50%".into(), accuracy: accuracy(&by_uncertainty[n - take(0.5)..]) },
        Bracket { name: "highest-entropy 25%".into(), accuracy: accuracy(&by_uncertainty[n - take(0.25)..]) },
    ];
    let by_confidence = CONFIDENCE_BRACKETS
        .iter()
        .map(|&(name, low, high)| Group {
            name: name.to_string(),
            accuracy: accuracy(&all.iter().copied().filter(|c| c.pt_confidence >= low && c.pt_confidence < high).collect::<Vec<_>>()),
        })
        .collect();
    let calibration = CalibrationReport::of(&all);
    let mut by_conf = all;
    by_conf.sort_by(|a, b| b.pt_confidence.total_cmp(&a.pt_confidence));
    let (mut llt, mut pt) = (0, 0);
    let mut band = Vec::with_capacity(n);
    let curve = by_conf
        .iter()
        .enumerate()
        .map(|(i, c)| {
            llt += usize::from(c.llt_hit());
            pt += usize::from(c.pt_hit());
            band.push((wilson_lower(pt, i + 1, BAND_Z), wilson_upper(pt, i + 1, BAND_Z)));
            (ratio(i + 1, n), ratio(llt, i + 1), ratio(pt, i + 1))
        })
        .collect();
    let validation = validate(every, crate::calibration::DEFAULT_TARGET);
    Report {
        overall: accuracy(&cases.iter().collect::<Vec<_>>()),
        by_route,
        by_study,
        by_month,
        thresholds,
        brackets,
        curve,
        band,
        by_confidence,
        calibration,
        validation,
    }
}

pub fn render_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let pct = |x: f64| format!("{:5.1}%", 100.0 * x);
    let o = &r.overall;
    let uncounted = [Route::Rule.name(), Route::Synonym.name()];
    let by_rules: usize = r.by_route.iter().filter(|g| uncounted.contains(&g.name.as_str())).map(|g| g.accuracy.n).sum();
    let _ = writeln!(s, "Back-test over {} confirmed items with model proposals", o.n);
    if by_rules > 0 {
        let _ = writeln!(s, "  ({by_rules} more were coded by the exact-name rule or the synonym list: the model is not measured on them)");
    }
    let _ = writeln!(s, "  LLT top-1 {}   PT top-1 {}   LLT in top-5 {}   PT in top-5 {}", pct(o.llt_at_1), pct(o.pt_at_1), pct(o.llt_at_5), pct(o.pt_at_5));
    let table = |s: &mut String, title: &str, groups: &[Group]| {
        let _ = writeln!(s, "\n{title}:");
        let _ = writeln!(s, "  {:<24} {:>5}  {:>8}  {:>8}  {:>8}", "", "items", "LLT@1", "PT@1", "PT@5");
        for g in groups {
            let a = &g.accuracy;
            let _ = writeln!(s, "  {:<24} {:>5}  {:>8}  {:>8}  {:>8}", g.name, a.n, pct(a.llt_at_1), pct(a.pt_at_1), pct(a.pt_at_5));
        }
    };
    if r.by_route.len() > 1 || r.by_route.first().is_some_and(|g| g.name != Route::Evaluated.name()) {
        table(&mut s, "By how the code was found (the model's first proposal against the code confirmed)", &r.by_route);
    }
    if r.by_study.len() > 1 {
        table(&mut s, "By study", &r.by_study);
    }
    if r.by_month.len() > 1 {
        table(&mut s, "By month confirmed", &r.by_month);
    }
    if r.by_confidence.iter().any(|g| g.accuracy.n > 0) {
        table(&mut s, "By PT confidence of the top proposal", &r.by_confidence);
    }
    let c = &r.calibration;
    let _ = writeln!(s, "\nCalibration (expected calibration error, 10 bins): PT {:.3}   LLT {:.3}", c.pt_ece, c.llt_ece);
    let _ = writeln!(s, "  {:<10} {:>5}  {:>9}  {:>8}", "PT conf.", "items", "mean conf", "PT right");
    for b in c.pt.iter().filter(|b| b.n > 0) {
        let _ = writeln!(s, "  {:.1}-{:.1}    {:>5}  {:>9}  {:>8}", b.low, b.high, b.n, pct(b.confidence), pct(b.accuracy));
    }
    let _ = writeln!(s, "\n{}", r.validation.summary());
    let _ = writeln!(s, "\nAccept the top proposal when its PT confidence is at least:");
    let _ = writeln!(s, "  {:>9}  {:>8}  {:>5}  {:>8}  {:>8}", "threshold", "coverage", "items", "LLT acc", "PT acc");
    for t in &r.thresholds {
        let _ = writeln!(s, "  {:>9.2}  {:>8}  {:>5}  {:>8}  {:>8}", t.threshold, pct(t.coverage), t.n, pct(t.llt_accuracy), pct(t.pt_accuracy));
    }
    let _ = writeln!(s, "\nBy uncertainty (predictive entropy):");
    let _ = writeln!(s, "  {:<18} {:>5}  {:>8}  {:>8}  {:>8}  {:>8}", "bracket", "items", "LLT@1", "PT@1", "LLT@5", "PT@5");
    for b in &r.brackets {
        let a = &b.accuracy;
        let _ = writeln!(s, "  {:<18} {:>5}  {:>8}  {:>8}  {:>8}  {:>8}", b.name, a.n, pct(a.llt_at_1), pct(a.pt_at_1), pct(a.llt_at_5), pct(a.pt_at_5));
    }
    s
}

/// Accuracy against coverage as an SVG line chart, the PT's 95% Wilson band shaded.
pub fn render_svg(r: &Report, title: &str) -> anyhow::Result<String> {
    use crate::charts::{Series, Xy};
    let line = |name: &str, colour: usize, pick: fn(&(f64, f64, f64)) -> f64| Series {
        name: name.into(),
        points: r.curve.iter().map(|c| (c.0, pick(c))).collect(),
        colour,
        dashed: false,
        dots: false,
    };
    let band = r.curve.iter().zip(&r.band).map(|(&(c, _, _), &(lo, hi))| (c, lo, hi)).collect();
    crate::charts::xy(
        &Xy { title, x: "coverage (items accepted, highest PT confidence first)", y: "accuracy", x_labels: None, diagonal: false, band },
        &[line("LLT accuracy", 0, |c| c.1), line("PT accuracy (band: 95% Wilson)", crate::charts::RED, |c| c.2)],
    )
}

/// PT@1 and LLT@1 per month confirmed, as an SVG line chart (the model's accuracy over time).
pub fn render_months_svg(r: &Report, title: &str) -> anyhow::Result<String> {
    use crate::charts::{Series, Xy};
    let labels: Vec<String> = r.by_month.iter().map(|g| format!("{} ({})", g.name, g.accuracy.n)).collect();
    let line = |name: &str, colour: usize, pick: fn(&Accuracy) -> f64| Series {
        name: name.into(),
        points: r.by_month.iter().enumerate().map(|(i, g)| (i as f64, pick(&g.accuracy))).collect(),
        colour,
        dashed: false,
        dots: true,
    };
    crate::charts::xy(
        &Xy { title, x: "month confirmed (items)", y: "accuracy", x_labels: Some(&labels), diagonal: false, band: vec![] },
        &[line("PT@1", crate::charts::RED, |a| a.pt_at_1), line("LLT@1", 0, |a| a.llt_at_1)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(right: bool, conf: f64, entropy: f64) -> Case {
        Case::evaluated(1, 10, vec![(if right { 1 } else { 2 }, if right { 10 } else { 20 }, conf), (1, 10, 0.1)], Some(entropy))
    }

    #[test]
    fn the_model_is_measured_only_where_it_was_asked() {
        let props = vec![(1, 10, 0.9), (2, 20, 0.05)];
        let confirmed = |llt: u32, pt: u32, source: &str, study: &str, month: &str| Case {
            route: Route::of(Some(source), llt, &props),
            study: Some(study.into()),
            month: Some(month.into()),
            ..Case::evaluated(llt, pt, props.clone(), None)
        };
        let cases = vec![
            confirmed(1, 10, "rule", "S1", "2026-01"),
            confirmed(1, 10, "synonym", "S1", "2026-01"),
            confirmed(1, 10, "model", "S1", "2026-01"),
            confirmed(2, 20, "model", "S2", "2026-02"),
            confirmed(3, 30, "search", "S2", "2026-02"),
        ];
        assert_eq!(cases.iter().map(|c| c.route).collect::<Vec<_>>(), [Route::Rule, Route::Synonym, Route::ModelTop1, Route::ModelTop2To5, Route::Person]);
        let r = report(&cases);
        assert_eq!(r.overall.n, 3, "rule and synonym items are not the model's");
        assert!((r.overall.llt_at_1 - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.by_route.len(), 5);
        assert_eq!(r.by_study.iter().map(|g| (g.name.as_str(), g.accuracy.n)).collect::<Vec<_>>(), [("S1", 1), ("S2", 2)]);
        assert_eq!(r.by_month.iter().map(|g| g.accuracy.n).collect::<Vec<_>>(), [1, 2]);
        let text = render_text(&r);
        assert!(text.contains("(2 more were coded by the exact-name rule or the synonym list") && text.contains("By study"), "{text}");
    }

    #[test]
    fn figures_from_known_cases() {
        // 4 right and confident, 1 wrong and unsure, 1 wrong with the right LLT at rank 2.
        let cases =
            vec![case(true, 0.9, 0.1), case(true, 0.95, 0.05), case(true, 0.8, 0.2), case(true, 0.85, 0.15), case(false, 0.3, 2.0), case(false, 0.6, 1.0)];
        let r = report(&cases);
        assert!((r.overall.llt_at_1 - 4.0 / 6.0).abs() < 1e-9);
        assert!((r.overall.llt_at_5 - 1.0).abs() < 1e-9);
        let t = r.thresholds.iter().find(|t| t.threshold == 0.8).unwrap();
        assert_eq!(t.n, 4);
        assert!((t.llt_accuracy - 1.0).abs() < 1e-9 && (t.coverage - 4.0 / 6.0).abs() < 1e-9);
        let least = r.brackets.iter().find(|b| b.name == "highest-entropy 25%").unwrap();
        assert_eq!(least.accuracy.n, 2);
        assert_eq!(least.accuracy.llt_at_1, 0.0);
        let most = r.brackets.iter().find(|b| b.name == "lowest-entropy 80%").unwrap();
        assert_eq!(most.accuracy.n, 5);
        assert!((most.accuracy.llt_at_1 - 0.8).abs() < 1e-9);
        assert_eq!(r.curve.first().unwrap().1, 1.0);
        assert!((r.curve.last().unwrap().0 - 1.0).abs() < 1e-9);
        let svg = render_svg(&r, "t").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("polyline"));
        assert!(render_text(&r).contains("highest-entropy 25%"));
    }

    #[test]
    fn empty_is_zero_not_nan() {
        let r = report(&[]);
        assert_eq!(r.overall.n, 0);
        assert_eq!(r.overall.llt_at_1, 0.0);
    }
}
