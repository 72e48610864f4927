//! The trained model's record on held-out confirmed terms: where the trained fusion and the
//! untuned dense index proposed different LLTs and the team confirmed one of the two, who was
//! right. The engine trusts its fusion for a new term by this record on nearby terms, so a model
//! that keeps losing to the dense index on a team's kind of wording stops ranking those terms,
//! without retraining, from the next proposal on.
//!
//! Only terms the model did not train on count (a model is right on its own training terms), and
//! only disagreements with exactly one side right (agreements and double misses say nothing about
//! which to trust).

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

use super::gate;

/// Beside a trained model: its validation disagreements, one per line: term, the fusion's LLT,
/// the dense index's LLT, the coded LLT (tab-separated; a header line first).
pub const VALIDATION_FILE: &str = "validation_record.tsv";

const HEADER: &str = "term\tfusion_llt\tdense_llt\tcoded_llt";

pub fn format_validation(rows: &[(String, u32, u32, u32)]) -> String {
    let mut s = format!("{HEADER}\n");
    for (term, f, d, g) in rows {
        // Coded terms are normalised text: no tabs or line breaks.
        s.push_str(&format!("{}\t{f}\t{d}\t{g}\n", term.replace(['\t', '\n', '\r'], " ")));
    }
    s
}

/// The terms and whether the fusion won, in file order; an error names the line and field.
pub fn parse_validation(text: &str) -> Result<(Vec<String>, Vec<bool>)> {
    let (mut terms, mut won) = (Vec::new(), Vec::new());
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h == HEADER => {}
        _ => bail!("line 1: expected the header '{HEADER}'"),
    }
    for (i, line) in lines {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 4 {
            bail!("line {}: expected 4 tab-separated fields, found {}", i + 1, f.len());
        }
        let mut codes = [0u32; 3];
        for (k, name) in ["fusion_llt", "dense_llt", "coded_llt"].iter().enumerate() {
            codes[k] = f[k + 1].parse().map_err(|_| anyhow::anyhow!("line {}, field {name}: '{}' is not an LLT code", i + 1, f[k + 1]))?;
        }
        match winner(codes[0], codes[1], codes[2]) {
            Some(w) => {
                terms.push(f[0].to_string());
                won.push(w);
            }
            None => bail!("line {}: neither or both of fusion_llt and dense_llt equal coded_llt", i + 1),
        }
    }
    Ok((terms, won))
}

/// Disagreements remembered; the oldest go first (a team's wording drifts, and the record should
/// follow the recent one).
pub const CAPACITY: usize = 4096;

/// Held-out disagreements: each term's unit embedding (untuned encoder) and who was right.
pub struct Record {
    /// [capacity, hidden] rows, the first `fusion_won.len()` filled, oldest first; the newest
    /// `CAPACITY` of them count. Grown by doubling and compacted (the newest `CAPACITY` moved to
    /// the front) when full at twice `CAPACITY`, so adding one row is one row copy, amortised.
    emb: Tensor,
    /// 1.0 where the fusion was right, 0.0 where the dense index was, one per filled row.
    fusion_won: Vec<f32>,
}

