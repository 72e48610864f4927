//! The coded-term memory: unit embeddings (from the untuned encoder, as the dense index) of every
//! active synonym of a dictionary version, i.e. every reported term the team has confirmed or
//! imported. A confirmed term is a verified name of its LLT, so the engine scores each LLT by the
//! best of its own name and its confirmed terms: with an empty memory proposals are exactly the
//! dense index's. Learning is incremental (one new term is one embedding), so a confirmation
//! changes the next proposal without retraining.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

use crate::meddra::Dictionary;
use crate::model::Encoder;
use crate::store::synonyms::Synonym;

/// One remembered term.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// The normalised reported term.
    pub term: String,
    /// Row of the dense index (the LLT), or None while the synonym is held.
    pub label: Option<usize>,
    /// The item it was confirmed on (evidence shown with a proposal), when there is one.
    pub item: Option<String>,
}

pub struct Memory {
    pub entries: Vec<Remembered>,
    /// [capacity, hidden] unit rows on the encoder's device, the first `entries.len()` in use:
    /// grown by doubling, so learning one term does not copy the whole memory.
    emb: Tensor,
    /// Entry of each remembered synonym (`key`: its term, with the study for a study's list).
    by_term: HashMap<String, usize>,
    /// The newest synonym change learned (the store's `synonym.seq`).
    pub seq: i64,
}

/// What the memory recalls for a batch of queries: for each (query row, LLT) among the nearest
/// remembered terms, the best similarity and the entry that gave it.
pub struct Recall {
    pub best: HashMap<(i64, usize), (f64, usize)>,
}

/// Remembered terms considered per query: the nearest ones. An LLT whose confirmed terms are all
/// farther than these is scored by its own name, as without a memory.
pub const NEAREST: i64 = 64;

/// Rows kept free after a desk start's load, so learning a confirmed term is one row copy.
const HEADROOM: i64 = 4096;

fn cache_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("memory-{key}.safetensors"))
}

/// Unit embeddings of `terms` (rows in order), from the cache file named by `key` when it holds
/// exactly these terms, else embedded and cached.
pub fn embed_cached(encoder: &Encoder, terms: &[String], dir: Option<&Path>, key: &str) -> Result<Tensor> {
    if let Some(d) = dir {
        let c = Memory::read_cache(d, key);
        if let Some(emb) = c.emb.filter(|_| c.rows.len() == terms.len() && terms.iter().enumerate().all(|(i, t)| c.rows.get(t) == Some(&i))) {
            return Ok(emb.to_device(encoder.device()));
        }
    }
    let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
    let emb = encoder.embed(&refs, 128, None)?;
    if let Some(d) = dir {
        // A failed cache write only costs embedding again next time.
        let _ = write_cache(d, key, terms, &emb);
    }
    Ok(emb)
}

fn write_cache(dir: &Path, key: &str, terms: &[String], emb: &Tensor) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = cache_file(dir, key);
    // Temporary names first: an interrupted write leaves the old cache, not a broken one.
    let tmp = file.with_extension("tmp");
    Tensor::write_safetensors(&[("emb", &emb.to_device(Device::Cpu))], &tmp)?;
    std::fs::write(file.with_extension("json.tmp"), serde_json::to_string(terms)?)?;
    std::fs::rename(file.with_extension("json.tmp"), file.with_extension("json"))?;
    std::fs::rename(&tmp, &file)?;
    Ok(())
}

