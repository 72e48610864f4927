//! Back-testing the model against what coders finally confirmed: top-1 and top-5 accuracy,
//! accuracy and coverage at confidence thresholds, and accuracy by uncertainty bracket, the
//! figures of the XTARS paper's deployment table.

use serde::Serialize;

/// One confirmed item with what the model had proposed for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub llt: u32,
    pub pt: u32,
    /// (llt, pt, confidence), best first.
    pub proposals: Vec<(u32, u32, f64)>,
    /// Predictive entropy; lower is more certain. Falls back to 1 - top confidence when absent.
    pub entropy: Option<f64>,
}

impl Case {
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub overall: Accuracy,
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

pub fn report(cases: &[Case]) -> Report {
    let all: Vec<&Case> = cases.iter().collect();
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
    Report { overall: accuracy(&cases.iter().collect::<Vec<_>>()), thresholds, brackets, curve }
}

pub fn render_text(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let pct = |x: f64| format!("{:5.1}%", 100.0 * x);
    let o = &r.overall;
    let _ = writeln!(s, "Back-test over {} confirmed items with model proposals", o.n);
    let _ = writeln!(s, "  LLT top-1 {}   PT top-1 {}   LLT in top-5 {}   PT in top-5 {}", pct(o.llt_at_1), pct(o.pt_at_1), pct(o.llt_at_5), pct(o.pt_at_5));
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
        Case { llt: 1, pt: 10, proposals: vec![(if right { 1 } else { 2 }, if right { 10 } else { 20 }, conf), (1, 10, 0.1)], entropy: Some(entropy) }
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
