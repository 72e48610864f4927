//! Tokenisation with per-batch padding. Checkpoints such as all-MiniLM-L6-v2 ship a tokenizer.json
//! that pads every input to 128 tokens; reported terms are a handful of tokens, so padding to the
//! longest term of each batch instead is the biggest single speed-up.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{anyhow, Context, Result};
use tch::{Device, Kind, Tensor};
use tokenizers::{EncodeInput, Encoding, Tokenizer, TruncationParams};

/// Longest input kept (tokens, [CLS] and [SEP] included): LLT names and reported terms are short.
pub const MAX_TOKENS: usize = 64;

pub struct Tok {
    inner: Tokenizer,
    /// Token ids (no [CLS]/[SEP]) of the first texts of pairs seen so far: the LLT names XTARS
    /// scores, each tokenized once per process instead of once per (name, term) pair.
    firsts: RwLock<HashMap<String, Arc<[u32]>>>,
    /// [CLS] and [SEP] when this tokenizer frames a pair as `[CLS] a [SEP] b [SEP]` with token
    /// types 0 then 1 (checked at load); None: every pair goes through the tokenizer.
    pair_frame: Option<(u32, u32)>,
}

/// The first texts `Tok` remembers at most (a full MedDRA release has about 80,000 LLT names).
const MAX_FIRSTS: usize = 200_000;

/// A padded batch ready for the encoder.
pub struct Batch {
    pub ids: Tensor,
    pub mask: Tensor,
    pub type_ids: Tensor,
}

/// One unpadded row: token ids and token types (every token attended).
type Row = (Vec<u32>, Vec<u32>);