impl Memory {
    pub fn empty(hidden: i64, device: Device) -> Memory {
        Memory { entries: vec![], emb: Tensor::zeros([0, hidden], (Kind::Float, device)), by_term: HashMap::new(), seq: 0 }
    }

    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.label.is_some()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Learns synonym changes (new, revised or held), embedding only terms neither known nor in
    /// `cache`; returns how many terms were new. `label_of` maps an LLT code to its dense-index
    /// row (None: not a current LLT).
    pub fn learn(&mut self, changes: &[Synonym], encoder: &Encoder, label_of: &dyn Fn(u32) -> Option<usize>, cache: &Cache) -> Result<usize> {
        self.seq = changes.iter().map(|s| s.seq).fold(self.seq, i64::max);
        let mut fresh: Vec<&Synonym> = Vec::new();
        for s in newest_per_term(changes) {
            let label = if s.hold.is_none() { label_of(s.llt_code) } else { None };
            match self.by_term.get(&key(s)) {
                Some(&i) => {
                    self.entries[i].label = label;
                    self.entries[i].item = s.external_id.clone();
                }
                None if label.is_some() => fresh.push(s),
                None => {}
            }
        }
        if fresh.is_empty() {
            return Ok(0);
        }
        // One gather from [cache; newly embedded] instead of a copy per term: a desk start with
        // 100,000 cached terms.
        let missing: Vec<&str> = fresh.iter().map(|s| s.term.as_str()).filter(|t| !cache.rows.contains_key(*t)).collect();
        let n_cache = cache.emb.as_ref().map_or(0, |e| e.size()[0]);
        let mut sources: Vec<Tensor> = cache.emb.iter().map(|e| e.to_kind(Kind::Float)).collect();
        if !missing.is_empty() {
            sources.push(encoder.embed(&missing, 128, None)?.to_device(Device::Cpu).to_kind(Kind::Float));
        }
        let mut k = 0;
        let index: Vec<i64> = fresh
            .iter()
            .map(|s| match cache.rows.get(&s.term) {
                Some(&row) => row as i64,
                None => {
                    k += 1;
                    n_cache + k - 1
                }
            })
            .collect();
        let all = if sources.len() == 1 { sources.remove(0) } else { Tensor::cat(&sources, 0) };
        // Usually the cache holds exactly these terms in this order: no gather needed.
        let in_order = index.len() as i64 == all.size()[0] && index.iter().enumerate().all(|(i, &r)| r == i as i64);
        let block = if in_order { all } else { all.index_select(0, &Tensor::from_slice(&index)) };
        self.append(&fresh.iter().map(|s| (key(s), s.term.clone(), label_of(s.llt_code), s.external_id.clone())).collect::<Vec<_>>(), &block);
        Ok(fresh.len())
    }

    /// Appends new terms (key, term, label, item) with their unit embeddings (`block`: [k, hidden]).
    fn append(&mut self, terms: &[(String, String, Option<usize>, Option<String>)], block: &Tensor) {
        let (n, k) = (self.entries.len() as i64, terms.len() as i64);
        let capacity = self.emb.size()[0];
        if capacity == 0 {
            // The first block (a desk start) with room for the next terms the team confirms: one
            // copy now, none per learned term until the room is used.
            let room = Tensor::zeros([HEADROOM, self.emb.size()[1]], (Kind::Float, self.emb.device()));
            self.emb = Tensor::cat(&[block.to_device(self.emb.device()).to_kind(Kind::Float), room], 0);
        } else if n + k > capacity {
            let grow = Tensor::zeros([(n + k).max(2 * capacity).max(64) - capacity, self.emb.size()[1]], (Kind::Float, self.emb.device()));
            self.emb = Tensor::cat(&[self.emb.shallow_clone(), grow], 0);
        }
        if capacity > 0 {
            self.emb.narrow(0, n, k).copy_(&block.to_device(self.emb.device()).to_kind(Kind::Float));
        }
        for (key, term, label, item) in terms {
            self.by_term.insert(key.clone(), self.entries.len());
            self.entries.push(Remembered { term: term.clone(), label: *label, item: item.clone() });
        }
    }

    /// Remembers one term with its unit embedding (`emb`: [hidden]), or moves a known term to
    /// another label (None: held, forgotten until it comes back).
    pub fn remember(&mut self, term: &str, label: Option<usize>, item: Option<String>, emb: &Tensor) {
        match self.by_term.get(term) {
            Some(&i) => {
                self.entries[i].label = label;
                self.entries[i].item = item;
            }
            None => self.append(&[(term.to_string(), term.to_string(), label, item)], &emb.unsqueeze(0)),
        }
    }

    /// Whether `term` is remembered from the global list (under any label, or held).
    pub fn knows(&self, term: &str) -> bool {
        self.by_term.contains_key(term)
    }

    /// The rows in use.
    fn used(&self) -> Tensor {
        self.emb.narrow(0, 0, self.entries.len() as i64)
    }

