//! What a confidence means, measured and learned: expected calibration error and the reliability
//! table, a calibration learned from confirmed decisions per source of the proposal, and the
//! validated threshold (the lowest confidence above which the model's PT@1 has a one-sided 95%
//! lower confidence bound at the team's target).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a top proposal's confidence came from: each behaves differently, so each is calibrated
/// on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The exact-LLT-name rule.
    Rule,
    /// The team's synonym list.
    Synonym,
    /// The coded-term memory put the top proposal there (a confirmed term resembles the query).
    Memory,
    /// The untuned dense index (no trained model, or the gate gave it no weight).
    Dense,
    /// A trained model's fusion (gate above 0).
    Fusion,
}

impl Basis {
    pub const ALL: [Basis; 5] = [Basis::Rule, Basis::Synonym, Basis::Memory, Basis::Dense, Basis::Fusion];

    pub fn name(self) -> &'static str {
        match self {
            Basis::Rule => "exact-name rule",
            Basis::Synonym => "synonym list",
            Basis::Memory => "memory hit",
            Basis::Dense => "dense index",
            Basis::Fusion => "trained fusion",
        }
    }
}

/// Equal-width bins of the reliability table and of the expected calibration error.
pub const BINS: usize = 10;

/// One bin of a reliability table: how many, their mean confidence, how many were right.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReliabilityBin {
    pub low: f64,
    pub high: f64,
    pub n: usize,
    pub confidence: f64,
    pub accuracy: f64,
}

fn bin_of(c: f64) -> usize {
    ((c.clamp(0.0, 1.0) * BINS as f64) as usize).min(BINS - 1)
}

/// The reliability table of (confidence, right) pairs.
pub fn reliability(points: &[(f64, bool)]) -> Vec<ReliabilityBin> {
    let mut n = [0usize; BINS];
    let mut conf = [0f64; BINS];
    let mut hits = [0usize; BINS];
    for &(c, hit) in points {
        let b = bin_of(c);
        n[b] += 1;
        conf[b] += c;
        hits[b] += usize::from(hit);
    }
    (0..BINS)
        .map(|b| ReliabilityBin {
            low: b as f64 / BINS as f64,
            high: (b + 1) as f64 / BINS as f64,
            n: n[b],
            confidence: if n[b] == 0 { 0.0 } else { conf[b] / n[b] as f64 },
            accuracy: if n[b] == 0 { 0.0 } else { hits[b] as f64 / n[b] as f64 },
        })
        .collect()
}

/// Expected calibration error: the mean over bins, weighted by their share, of |accuracy -
/// mean confidence|. 0 for no points.
pub fn ece(points: &[(f64, bool)]) -> f64 {
    let total = points.len();
    if total == 0 {
        return 0.0;
    }
    reliability(points).iter().map(|b| b.n as f64 / total as f64 * (b.accuracy - b.confidence).abs()).sum()
}

/// z of a one-sided 95% bound.
pub const Z_95: f64 = 1.644_853_626_951_472_2;

/// The Wilson score lower bound of a proportion k/n at `z` (one-sided); 0 for n = 0.
pub fn wilson_lower(k: usize, n: usize, z: f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    ((p + z2 / (2.0 * n) - z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt()) / (1.0 + z2 / n)).max(0.0)
}

/// The Wilson score upper bound, for the band of a curve.
pub fn wilson_upper(k: usize, n: usize, z: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    1.0 - wilson_lower(n - k, n, z)
}

/// The default target of the validated threshold: PT@1 of at least 95%, the regulatory bar the
/// paper's deployment is measured against.
pub const DEFAULT_TARGET: f64 = 0.95;

/// The threshold is validated on the model's most recent decisions only, so that a model that
/// starts failing raises it by itself.
pub const VALIDATION_WINDOW: usize = 1000;

/// Drift is judged on the most recent decisions above the threshold.
pub const DRIFT_WINDOW: usize = 200;

/// A threshold and what it gives: items at or above it, how many were right at PT level, the
/// one-sided 95% lower bound, and the share of items it covers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Validated {
    pub threshold: f64,
    pub n: usize,
    pub right: usize,
    pub lower: f64,
    pub coverage: f64,
}

