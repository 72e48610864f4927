//! Back-testing the model against what coders finally confirmed: top-1 and top-5 accuracy,
//! accuracy and coverage at confidence thresholds, and accuracy by uncertainty bracket, the
//! figures of the XTARS paper's deployment table.

use serde::Serialize;

/// How a confirmed code was found: the model is only measured where it was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// The exact-LLT-name rule: the model is trivially right there, and not counted.
    Rule,
    /// The synonym list: not counted either.
    Synonym,
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
    /// Predictive entropy; lower is more certain. Falls back to 1 - top confidence when absent.
    pub entropy: Option<f64>,
    pub route: Route,
    /// The item's study and the month (YYYY-MM) it was confirmed in, where known.
    pub study: Option<String>,
    pub month: Option<String>,
}

/// A confirmed item of either store as a case: its code, the proposals stored with the
/// confirmation, the code's source, its study and when (`at`, ISO time) it was confirmed.
pub fn confirmed_case(
    llt: u32,
    pt: u32,
    proposals: &[crate::store::proposals::Proposal],
    entropy: Option<f64>,
    source: Option<&str>,
    study: String,
    at: &str,
) -> Case {
    let proposals: Vec<(u32, u32, f64)> = proposals.iter().map(|p| (p.llt_code, p.pt_code, p.confidence)).collect();
    Case { route: Route::of(source, llt, &proposals), llt, pt, proposals, entropy, study: Some(study), month: at.get(..7).map(String::from) }
}

impl Case {
    /// A labelled row: the model asked, no study or month.
    pub fn evaluated(llt: u32, pt: u32, proposals: Vec<(u32, u32, f64)>, entropy: Option<f64>) -> Case {
        Case { llt, pt, proposals, entropy, route: Route::Evaluated, study: None, month: None }
    }

    fn top(&self) -> Option<&(u32, u32, f64)> {
        self.proposals.first()
    }
    fn llt_hit(&self) -> bool {
        self.top().is_some_and(|p| p.0 == self.llt)
    }
    fn pt_hit(&self) -> bool {
        self.top().is_some_and(|p| p.1 == self.pt)
    }
    fn confidence(&self) -> f64 {
        self.top().map_or(0.0, |p| p.2)
    }
    fn uncertainty(&self) -> f64 {
        self.entropy.unwrap_or(1.0 - self.confidence())
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
    /// (coverage, LLT accuracy, PT accuracy) when proposals are accepted from most to least confident.
    pub curve: Vec<(f64, f64, f64)>,
}

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
            let kept: Vec<&Case> = cases.iter().filter(|c| c.confidence() >= t).collect();
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
        Bracket { name: "most certain 80%".into(), accuracy: accuracy(&by_uncertainty[..take(0.8)]) },
        Bracket { name: "least certain 50%".into(), accuracy: accuracy(&by_uncertainty[n - take(0.5)..]) },
        Bracket { name: "least certain 25%".into(), accuracy: accuracy(&by_uncertainty[n - take(0.25)..]) },
    ];
    let mut by_conf = all;
    by_conf.sort_by(|a, b| b.confidence().total_cmp(&a.confidence()));
    let (mut llt, mut pt) = (0, 0);
    let curve = by_conf
        .iter()
        .enumerate()
        .map(|(i, c)| {
            llt += usize::from(c.llt_hit());
            pt += usize::from(c.pt_hit());
            (ratio(i + 1, n), ratio(llt, i + 1), ratio(pt, i + 1))
        })
        .collect();
    Report { overall: accuracy(&cases.iter().collect::<Vec<_>>()), by_route, by_study, by_month, thresholds, brackets, curve }
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
    let _ = writeln!(s, "\nAccept the top proposal when its confidence is at least:");
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

/// Accuracy against coverage as an SVG line chart.
pub fn render_svg(r: &Report, title: &str) -> String {
    use std::fmt::Write;
    let (w, h, left, bottom, top, right) = (640.0, 400.0, 60.0, 50.0, 40.0, 20.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let x = |v: f64| left + v * pw;
    let y = |v: f64| top + (1.0 - v) * ph;
    let mut s = String::new();
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#);
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#, w / 2.0, xml_escape(title));
    for i in 0..=10 {
        let v = i as f64 / 10.0;
        let _ = writeln!(s, r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##, x(0.0), y(v), x(1.0), y(v));
        let _ = writeln!(s, r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##, x(v), y(0.0), x(v), y(1.0));
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="end">{:.0}%</text>"#, x(0.0) - 6.0, y(v) + 4.0, v * 100.0);
        let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{:.0}%</text>"#, x(v), y(0.0) + 16.0, v * 100.0);
    }
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">coverage (items auto-accepted, most confident first)</text>"#, left + pw / 2.0, h - 10.0);
    let _ = writeln!(s, r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle">accuracy</text>"#, top + ph / 2.0);
    for (series, colour, label, ly) in [(1, "#1f77b4", "LLT accuracy", 0), (2, "#d62728", "PT accuracy", 1)] {
        let pts: Vec<String> = r.curve.iter().map(|&(c, l, p)| format!("{:.1},{:.1}", x(c), y(if series == 1 { l } else { p }))).collect();
        let _ = writeln!(s, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, pts.join(" "));
        let ly = top + 14.0 + 16.0 * ly as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{label}</text>"#,
            x(0.05),
            x(0.1),
            x(0.11),
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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
        let least = r.brackets.iter().find(|b| b.name == "least certain 25%").unwrap();
        assert_eq!(least.accuracy.n, 2);
        assert_eq!(least.accuracy.llt_at_1, 0.0);
        let most = r.brackets.iter().find(|b| b.name == "most certain 80%").unwrap();
        assert_eq!(most.accuracy.n, 5);
        assert!((most.accuracy.llt_at_1 - 0.8).abs() < 1e-9);
        assert_eq!(r.curve.first().unwrap().1, 1.0);
        assert!((r.curve.last().unwrap().0 - 1.0).abs() < 1e-9);
        let svg = render_svg(&r, "t");
        assert!(svg.starts_with("<svg") && svg.contains("polyline"));
        assert!(render_text(&r).contains("least certain 25%"));
    }

    #[test]
    fn empty_is_zero_not_nan() {
        let r = report(&[]);
        assert_eq!(r.overall.n, 0);
        assert_eq!(r.overall.llt_at_1, 0.0);
    }
}
