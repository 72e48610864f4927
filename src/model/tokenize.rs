//! Tokenisation with per-batch padding. Checkpoints such as all-MiniLM-L6-v2 ship a tokenizer.json
//! that pads every input to 128 tokens; reported terms are a handful of tokens, so padding to the
//! longest term of each batch instead is the biggest single speed-up.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use tch::{Device, Kind, Tensor};
use tokenizers::{EncodeInput, Encoding, Tokenizer, TruncationParams};

/// Longest input kept (tokens, [CLS] and [SEP] included): LLT names and reported terms are short.
pub const MAX_TOKENS: usize = 64;

pub struct Tok {
    inner: Tokenizer,
}

/// A padded batch ready for the encoder.
pub struct Batch {
    pub ids: Tensor,
    pub mask: Tensor,
    pub type_ids: Tensor,
}

impl Tok {
    pub fn load(path: &Path) -> Result<Tok> {
        let mut inner = Tokenizer::from_file(path).map_err(|e| anyhow!("{e}")).with_context(|| format!("loading tokenizer {}", path.display()))?;
        inner.with_padding(None);
        inner.with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() })).map_err(|e| anyhow!("{e}"))?;
        Ok(Tok { inner })
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
        let inputs: Vec<EncodeInput> = texts.iter().map(|t| EncodeInput::Single((*t).into())).collect();
        self.batch(inputs, device)
    }

    /// Pairs: `[CLS] a [SEP] b [SEP]`, token types 0 then 1.
    pub fn encode_pairs(&self, a: &[&str], b: &[&str], device: Device) -> Result<Batch> {
        let inputs: Vec<EncodeInput> = a.iter().zip(b).map(|(x, y)| EncodeInput::Dual((*x).into(), (*y).into())).collect();
        self.batch(inputs, device)
    }

    fn batch(&self, inputs: Vec<EncodeInput>, device: Device) -> Result<Batch> {
        let started = std::time::Instant::now();
        let out = self.host_batch(inputs);
        HOST_NANOS.fetch_add(started.elapsed().as_nanos() as u64, std::sync::atomic::Ordering::Relaxed);
        let (b, t, ids, mask, types) = out?;
        let mk = |v: Vec<i64>| upload(Tensor::from_slice(&v).view([b as i64, t as i64]).to_kind(Kind::Int64), device);
        Ok(Batch { ids: mk(ids), mask: mk(mask), type_ids: mk(types) })
    }

    /// Tokens and padding on the host: (rows, tokens per row, ids, mask, token types).
    #[allow(clippy::type_complexity)]
    fn host_batch(&self, inputs: Vec<EncodeInput>) -> Result<(usize, usize, Vec<i64>, Vec<i64>, Vec<i64>)> {
        let encs: Vec<Encoding> = self.inner.encode_batch(inputs, true).map_err(|e| anyhow!("tokenizing: {e}"))?;
        let t = encs.iter().map(|e| e.get_ids().len()).max().unwrap_or(1).max(1);
        let b = encs.len();
        let (mut ids, mut mask, mut types) = (vec![0i64; b * t], vec![0i64; b * t], vec![0i64; b * t]);
        for (i, e) in encs.iter().enumerate() {
            for (j, ((&id, &ty), &m)) in e.get_ids().iter().zip(e.get_type_ids()).zip(e.get_attention_mask()).enumerate() {
                ids[i * t + j] = i64::from(id);
                types[i * t + j] = i64::from(ty);
                mask[i * t + j] = i64::from(m);
            }
        }
        Ok((b, t, ids, mask, types))
    }
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