/// The lowest confidence threshold at which the items at or above it have a PT@1 whose one-sided
/// 95% Wilson lower bound is at least `target`; None when no threshold reaches it (too few or too
/// many wrong). `points`: (PT confidence of the top proposal, its PT was right).
pub fn validated_threshold(points: &[(f64, bool)], target: f64) -> Option<Validated> {
    let mut sorted: Vec<(f64, bool)> = points.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total = sorted.len();
    let (mut k, mut best) = (0usize, None);
    for (i, &(c, hit)) in sorted.iter().enumerate() {
        k += usize::from(hit);
        // A threshold takes every item of its confidence: only at the last of equal ones.
        if sorted.get(i + 1).is_some_and(|next| next.0 == c) {
            continue;
        }
        let n = i + 1;
        let lower = wilson_lower(k, n, Z_95);
        if lower >= target {
            best = Some(Validated { threshold: c, n, right: k, lower, coverage: n as f64 / total as f64 });
        }
    }
    best
}

/// The bound on the most recent `DRIFT_WINDOW` decisions at or above `threshold`, oldest first in
/// `points_in_order`: (n, right, lower bound).
pub fn recent_bound(points_in_order: &[(f64, bool)], threshold: f64) -> (usize, usize, f64) {
    let above: Vec<bool> = points_in_order.iter().filter(|p| p.0 >= threshold).map(|p| p.1).collect();
    let recent = &above[above.len().saturating_sub(DRIFT_WINDOW)..];
    let right = recent.iter().filter(|h| **h).count();
    (recent.len(), right, wilson_lower(right, recent.len(), Z_95))
}

/// Pseudo-observations each bin starts from (the raw confidence, moved by the basis's overall
/// offset): a bin's calibrated value moves to its observed accuracy as decisions arrive (fixed a
/// priori, not fitted).
pub const PRIOR: f64 = 10.0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Bins {
    n: [f64; BINS],
    hits: [f64; BINS],
    raw: [f64; BINS],
}

impl Bins {
    /// (mean raw confidence, calibrated value) of each observed bin, made non-decreasing by
    /// pooling adjacent violators.
    fn points(&self) -> Vec<(f64, f64)> {
        // Each bin starts from the raw confidence moved by the basis's overall offset (its share
        // right less its mean confidence, itself shrunk to 0 by the prior): a basis that is
        // overconfident everywhere is learned from all its decisions, not bin by bin.
        let (n, hits, raw): (f64, f64, f64) = (self.n.iter().sum(), self.hits.iter().sum(), self.raw.iter().sum());
        let offset = (hits - raw) / (n + PRIOR);
        // (x, value, weight)
        let mut pools: Vec<(f64, f64, f64)> = Vec::new();
        for b in 0..BINS {
            if self.n[b] == 0.0 {
                continue;
            }
            let x = self.raw[b] / self.n[b];
            let w = self.n[b] + PRIOR;
            pools.push((x, (self.hits[b] + PRIOR * (x + offset).clamp(0.0, 1.0)) / w, w));
            while pools.len() > 1 && pools[pools.len() - 2].1 > pools[pools.len() - 1].1 {
                let (x2, v2, w2) = pools.pop().expect("two pools");
                let (x1, v1, w1) = pools.pop().expect("two pools");
                let w = w1 + w2;
                pools.push(((x1 * w1 + x2 * w2) / w, (v1 * w1 + v2 * w2) / w, w));
            }
        }
        pools.into_iter().map(|(x, v, _)| (x, v)).collect()
    }

    fn apply(&self, raw: f64) -> f64 {
        let pts = self.points();
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else { return raw };
        let v = if raw <= first.0 {
            raw + (first.1 - first.0)
        } else if raw >= last.0 {
            raw + (last.1 - last.0)
        } else {
            let j = pts.iter().position(|p| p.0 >= raw).expect("within the points");
            let (a, b) = (pts[j - 1], pts[j]);
            a.1 + (b.1 - a.1) * (raw - a.0) / (b.0 - a.0)
        };
        v.clamp(0.0, 1.0)
    }
}