/// Which side a confirmed code proves right, if exactly one.
pub fn winner(fusion: u32, dense: u32, confirmed: u32) -> Option<bool> {
    match (fusion == confirmed, dense == confirmed) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

impl Clone for Record {
    fn clone(&self) -> Record {
        // A copy: adding writes rows in place.
        Record { emb: self.emb.copy(), fusion_won: self.fusion_won.clone() }
    }
}

impl Record {
    pub fn empty(hidden: i64, device: Device) -> Record {
        Record { emb: Tensor::zeros([0, hidden], (Kind::Float, device)), fusion_won: vec![] }
    }

    /// Disagreements that count (the newest `CAPACITY`).
    pub fn len(&self) -> usize {
        self.fusion_won.len().min(CAPACITY)
    }

    pub fn is_empty(&self) -> bool {
        self.fusion_won.is_empty()
    }

    /// Who won each counted disagreement, oldest first.
    fn counted(&self) -> &[f32] {
        &self.fusion_won[self.fusion_won.len() - self.len()..]
    }

    /// (fusion wins, dense wins).
    pub fn tally(&self) -> (usize, usize) {
        let f = self.counted().iter().filter(|&&w| w > 0.5).count();
        (f, self.len() - f)
    }

    /// Adds one disagreement (`emb`: the term's unit embedding, [hidden]).
    pub fn add(&mut self, emb: &Tensor, fusion_won: bool) {
        self.extend(&emb.reshape([1, -1]), &[fusion_won]);
    }

    /// Adds disagreements in order (`emb`: [k, hidden] unit rows).
    pub fn extend(&mut self, emb: &Tensor, fusion_won: &[bool]) {
        let (cap, hidden) = (CAPACITY as i64, self.emb.size()[1]);
        let mut rows = emb.to_device(self.emb.device()).to_kind(Kind::Float);
        let mut won: Vec<f32> = fusion_won.iter().map(|&w| if w { 1.0 } else { 0.0 }).collect();
        let k = won.len() as i64;
        if k > cap {
            rows = rows.narrow(0, k - cap, cap);
            won.drain(..(k - cap) as usize);
        }
        let k = won.len() as i64;
        let n = self.fusion_won.len() as i64;
        if n + k > self.emb.size()[0] {
            // The newest rows that will still count, at the front of a buffer with room.
            let keep = n.min(cap - k);
            let size = if n + k > 2 * cap { 2 * cap } else { (2 * (n + k)).clamp(64, 2 * cap) };
            let buffer = Tensor::zeros([size, hidden], (Kind::Float, self.emb.device()));
            if keep > 0 {
                buffer.narrow(0, 0, keep).copy_(&self.emb.narrow(0, n - keep, keep));
            }
            self.fusion_won.drain(..(n - keep) as usize);
            self.emb = buffer;
        }
        let n = self.fusion_won.len() as i64;
        self.emb.narrow(0, n, k).copy_(&rows);
        self.fusion_won.extend(won);
    }

    /// The rows that count.
    fn used(&self) -> Tensor {
        let (filled, n) = (self.fusion_won.len() as i64, self.len() as i64);
        self.emb.narrow(0, filled - n, n)
    }

    /// How far to trust the fusion for each unit query row `q` [b, hidden], in [0, 1]: its margin
    /// over the dense index among nearby disagreements, (1 + F - D) / (1 + F + D) floored at 0,
    /// where F and D are the fusion's and the dense index's wins weighted by nearness (the gate's
    /// ramp: nothing below a cosine of 0.5, fully above 0.8) and the 1 is the fusion's validation
    /// record, which chose it over the dense index. No evidence nearby: 1 (the model as fitted);
    /// one loss as near as a paraphrase: 0 (the dense index's ranking).
    pub fn trust(&self, q: &Tensor) -> Vec<f64> {
        let b = q.size()[0] as usize;
        if self.is_empty() {
            return vec![1.0; b];
        }
        let sims = Vec::<f64>::try_from(q.to_kind(Kind::Float).matmul(&self.used().tr()).flatten(0, -1).to_kind(Kind::Double).to_device(Device::Cpu))
            .unwrap_or_default();
        let n = self.len();
        (0..b)
            .map(|i| {
                let (mut f, mut d) = (0.0, 0.0);
                for (j, &won) in self.counted().iter().enumerate() {
                    let w = sims.get(i * n + j).map_or(0.0, |&s| gate(s));
                    if won > 0.5 {
                        f += w;
                    } else {
                        d += w;
                    }
                }
                ((1.0 + f - d) / (1.0 + f + d)).max(0.0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Tensor {
        let t = Tensor::from_slice(v);
        &t / t.norm()
    }

    #[test]
    fn trust_follows_the_record_on_nearby_terms_only() {
        let mut r = Record::empty(2, Device::Cpu);
        let q = Tensor::stack(&[unit(&[1.0, 0.0]), unit(&[0.0, 1.0])], 0);
        assert_eq!(r.trust(&q), vec![1.0, 1.0], "no record: the fitted fusion");
        // A dense win right at the first query; nothing near the second.
        r.add(&unit(&[1.0, 0.0]), false);
        assert_eq!(r.trust(&q), vec![0.0, 1.0]);
        // A fusion win there too: (1 + 1 - 1) / (1 + 1 + 1).
        r.add(&unit(&[1.0, 0.0]), true);
        let t = r.trust(&q);
        assert!((t[0] - 1.0 / 3.0).abs() < 1e-9 && t[1] == 1.0, "{t:?}");
        // A dense win at cosine 0.65 counts half: (1 + 1 - 1.5) / (1 + 1 + 1.5).
        r.add(&unit(&[0.65, (1.0f32 - 0.65 * 0.65).sqrt()]), false);
        let t = r.trust(&q);
        assert!((t[0] - 0.5 / 3.5).abs() < 1e-4, "{t:?}");
        assert_eq!(r.tally(), (1, 2));
    }

    #[test]
    fn a_winner_only_where_exactly_one_side_was_right() {
        assert_eq!(winner(1, 2, 1), Some(true));
        assert_eq!(winner(1, 2, 2), Some(false));
        assert_eq!(winner(1, 1, 1), None);
        assert_eq!(winner(1, 2, 3), None);
    }

    #[test]
    fn the_validation_file_round_trips_and_bad_lines_are_named() {
        let rows = vec![("sore leg".to_string(), 1, 2, 1), ("head ache".to_string(), 3, 4, 4)];
        let (terms, won) = parse_validation(&format_validation(&rows)).unwrap();
        assert_eq!((terms, won), (vec!["sore leg".to_string(), "head ache".to_string()], vec![true, false]));
        let err = parse_validation("term\tfusion_llt\tdense_llt\tcoded_llt\nx\t1\tz\t1\n").unwrap_err().to_string();
        assert!(err.contains("line 2, field dense_llt: 'z'"), "{err}");
        let err = parse_validation("term\tfusion_llt\tdense_llt\tcoded_llt\nx\t1\t1\t1\n").unwrap_err().to_string();
        assert!(err.contains("line 2: neither or both"), "{err}");
        assert!(parse_validation("").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn the_oldest_go_first() {
        let mut r = Record::empty(2, Device::Cpu);
        r.add(&unit(&[1.0, 0.0]), false);
        let start = r.clone();
        for i in 0..3 * CAPACITY {
            r.add(&unit(&[0.0, 1.0]), true);
            if i == CAPACITY - 2 {
                assert_eq!(r.tally(), (CAPACITY - 1, 1), "still counted");
            }
        }
        assert_eq!((r.len(), r.tally()), (CAPACITY, (CAPACITY, 0)));
        assert_eq!(r.trust(&unit(&[1.0, 0.0]).unsqueeze(0)), vec![1.0]);
        // Blocks too, and the clone it started from is untouched.
        r.extend(&Tensor::stack(&[unit(&[1.0, 0.0]), unit(&[1.0, 0.0])], 0), &[false, false]);
        assert_eq!(r.tally(), (CAPACITY - 2, 2));
        assert_eq!(r.trust(&unit(&[1.0, 0.0]).unsqueeze(0)), vec![0.0]);
        assert_eq!((start.tally(), start.trust(&unit(&[1.0, 0.0]).unsqueeze(0))), ((0, 1), vec![0.0]));
        let big: Vec<Tensor> = (0..CAPACITY + 5).map(|_| unit(&[0.0, 1.0])).collect();
        r.extend(&Tensor::stack(&big, 0), &vec![true; CAPACITY + 5]);
        assert_eq!(r.tally(), (CAPACITY, 0));
    }
}