impl Tok {
    pub fn load(path: &Path) -> Result<Tok> {
        let mut inner = Tokenizer::from_file(path).map_err(|e| anyhow!("{e}")).with_context(|| format!("loading tokenizer {}", path.display()))?;
        inner.with_padding(None);
        inner.with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() })).map_err(|e| anyhow!("{e}"))?;
        let mut tok = Tok { inner, firsts: RwLock::new(HashMap::new()), pair_frame: None };
        tok.pair_frame = tok.probe_pair_frame();
        Ok(tok)
    }

    /// [CLS] and [SEP] if pairs this tokenizer encodes equal the two texts' own tokens framed as
    /// `[CLS] a [SEP] b [SEP]` (BERT's post-processor); None for any other framing.
    fn probe_pair_frame(&self) -> Option<(u32, u32)> {
        let (a, b) = ("Pain in extremity", "pain of right thigh to the knee, severe (grade 2)");
        let single = |t: &str| self.inner.encode(t, true).ok().map(|e| e.get_ids().to_vec()).filter(|ids| ids.len() >= 2);
        let (sa, sb) = (single(a)?, single(b)?);
        let (cls, sep) = (sa[0], sa[sa.len() - 1]);
        let pair = self.inner.encode((a, b), true).ok()?;
        let want: Vec<u32> = [&[cls][..], &sa[1..sa.len() - 1], &[sep], &sb[1..sb.len() - 1], &[sep]].concat();
        let types: Vec<u32> = (0..want.len()).map(|i| u32::from(i >= sa.len())).collect();
        (pair.get_ids() == want.as_slice() && pair.get_type_ids() == types.as_slice()).then_some((cls, sep))
    }

    /// Whether `word` is one whole token of the vocabulary (the encoder knows it as a word).
    pub fn knows(&self, word: &str) -> bool {
        self.inner.token_to_id(word).is_some()
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Single texts: `[CLS] text [SEP]`.
    pub fn encode(&self, texts: &[&str], device: Device) -> Result<Batch> {
        self.timed(device, || self.single_rows(texts))
    }

    /// Pairs: `[CLS] a [SEP] b [SEP]`, token types 0 then 1. Each distinct `b` is tokenized once
    /// per call and each `a` once per process (XTARS scores every term against 10-20 LLT names
    /// and trains on the same names again and again); a pair longer than `MAX_TOKENS` goes
    /// through the tokenizer's own truncation, so every row is what the tokenizer would give.
    pub fn encode_pairs(&self, a: &[&str], b: &[&str], device: Device) -> Result<Batch> {
        self.timed(device, || {
            let Some((cls, sep)) = self.pair_frame else { return self.pair_rows(a, b) };
            let firsts = self.first_bodies(a)?;
            let mut distinct: Vec<&str> = b.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            let seconds: HashMap<&str, Vec<u32>> = distinct.iter().copied().zip(self.bodies(&distinct)?).collect();
            let mut rows: Vec<Option<Row>> = Vec::with_capacity(a.len());
            let mut long = Vec::new();
            for (i, (x, y)) in firsts.iter().zip(b).enumerate() {
                let y = &seconds[y];
                if x.len() + y.len() + 3 > MAX_TOKENS {
                    long.push(i);
                    rows.push(None);
                    continue;
                }
                let ids: Vec<u32> = [&[cls][..], x, &[sep], y, &[sep]].concat();
                let types = (0..ids.len()).map(|k| u32::from(k > x.len() + 1)).collect();
                rows.push(Some((ids, types)));
            }
            if !long.is_empty() {
                let (la, lb): (Vec<&str>, Vec<&str>) = long.iter().map(|&i| (a[i], b[i])).unzip();
                for (i, row) in long.into_iter().zip(self.pair_rows(&la, &lb)?) {
                    rows[i] = Some(row);
                }
            }
            Ok(rows.into_iter().map(|r| r.expect("every row is filled")).collect())
        })
    }

    /// The tokens of each text without [CLS] and [SEP] (a text of `MAX_TOKENS` or more comes back
    /// truncated, and then no pair holding it fits the fast path).
    fn bodies(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        Ok(self.single_rows(texts)?.into_iter().map(|(ids, _)| ids.get(1..ids.len().saturating_sub(1)).unwrap_or_default().to_vec()).collect())
    }

    /// `bodies` of first texts, remembered. The texts are read back under the same lock that
    /// inserted them, so another thread clearing the memory in between cannot lose one.
    fn first_bodies(&self, texts: &[&str]) -> Result<Vec<Arc<[u32]>>> {
        let lookup = |known: &HashMap<String, Arc<[u32]>>| -> Result<Vec<Arc<[u32]>>> {
            texts.iter().map(|t| known.get(*t).cloned().ok_or_else(|| anyhow!("tokenizing: '{t}' was not remembered"))).collect()
        };
        let missing: Vec<&str> = {
            let known = self.firsts.read().unwrap_or_else(|e| e.into_inner());
            let mut m: Vec<&str> = texts.iter().copied().filter(|t| !known.contains_key(*t)).collect();
            if m.is_empty() {
                return lookup(&known);
            }
            m.sort_unstable();
            m.dedup();
            m
        };
        let new = self.bodies(&missing)?;
        let mut known = self.firsts.write().unwrap_or_else(|e| e.into_inner());
        if known.len() + new.len() > MAX_FIRSTS {
            known.clear();
        }
        known.extend(missing.iter().map(|t| t.to_string()).zip(new.into_iter().map(Arc::from)));
        lookup(&known)
    }

    /// Runs `f` (the host work: tokens and padding), counts its time in `HOST_NANOS`, and makes the
    /// padded batch on `device`.
    fn timed(&self, device: Device, f: impl FnOnce() -> Result<Vec<Row>>) -> Result<Batch> {
        let started = std::time::Instant::now();
        let out = f().map(pad);
        HOST_NANOS.fetch_add(started.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
        let (b, t, ids, mask, types) = out?;
        let mk = |v: Vec<i64>| upload(Tensor::from_slice(&v).view([b as i64, t as i64]).to_kind(Kind::Int64), device);
        Ok(Batch { ids: mk(ids), mask: mk(mask), type_ids: mk(types) })
    }

    /// The tokenizer's own rows for single texts.
    fn single_rows(&self, texts: &[&str]) -> Result<Vec<Row>> {
        self.rows(texts.iter().map(|t| EncodeInput::Single((*t).into())).collect())
    }

    /// The tokenizer's own rows for pairs (its truncation included).
    fn pair_rows(&self, a: &[&str], b: &[&str]) -> Result<Vec<Row>> {
        self.rows(a.iter().zip(b).map(|(x, y)| EncodeInput::Dual((*x).into(), (*y).into())).collect())
    }

    fn rows(&self, inputs: Vec<EncodeInput>) -> Result<Vec<Row>> {
        let encs: Vec<Encoding> = self.inner.encode_batch(inputs, true).map_err(|e| anyhow!("tokenizing: {e}"))?;
        Ok(encs.into_iter().map(|e| (e.get_ids().to_vec(), e.get_type_ids().to_vec())).collect())
    }
}

/// Rows padded to the longest: (rows, tokens per row, ids, mask, token types).
fn pad(rows: Vec<Row>) -> (usize, usize, Vec<i64>, Vec<i64>, Vec<i64>) {
    let t = rows.iter().map(|r| r.0.len()).max().unwrap_or(1).max(1);
    let b = rows.len();
    let (mut ids, mut mask, mut types) = (vec![0i64; b * t], vec![0i64; b * t], vec![0i64; b * t]);
    for (i, (row_ids, row_types)) in rows.iter().enumerate() {
        for (j, (&id, &ty)) in row_ids.iter().zip(row_types).enumerate() {
            ids[i * t + j] = i64::from(id);
            types[i * t + j] = i64::from(ty);
            mask[i * t + j] = 1;
        }
    }
    (b, t, ids, mask, types)
}

/// Nanoseconds this process has spent tokenizing and padding on the host, all threads together:
/// `bench propose` reports the share of a batch that is host work (issue #25: where it bounds the
/// GPU pipeline, it is to move off the critical path).
static HOST_NANOS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Seconds spent tokenizing so far (see `HOST_NANOS`).
pub fn host_seconds() -> f64 {
    HOST_NANOS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9
}

/// Runs `f` over batches of at most `batch` inputs taken shortest first (by `len`), so each padded
/// batch holds inputs of similar length, and returns f's rows [n, ...] in the original order.
/// Padding every batch to its longest member is what costs when short terms and long LLT names
/// are mixed; sorting first keeps the padding small. `f` gets the original indices of its batch.
pub fn length_batched(lens: &[usize], batch: usize, mut f: impl FnMut(&[usize]) -> Result<Tensor>) -> Result<Tensor> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| lens[i]);
    let parts = order.chunks(batch.max(1)).map(&mut f).collect::<Result<Vec<_>>>()?;
    let Some(first) = parts.first() else { return f(&[]) };
    let sorted = Tensor::cat(&parts, 0);
    // Row k of `sorted` belongs to input order[k]; gather it back to that place.
    let mut inverse = vec![0i64; order.len()];
    for (k, &i) in order.iter().enumerate() {
        inverse[i] = k as i64;
    }
    Ok(sorted.index_select(0, &upload(Tensor::from_slice(&inverse), first.device())))
}