/// A calibration of raw confidences into probabilities of being right, learned from confirmed
/// decisions, one map per basis. Empty, it leaves every confidence as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    by: BTreeMap<Basis, Bins>,
}

impl Calibration {
    /// Learns one decision: the raw confidence of the proposal (LLT or PT) and whether it was right.
    pub fn observe(&mut self, basis: Basis, raw: f64, right: bool) {
        if !raw.is_finite() {
            return;
        }
        let bins = self.by.entry(basis).or_default();
        let b = bin_of(raw);
        bins.n[b] += 1.0;
        bins.hits[b] += f64::from(u8::from(right));
        bins.raw[b] += raw.clamp(0.0, 1.0);
    }

    /// The calibrated probability of a raw confidence of `basis`.
    pub fn apply(&self, basis: Basis, raw: f64) -> f64 {
        match self.by.get(&basis) {
            Some(bins) => bins.apply(raw),
            None => raw.clamp(0.0, 1.0),
        }
    }

    /// Decisions learned per basis.
    pub fn observed(&self) -> Vec<(Basis, usize)> {
        self.by.iter().map(|(b, bins)| (*b, bins.n.iter().sum::<f64>() as usize)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.by.is_empty()
    }
}

/// The LLT and PT calibrations a desk applies, learned from the same decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibrations {
    pub llt: Calibration,
    pub pt: Calibration,
}

impl Calibrations {
    /// Learns a decision from its top proposal's raw confidences.
    pub fn observe(&mut self, basis: Basis, raw_llt: f64, llt_right: bool, raw_pt: f64, pt_right: bool) {
        self.llt.observe(basis, raw_llt, llt_right);
        self.pt.observe(basis, raw_pt, pt_right);
    }
}