    /// The nearest remembered terms of each unit query row `q` [b, hidden], best per LLT.
    /// (Computed from a top-k on the device and a short loop on the host: libtorch's per-index
    /// max reductions are beta APIs that print warnings, which would scribble on the desk.)
    pub fn recall(&self, q: &Tensor) -> Option<Recall> {
        if self.is_empty() {
            return None;
        }
        let sims = q.matmul(&self.used().tr()).to_kind(Kind::Float);
        let k = NEAREST.min(self.entries.len() as i64);
        let (vals, idx) = sims.topk(k, -1, true, true);
        let (vals, idx) = (vals.to_device(Device::Cpu).to_kind(Kind::Double), idx.to_device(Device::Cpu));
        let mut best: HashMap<(i64, usize), (f64, usize)> = HashMap::new();
        for b in 0..q.size()[0] {
            let v: Vec<f64> = Vec::<f64>::try_from(vals.get(b)).unwrap_or_default();
            let ix: Vec<i64> = Vec::<i64>::try_from(idx.get(b)).unwrap_or_default();
            for (sim, e) in v.into_iter().zip(ix) {
                let Some(label) = self.entries[e as usize].label else { continue };
                // Best first: the first entry seen for a label is its best.
                best.entry((b, label)).or_insert((sim, e as usize));
            }
        }
        Some(Recall { best })
    }

    /// The remembered term that gave `label` its memory score for query row `b`, with its
    /// similarity.
    pub fn evidence(&self, recall: &Recall, b: i64, label: usize) -> Option<(&Remembered, f64)> {
        recall.best.get(&(b, label)).map(|&(sim, e)| (&self.entries[e], sim))
    }

    /// Embeddings saved by `save_cache` (a missing or broken cache just means embedding again).
    pub fn read_cache(dir: &Path, fingerprint: &str) -> Cache {
        let file = cache_file(dir, fingerprint);
        let terms: Option<Vec<String>> = std::fs::read_to_string(file.with_extension("json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        let emb = Tensor::read_safetensors(&file).ok().and_then(|mut v| v.pop()).map(|(_, t)| t);
        match (terms, emb) {
            (Some(terms), Some(emb)) if emb.size().first() == Some(&(terms.len() as i64)) => {
                Cache { rows: terms.into_iter().enumerate().map(|(i, t)| (t, i)).collect(), emb: Some(emb) }
            }
            _ => Cache::default(),
        }
    }

    /// Saves every remembered term's embedding, so the next start embeds only new terms.
    pub fn save_cache(&self, dir: &Path, fingerprint: &str) -> Result<()> {
        let terms: Vec<String> = self.entries.iter().map(|e| e.term.clone()).collect();
        write_cache(dir, fingerprint, &terms, &self.used())
    }

    /// The best similarity of each query row to any remembered term (-1 with none): how close
    /// the term is to what the team has confirmed.
    pub fn nearest(&self, recall: Option<&Recall>, b: i64) -> f64 {
        recall.and_then(|r| r.best.iter().filter(|((row, _), _)| *row == b).map(|(_, (sim, _))| *sim).reduce(f64::max)).unwrap_or(-1.0)
    }
}

/// What the memory knows a synonym by: its term on the global list, its term and study on a
/// study's list (a study's entry and the global one are two pieces of evidence, and holding one
/// leaves the other).
fn key(s: &Synonym) -> String {
    if s.study.is_empty() {
        s.term.clone()
    } else {
        format!("{}\u{1f}{}", s.term, s.study)
    }
}

/// The newest change of each synonym (term and list), in the order of `changes` (a term
/// confirmed and then recoded or held in one batch is what its last change says).
pub fn newest_per_term(changes: &[Synonym]) -> Vec<&Synonym> {
    let newest: HashMap<String, usize> = changes.iter().enumerate().map(|(i, s)| (key(s), i)).collect();
    changes.iter().enumerate().filter(|(i, s)| newest.get(&key(s)) == Some(i)).map(|(_, s)| s).collect()
}

/// Embeddings read from the disk cache: row of each term in `emb`.
#[derive(Default)]
pub struct Cache {
    pub rows: HashMap<String, usize>,
    pub emb: Option<Tensor>,
}

/// The dense-index row of each current LLT code.
pub fn label_map(dict: &Dictionary, index_llts: &[usize]) -> HashMap<u32, usize> {
    index_llts.iter().enumerate().map(|(row, &i)| (dict.llts[i].code, row)).collect()
}
