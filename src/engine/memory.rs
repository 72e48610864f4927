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
    by_term: HashMap<String, usize>,
    /// The newest synonym change learned (the store's `synonym.seq`).
    pub seq: i64,
}

/// Best similarity per LLT from the memory, and which entry gave it.
pub struct Recall {
    /// [batch, labels] the best of each LLT's confirmed terms (-2 where it has none).
    pub by_label: Tensor,
    /// [batch, n] similarity to every entry (for evidence), on the CPU.
    pub sims: Tensor,
}

fn cache_file(dir: &Path, fingerprint: &str) -> PathBuf {
    dir.join(format!("memory-{fingerprint}.safetensors"))
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

    /// Learns synonym changes (new, revised or held), embedding only terms not yet known; returns
    /// how many terms were new. `label_of` maps an LLT code to its dense-index row (None: not a
    /// current LLT).
    pub fn learn(
        &mut self,
        changes: &[Synonym],
        encoder: &Encoder,
        label_of: &dyn Fn(u32) -> Option<usize>,
        cached: &HashMap<String, Tensor>,
    ) -> Result<usize> {
        let mut fresh: Vec<&Synonym> = Vec::new();
        for s in changes {
            let label = if s.hold.is_none() { label_of(s.llt_code) } else { None };
            match self.by_term.get(&s.term) {
                Some(&i) => {
                    self.entries[i].label = label;
                    self.entries[i].item = s.external_id.clone();
                }
                None if label.is_some() => fresh.push(s),
                None => {}
            }
            self.seq = self.seq.max(s.seq);
        }
        if fresh.is_empty() {
            return Ok(0);
        }
        let missing: Vec<&str> = fresh.iter().map(|s| s.term.as_str()).filter(|t| !cached.contains_key(*t)).collect();
        let embedded = if missing.is_empty() { None } else { Some(encoder.embed(&missing, 128, None)?) };
        let mut k = 0;
        for s in &fresh {
            let row = match cached.get(&s.term) {
                Some(t) => t.shallow_clone(),
                None => {
                    k += 1;
                    embedded.as_ref().expect("embedded the missing terms").get(k - 1)
                }
            };
            self.remember(&s.term, label_of(s.llt_code), s.external_id.clone(), &row);
        }
        Ok(fresh.len())
    }

    /// Remembers one term with its unit embedding (`emb`: [hidden]), or moves a known term to
    /// another label (None: held, forgotten until it comes back).
    pub fn remember(&mut self, term: &str, label: Option<usize>, item: Option<String>, emb: &Tensor) {
        if let Some(&i) = self.by_term.get(term) {
            self.entries[i].label = label;
            self.entries[i].item = item;
            return;
        }
        let n = self.entries.len() as i64;
        if n == self.emb.size()[0] {
            let grow = Tensor::zeros([n.max(64), self.emb.size()[1]], (Kind::Float, self.emb.device()));
            self.emb = Tensor::cat(&[self.emb.shallow_clone(), grow], 0);
        }
        self.emb.get(n).copy_(&emb.to_device(self.emb.device()).to_kind(Kind::Float));
        self.by_term.insert(term.to_string(), self.entries.len());
        self.entries.push(Remembered { term: term.to_string(), label, item });
    }

    /// The rows in use.
    fn used(&self) -> Tensor {
        self.emb.narrow(0, 0, self.entries.len() as i64)
    }

    /// Each LLT's best similarity over its remembered terms, for unit query rows `q` [b, hidden].
    pub fn recall(&self, q: &Tensor, labels: usize) -> Option<Recall> {
        if self.is_empty() {
            return None;
        }
        let sims = q.matmul(&self.used().tr()).to_kind(Kind::Float);
        let b = q.size()[0];
        // Held entries go to an extra column that is dropped afterwards.
        let idx: Vec<i64> = self.entries.iter().map(|e| e.label.map_or(labels as i64, |l| l as i64)).collect();
        let index = Tensor::from_slice(&idx).to_device(q.device());
        let base = Tensor::full([b, labels as i64 + 1], -2.0, (Kind::Float, q.device()));
        let by_label = base.index_reduce(1, &index, &sims, "amax", true).narrow(1, 0, labels as i64);
        Some(Recall { by_label, sims: sims.to_device(Device::Cpu) })
    }

    /// The remembered term that gave `label` its memory score for query row `b`, with its
    /// similarity.
    pub fn evidence(&self, recall: &Recall, b: i64, label: usize) -> Option<(&Remembered, f64)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.label == Some(label))
            .map(|(i, e)| (e, recall.sims.double_value(&[b, i as i64])))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// Embeddings saved by `save_cache`, by term (reading a cache that is missing or broken
    /// just means embedding again).
    pub fn read_cache(dir: &Path, fingerprint: &str) -> HashMap<String, Tensor> {
        let file = cache_file(dir, fingerprint);
        let terms: Option<Vec<String>> = std::fs::read_to_string(file.with_extension("json")).ok().and_then(|t| serde_json::from_str(&t).ok());
        let emb = Tensor::read_safetensors(&file).ok().and_then(|mut v| v.pop()).map(|(_, t)| t);
        match (terms, emb) {
            (Some(terms), Some(emb)) if emb.size().first() == Some(&(terms.len() as i64)) => {
                terms.into_iter().enumerate().map(|(i, t)| (t, emb.get(i as i64))).collect()
            }
            _ => HashMap::new(),
        }
    }

    /// Saves every remembered term's embedding, so the next start embeds only new terms.
    pub fn save_cache(&self, dir: &Path, fingerprint: &str) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = cache_file(dir, fingerprint);
        let terms: Vec<&str> = self.entries.iter().map(|e| e.term.as_str()).collect();
        // Temporary names first: an interrupted write leaves the old cache, not a broken one.
        let tmp = file.with_extension("tmp");
        Tensor::write_safetensors(&[("emb", &self.used().to_device(Device::Cpu))], &tmp)?;
        std::fs::write(file.with_extension("json.tmp"), serde_json::to_string(&terms)?)?;
        std::fs::rename(file.with_extension("json.tmp"), file.with_extension("json"))?;
        std::fs::rename(&tmp, &file)?;
        Ok(())
    }
}

/// The dense-index row of each current LLT code.
pub fn label_map(dict: &Dictionary, index_llts: &[usize]) -> HashMap<u32, usize> {
    index_llts.iter().enumerate().map(|(row, &i)| (dict.llts[i].code, row)).collect()
}