/// A host tensor on `device`. Not through pinned memory: tch's `pin_memory` always passes a
/// device, which libtorch 2.11 deprecates with two warning lines per call (84,000 lines in one
/// training run on an H100), and these token batches are a few kilobytes.
pub fn upload(t: Tensor, device: Device) -> Tensor {
    if device.is_cuda() {
        t.to_device_(device, t.kind(), true, false)
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(b: &Batch) -> Vec<(Vec<i64>, Vec<i64>)> {
        let ids = Vec::<Vec<i64>>::try_from(&b.ids).unwrap();
        let mask = Vec::<Vec<i64>>::try_from(&b.mask).unwrap();
        let types = Vec::<Vec<i64>>::try_from(&b.type_ids).unwrap();
        ids.into_iter()
            .zip(mask)
            .zip(types)
            .map(|((i, m), t)| {
                let n = m.iter().filter(|&&x| x == 1).count();
                (i[..n].to_vec(), t[..n].to_vec())
            })
            .collect()
    }

    #[test]
    fn pairs_from_remembered_names_are_the_tokenizers_own_pairs() {
        let tok = Tok::load(&crate::model::default_base_dir().join("tokenizer.json")).unwrap();
        assert!(tok.pair_frame.is_some(), "MiniLM frames pairs as [CLS] a [SEP] b [SEP]");
        let long = "pain ".repeat(80);
        let names = ["Headache", "Pain in extremity", "ALT increased", "Unilateral leg pain", long.as_str(), "Rash"];
        let terms = ["pain of right thigh to the knee", "headache, mild, intermittent", "alt incr.", "", long.as_str(), "RASH!! on both arms"];
        let mut a = Vec::new();
        let mut b = Vec::new();
        for (i, n) in names.iter().enumerate() {
            for (j, t) in terms.iter().enumerate() {
                if (i + j) % 2 == 0 || i == 4 || j == 4 {
                    a.push(*n);
                    b.push(*t);
                }
            }
        }
        // Twice: the second call takes every name from memory.
        for _ in 0..2 {
            let fast = tok.encode_pairs(&a, &b, Device::Cpu).unwrap();
            let slow = tok.timed(Device::Cpu, || tok.pair_rows(&a, &b)).unwrap();
            assert_eq!(fast.ids.size(), slow.ids.size());
            assert_eq!(rows_of(&fast), rows_of(&slow));
            assert_eq!(Vec::<Vec<i64>>::try_from(&fast.mask).unwrap(), Vec::<Vec<i64>>::try_from(&slow.mask).unwrap());
        }
        assert!(rows_of(&tok.encode_pairs(&[long.as_str()], &["rash"], Device::Cpu).unwrap())[0].0.len() == MAX_TOKENS, "a long pair is truncated");
    }

    #[test]
    fn length_batched_returns_rows_in_input_order_from_sorted_batches() {
        let lens = [5usize, 1, 3, 9, 2];
        let mut seen = Vec::new();
        let out = length_batched(&lens, 2, |idx| {
            seen.push(idx.iter().map(|&i| lens[i]).collect::<Vec<_>>());
            Ok(Tensor::from_slice(&idx.iter().map(|&i| (i * 10) as i64).collect::<Vec<_>>()))
        })
        .unwrap();
        assert_eq!(seen, vec![vec![1, 2], vec![3, 5], vec![9]]);
        assert_eq!(Vec::<i64>::try_from(out).unwrap(), vec![0, 10, 20, 30, 40]);
    }
}