/// A reliability diagram as SVG: accuracy against mean confidence per bin, for each named table
/// (LLT, PT), the diagonal a perfectly calibrated confidence would follow.
pub fn render_svg(tables: &[(&str, &[ReliabilityBin], f64)], title: &str) -> anyhow::Result<String> {
    use crate::charts::{Series, Xy};
    let series: Vec<Series> = tables
        .iter()
        .enumerate()
        .map(|(i, (name, bins, e))| Series {
            name: format!("{name} (ECE {e:.3})"),
            points: bins.iter().filter(|b| b.n > 0).map(|b| (b.confidence, b.accuracy)).collect(),
            colour: [0, crate::charts::RED, 2, 1][i % 4],
            dashed: false,
            dots: true,
        })
        .collect();
    crate::charts::xy(&Xy { title, x: "confidence (mean per bin)", y: "share right", x_labels: None, diagonal: true, band: vec![] }, &series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_and_the_reliability_table_by_hand() {
        // Bin 0.9-1.0: confidence 0.9 four times, three right -> |0.75 - 0.9| over 4 of 8 points.
        // Bin 0.5-0.6: confidence 0.5 four times, two right -> |0.5 - 0.5| = 0.
        let mut pts = vec![(0.9, true), (0.9, true), (0.9, true), (0.9, false)];
        pts.extend([(0.5, true), (0.5, false), (0.5, true), (0.5, false)]);
        assert!((ece(&pts) - 0.5 * 0.15).abs() < 1e-12, "{}", ece(&pts));
        let table = reliability(&pts);
        assert_eq!((table[9].n, table[5].n, table[0].n), (4, 4, 0));
        assert_eq!(table[9].accuracy, 0.75);
        assert_eq!(ece(&[]), 0.0);
        assert_eq!(bin_of(1.0), 9, "a confidence of 1 is in the last bin");
    }

    #[test]
    fn wilson_bounds_match_published_values() {
        // 95 of 100 at one-sided 95% (z 1.645): Wilson lower 0.9008 (computed by hand).
        assert!((wilson_lower(95, 100, Z_95) - 0.9008).abs() < 2e-4, "{}", wilson_lower(95, 100, Z_95));
        // All right: 1 / (1 + z²/n); 52 right of 52 is the smallest all-right count reaching 0.95.
        assert!(wilson_lower(51, 51, Z_95) < 0.95 && wilson_lower(52, 52, Z_95) >= 0.95);
        assert_eq!(wilson_lower(0, 0, Z_95), 0.0);
        assert!((wilson_upper(5, 100, Z_95) - (1.0 - wilson_lower(95, 100, Z_95))).abs() < 1e-12);
    }

    #[test]
    fn the_validated_threshold_is_the_lowest_that_holds_the_bound() {
        // 100 right at 0.99, then 20 at 0.8 with 10 wrong, then 50 right at 0.7.
        let mut pts: Vec<(f64, bool)> = vec![(0.99, true); 100];
        pts.extend((0..20).map(|i| (0.8, i % 2 == 0)));
        pts.extend(vec![(0.7, true); 50]);
        let v = validated_threshold(&pts, 0.95).expect("100 right of 100 reaches 95%");
        // At 0.8: 110/120 -> lower ~0.87; at 0.7: 160/170 -> ~0.91: both below; 0.99 holds.
        assert_eq!((v.threshold, v.n, v.right), (0.99, 100, 100));
        assert!((v.coverage - 100.0 / 170.0).abs() < 1e-12);
        // A lower target takes a lower threshold.
        assert_eq!(validated_threshold(&pts, 0.85).map(|v| v.threshold), Some(0.7));
        assert_eq!(validated_threshold(&pts[..40], 0.95), None, "40 right is too few to show 95%");
        assert_eq!(validated_threshold(&[], 0.95), None);
    }

    #[test]
    fn drift_is_judged_on_the_recent_decisions_above_the_threshold() {
        let mut pts: Vec<(f64, bool)> = vec![(0.99, true); 500];
        assert!(recent_bound(&pts, 0.9).2 > 0.98);
        // Ten of the last 200 fail: 190/200 -> lower ~0.917.
        pts.extend((0..200).map(|i| (0.99, i % 20 != 0)));
        let (n, right, lower) = recent_bound(&pts, 0.9);
        assert_eq!((n, right), (200, 190));
        assert!(lower < 0.95);
        // Below the threshold, nothing counts.
        pts.extend(vec![(0.5, false); 300]);
        assert_eq!(recent_bound(&pts, 0.9).0, 200);
    }

    #[test]
    fn a_calibration_starts_as_the_identity_and_learns_each_basis_apart() {
        let mut c = Calibration::default();
        assert_eq!(c.apply(Basis::Dense, 0.8), 0.8);
        // The dense index says 0.8 and is right half the time; the memory says 0.8 and is right.
        for i in 0..200 {
            c.observe(Basis::Dense, 0.8, i % 2 == 0);
            c.observe(Basis::Memory, 0.8, true);
        }
        let (d, m) = (c.apply(Basis::Dense, 0.8), c.apply(Basis::Memory, 0.8));
        // Offset (100 - 160) / 210; the bin starts from 0.8 + offset and holds 100 of 200.
        let start = 0.8 + (100.0 - 160.0) / 210.0;
        assert!((d - (100.0 + 10.0 * start) / 210.0).abs() < 1e-9, "{d}");
        assert!(m > 0.98, "{m}");
        assert_eq!(c.apply(Basis::Fusion, 0.8), 0.8, "an unseen basis is left as it is");
        // Outside the observed range the offset carries on, clamped.
        assert!(c.apply(Basis::Dense, 0.95) < 0.95 && c.apply(Basis::Memory, 0.99) <= 1.0);
    }

    #[test]
    fn the_learned_map_never_ranks_a_lower_raw_confidence_higher() {
        let mut c = Calibration::default();
        // A noisy middle bin (0.55 right every time) above a high one (0.75 right a third).
        for i in 0..90 {
            c.observe(Basis::Dense, 0.55, true);
            c.observe(Basis::Dense, 0.75, i % 3 == 0);
            c.observe(Basis::Dense, 0.95, true);
        }
        let xs = [0.3, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0];
        let ys: Vec<f64> = xs.iter().map(|&x| c.apply(Basis::Dense, x)).collect();
        assert!(ys.windows(2).all(|w| w[0] <= w[1] + 1e-12), "{ys:?}");
    }
}
