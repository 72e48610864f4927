//! The proposal engine: turns reported terms into ranked LLT proposals with a confidence and the
//! predictive entropy. Without trained models it proposes from the dense index alone, and says so.

pub mod dense;
pub mod memory;
pub mod record;
pub mod rewrite;
pub mod service;
pub mod worker;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

use crate::calibration::{Basis, Calibrations};
use crate::meddra::Dictionary;
use crate::model::classifier::Classifier;
use crate::model::precision::Precision;
use crate::model::registry::{self, Fusion, Manifest};
use crate::model::xtars::CrossEncoder;
use crate::model::{BaseModel, Encoder};
use crate::store::proposals::{Proposal, ProposalSet, Raw};
use crate::store::synonyms::Synonym;
use crate::store::ProposalStore;
use dense::DenseIndex;
use memory::{Memory, Recall};

/// A trained ensemble and reranker with the fusion fitted on validation data.
pub struct Trained {
    pub members: Vec<Classifier>,
    pub xtars: CrossEncoder,
    pub manifest: Manifest,
    /// Unit embeddings of the coded terms the model trained on (labelled files, synonyms, the
    /// team's decisions; not the LLT names): the reference of the per-term gate. None for models
    /// trained before the gate: their fusion is not gated.
    pub coded: Option<Tensor>,
    /// Every term the model trained on (normalised; `train_terms.txt`): a confirmation of one of
    /// them is not held out, so it does not enter the record.
    pub trained_on: HashSet<String>,
    /// Who was right, the fusion or the dense index, on held-out terms the team confirmed.
    pub record: record::Record,
    /// What the record starts from: the model's own validation disagreements
    /// (`validation_record.tsv`; empty for models trained before it).
    pub record_start: record::Record,
}

/// Scores from each stage alone, for `eval --components`.
pub fn component_fusions() -> [(&'static str, Fusion); 3] {
    [
        ("dense (untuned)", Fusion { w_ensemble: 0.0, w_xtars: 0.0, w_dense: 1.0, temperature: 1.0 }),
        ("ensemble", Fusion { w_ensemble: 1.0, w_xtars: 0.0, w_dense: 0.0, temperature: 1.0 }),
        ("xtars", Fusion { w_ensemble: 0.0, w_xtars: 1.0, w_dense: 0.0, temperature: 1.0 }),
    ]
}

/// Softmax temperature of the untuned cosine similarities (all-MiniLM was trained contrastively at
/// a scale of 20, i.e. 0.05). Trained models fit their own on validation data.
pub const ZERO_SHOT_TEMPERATURE: f64 = 0.05;

/// A confirmed term, the (fusion, dense) choices for it, and the LLT confirmed.
type Outcome = (String, (u32, u32), u32);

/// Held-out confirmations whose fusion and dense choices a first load computes when no cache has
/// them (the newest; each costs a proposal).
pub const RECORD_AT_START: usize = 256;

/// How many proposals the coding screen shows.
pub const TOP: usize = 5;

/// One candidate LLT of a term with each stage's score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Row of the label list / dense index.
    pub label: usize,
    pub ln_p: f64,
    pub xtars: f64,
    /// Cosine similarity / 0.05.
    pub dense: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CandidateSet {
    pub rows: Vec<Candidate>,
    /// How much the trained fusion counts for this term (`gate`).
    pub gate: f64,
    /// Candidates the memory put there (label -> evidence).
    pub evidence: HashMap<usize, String>,
    pub entropy: f64,
    pub dense: Vec<u32>,
    pub ensemble: Vec<u32>,
}

/// The per-term gate of a trained model's fusion: how close the term is to the coded terms the
/// model trained on or the team has confirmed since (its nearest neighbour's cosine), ramped from 0
/// at `GATE_LOW` to 1 at `GATE_HIGH`. Not LLT names: every model trains on them, and nearness to a
/// name did not mean the model knew the term's wording (EVALUATION.md). A fixed rule, not fitted:
/// with all-MiniLM-L6-v2 a cosine below 0.5 means the nearest term is typically unrelated, above
/// 0.8 a paraphrase. Below the ramp the proposals are the untuned dense index's, so a trained model
/// cannot be worse than it on terms unlike anything it or the team has coded.
pub const GATE_LOW: f64 = 0.5;
pub const GATE_HIGH: f64 = 0.8;

pub fn gate(nearest: f64) -> f64 {
    ((nearest - GATE_LOW) / (GATE_HIGH - GATE_LOW)).clamp(0.0, 1.0)
}

impl CandidateSet {
    /// The top label by the fusion `f` (ungated) and by the dense index (the first of equal
    /// scores, as the gate-0 ranking orders them): the two sides of the model's record.
    pub fn choices(&self, f: Fusion) -> Option<(usize, usize)> {
        let dense = self.rows.iter().reduce(|best, c| if c.dense > best.dense { c } else { best })?.label;
        Some((self.ranked(f).first()?.0, dense))
    }

    /// Ranked with the fusion for `gate` and the untuned dense similarity for the rest
    /// (`gate` 1: exactly `ranked`; 0: the dense index's order), best first.
    pub fn ranked_gated(&self, f: Fusion, gate: f64) -> Vec<(usize, f64, f64)> {
        if gate >= 1.0 {
            return self.ranked(f);
        }
        let mut s: Vec<(usize, f64)> = self
            .rows
            .iter()
            .map(|c| (c.label, gate * (f.w_ensemble * c.ln_p + f.w_xtars * c.xtars + f.w_dense * c.dense) / f.temperature + (1.0 - gate) * c.dense))
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        let max = s.first().map_or(0.0, |x| x.1);
        let z: f64 = s.iter().map(|(_, v)| (v - max).exp()).sum();
        s.into_iter().map(|(l, v)| (l, v, (v - max).exp() / z)).collect()
    }

    /// (label, fused score, confidence), best first.
    pub fn ranked(&self, f: Fusion) -> Vec<(usize, f64, f64)> {
        let mut s: Vec<(usize, f64)> = self.rows.iter().map(|c| (c.label, f.w_ensemble * c.ln_p + f.w_xtars * c.xtars + f.w_dense * c.dense)).collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        let max = s.first().map_or(0.0, |x| x.1);
        let z: f64 = s.iter().map(|(_, v)| ((v - max) / f.temperature).exp()).sum();
        s.into_iter().map(|(l, v)| (l, v, ((v - max) / f.temperature).exp() / z)).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TermProposals {
    /// Best first, at most `TOP`.
    pub proposals: Vec<Proposal>,
    /// Predictive entropy (nats) of the distribution the proposals come from.
    pub entropy: f64,
    /// The dense index's candidate LLT codes (for candidate-recall figures).
    pub dense_candidates: Vec<u32>,
    /// The ensemble's candidate LLT codes (empty without a trained model).
    pub ensemble_candidates: Vec<u32>,
    /// A trained model's top LLT by its fitted fusion and by the dense index (with the memory),
    /// before the gate: what a confirmation adds to the model's record.
    pub choices: Option<(u32, u32)>,
    /// How much the trained fusion counted for this term (the gate: nearness to coded terms times
    /// the model's record nearby); None without a trained model or with a fusion asked for.
    pub gate: Option<f64>,
}

pub struct Engine {
    pub dict: Arc<Dictionary>,
    encoder: Encoder,
    index: DenseIndex,
    pub trained: Option<Trained>,
    pub model_version: String,
    pub candidates: usize,
    pub device: Device,
    /// The team's confirmed terms (the synonym list), learned as they are confirmed.
    pub memory: Memory,
    /// Dense-index row of each current LLT code.
    labels: HashMap<u32, usize>,
    /// Where remembered terms' embeddings are cached: (folder, encoder fingerprint).
    memory_cache: Option<(PathBuf, String)>,
    /// What the untuned encoder reads of a query (typos corrected, shorthand spelt out).
    rewriter: rewrite::Rewriter,
    /// What the confidences mean, learned from confirmed decisions (empty: as the model says).
    pub calibration: Calibrations,
    /// Rank by PT confidence first, then by LLT within the PT (measured with `eval --pt-first`).
    pub pt_first: bool,
}

/// Orders candidates by their PT's confidence, then by their own within the PT (stable: equal
/// ones keep the model's order).
pub fn rank_pt_first(all: &mut [Proposal], mass: &HashMap<u32, f64>) {
    all.sort_by(|a, b| mass[&b.pt_code].total_cmp(&mass[&a.pt_code]).then(b.confidence.total_cmp(&a.confidence)));
}

/// Where an engine's encoder comes from.
enum Base<'a> {
    /// A BERT checkpoint folder (None: the installed MiniLM).
    Dir(Option<&'a Path>),
    Model(&'a BaseModel),
    /// An encoder already built (training's untuned encoder, tests' random one), with the label
    /// embeddings when they are computed already, and the engine's version.
    Encoder(Box<Encoder>, Option<Tensor>, String),
}

/// How to build an engine. By default: the installed base encoder on the best device, the newest
/// model trained for the dictionary's version in the data directory (else the untuned dense
/// index), no coded-term memory, fp32, quiet.
pub struct EngineBuilder<'a> {
    dict: Arc<Dictionary>,
    base: Base<'a>,
    device: Option<Device>,
    data_dir: Option<PathBuf>,
    trained: bool,
    model: Option<&'a str>,
    precision: Precision,
    progress: bool,
    note: Option<&'a mut dyn FnMut(String)>,
    memory: Option<&'a mut dyn ProposalStore>,
}

impl<'a> EngineBuilder<'a> {
    /// A BERT-family checkpoint folder instead of the installed MiniLM.
    pub fn base_dir(mut self, dir: Option<&'a Path>) -> Self {
        self.base = Base::Dir(dir);
        self
    }

    pub fn base(mut self, base: &'a BaseModel) -> Self {
        self.base = Base::Model(base);
        self
    }

    /// An encoder already built; `label_embeddings` when computed already (else they are).
    pub fn encoder(mut self, encoder: Encoder, label_embeddings: Option<Tensor>, version: &str) -> Self {
        self.base = Base::Encoder(Box::new(encoder), label_embeddings, version.to_string());
        self
    }

    pub fn device(mut self, device: Device) -> Self {
        self.device = Some(device);
        self
    }

    /// Where models and embedding caches live (default: the data directory).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    /// The untuned dense index only, even when a trained model exists.
    pub fn zero_shot(mut self) -> Self {
        self.trained = false;
        self
    }

    /// A trained model by id (default: the newest for the dictionary's version).
    pub fn model(mut self, id: Option<&'a str>) -> Self {
        self.model = id;
        self
    }

    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Progress bars and notes on standard error.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Receives a line for the user when no trained model is used (instead of standard error).
    pub fn notes(mut self, note: &'a mut dyn FnMut(String)) -> Self {
        self.note = Some(note);
        self
    }

    /// The team's coded-term memory from this store's synonym list.
    pub fn memory(mut self, store: &'a mut dyn ProposalStore) -> Self {
        self.memory = Some(store);
        self
    }

    pub fn build(self) -> Result<Engine> {
        self.precision.check()?;
        let progress = self.progress;
        let mut engine = match self.base {
            Base::Encoder(encoder, emb, version) => {
                let emb = match emb {
                    Some(e) => e,
                    None => DenseIndex::load_or_build(&encoder, &self.dict, "test", None, false)?.emb,
                };
                Engine::from_index(self.dict, *encoder, emb, &version)
            }
            base => {
                let located;
                let base = match base {
                    Base::Model(b) => b,
                    Base::Dir(dir) => {
                        located = BaseModel::locate(dir)?;
                        &located
                    }
                    Base::Encoder(..) => unreachable!("handled above"),
                };
                let device = self.device.unwrap_or_else(crate::torch_env::device);
                let data_dir = match self.data_dir {
                    Some(d) => d,
                    None => crate::paths::data_dir()?,
                };
                let mut stderr_note = |note: String| {
                    if progress {
                        eprintln!("{note}")
                    }
                };
                let note: &mut dyn FnMut(String) = match self.note {
                    Some(n) => n,
                    None => &mut stderr_note,
                };
                if self.trained {
                    Engine::load(self.dict, base, device, &data_dir, self.model, progress, note)?
                } else {
                    Engine::zero_shot(self.dict, base, device, Some(&data_dir.join("cache")), progress)?
                }
            }
        };
        if let Some(store) = self.memory {
            engine.sync_memory(store)?;
        }
        // After loading: the dense index and the embedding caches are always computed in fp32.
        engine.set_precision(self.precision);
        Ok(engine)
    }
}

impl Engine {
    fn assemble(dict: Arc<Dictionary>, encoder: Encoder, index: DenseIndex, model_version: String) -> Engine {
        let device = encoder.device();
        let labels = memory::label_map(&dict, &index.llts);
        let memory = Memory::empty(encoder.bert.config.hidden_size, device);
        let rewriter = rewrite::Rewriter::new(&dict, encoder.tok.clone());
        Engine {
            dict,
            encoder,
            index,
            trained: None,
            model_version,
            candidates: 10,
            device,
            memory,
            labels,
            memory_cache: None,
            rewriter,
            calibration: Calibrations::default(),
            pt_first: false,
        }
    }

    /// The one way to build an engine (the CLI, the desk, the proposal service, bench, replay,
    /// training and tests): see `EngineBuilder`.
    pub fn builder<'a>(dict: impl Into<Arc<Dictionary>>) -> EngineBuilder<'a> {
        EngineBuilder {
            dict: dict.into(),
            base: Base::Dir(None),
            device: None,
            data_dir: None,
            trained: true,
            model: None,
            precision: Precision::Fp32,
            progress: false,
            note: None,
            memory: None,
        }
    }

    /// The untuned base encoder over the dictionary's current LLT names.
    fn zero_shot(dict: Arc<Dictionary>, base: &BaseModel, device: Device, cache_dir: Option<&Path>, show_progress: bool) -> Result<Engine> {
        let encoder = Encoder::pretrained(base, device)?;
        let fp = base.fingerprint()?;
        let index = DenseIndex::load_or_build(&encoder, &dict, &fp, cache_dir, show_progress)?;
        let mut engine = Engine::assemble(dict, encoder, index, format!("zero-shot-dense/{fp}"));
        engine.memory_cache = cache_dir.map(|d| (d.to_path_buf(), fp));
        debug_assert_eq!(engine.device, device);
        Ok(engine)
    }

    /// The newest model trained for this dictionary version (or the one named), else zero-shot.
    /// `note` receives a line for the user when no trained model is used.
    fn load(
        dict: Arc<Dictionary>,
        base: &BaseModel,
        device: Device,
        data_dir: &Path,
        named: Option<&str>,
        show_progress: bool,
        note: &mut dyn FnMut(String),
    ) -> Result<Engine> {
        let engine = Engine::zero_shot(dict.clone(), base, device, Some(&data_dir.join("cache")), show_progress)?;
        let Some((dir, m)) = registry::choose(data_dir, &dict.version, named)? else {
            let others: Vec<String> = registry::list(data_dir)?.into_iter().map(|(_, m)| format!("{} (MedDRA {})", m.id, m.meddra_version)).collect();
            note(if others.is_empty() {
                "No trained model yet: proposals come from the untuned dense index (train one with `medcoder train`).".to_string()
            } else {
                format!("No model trained for MedDRA {}: using the untuned dense index (models found: {}).", dict.version, others.join(", "))
            });
            return Ok(engine);
        };
        if m.base_fingerprint != base.fingerprint()? {
            anyhow::bail!("model {} was trained from another base encoder ({}); pass the same --base or retrain", m.id, m.base_model);
        }
        registry::verify(&dir, &m)?;
        let codes: Vec<u32> = serde_json::from_str(&std::fs::read_to_string(dir.join("labels.json"))?)?;
        let ours: Vec<u32> = engine.index.llts.iter().map(|&i| dict.llts[i].code).collect();
        if codes != ours {
            anyhow::bail!("model {} has labels that do not match MedDRA {} as loaded: retrain with `medcoder train`", m.id, dict.version);
        }
        let tok = engine.encoder.tok.clone();
        let members = (0..m.hyper.members)
            .map(|i| Classifier::load(&dir.join(format!("member-{i}.safetensors")), &m.bert_config, tok.clone(), codes.len() as i64, device))
            .collect::<Result<Vec<_>>>()?;
        let xtars = CrossEncoder::load(&dir.join("xtars.safetensors"), &m.bert_config, tok, device)?;
        let coded = match std::fs::read_to_string(dir.join("coded_terms.txt")) {
            Ok(text) => {
                let terms: Vec<String> = text.lines().map(str::to_string).collect();
                Some(memory::embed_cached(&engine.encoder, &terms, Some(&data_dir.join("cache")), &format!("coded-{}", m.id))?)
            }
            Err(_) => None,
        };
        // What the model trained on (names, their copies, coded terms; not validation terms).
        let trained_on: HashSet<String> = std::fs::read_to_string(dir.join("train_terms.txt"))
            .with_context(|| format!("reading {}", dir.join("train_terms.txt").display()))?
            .lines()
            .map(str::to_string)
            .collect();
        let mut record = record::Record::empty(engine.encoder.bert.config.hidden_size, device);
        let file = dir.join(record::VALIDATION_FILE);
        if let Ok(text) = std::fs::read_to_string(&file) {
            let (terms, won) = record::parse_validation(&text).with_context(|| format!("reading {}", file.display()))?;
            let emb = memory::embed_cached(&engine.encoder, &terms, Some(&data_dir.join("cache")), &format!("valrec-{}", m.id))?;
            record.extend(&emb, &won);
        }
        Ok(engine.with_trained(Trained { members, xtars, manifest: m, coded, trained_on, record_start: record.clone(), record }))
    }

    /// The precision of every encoder's forward pass from now on.
    pub fn set_precision(&mut self, precision: Precision) {
        self.encoder.precision = precision;
        if let Some(t) = &mut self.trained {
            for m in &mut t.members {
                m.enc.precision = precision;
            }
            t.xtars.enc.precision = precision;
        }
    }

    /// Learns what the synonym list gained, lost or changed since the last call (the first call
    /// loads it all, from the embedding cache where it can). Cheap when nothing changed: one query.
    /// A confirmation changes the synonym list, so the calibration is learned again with it.
    pub fn sync_memory(&mut self, store: &mut dyn ProposalStore) -> Result<usize> {
        let version = &self.dict.version;
        if store.synonym_seq_of(version)? <= self.memory.seq {
            return Ok(0);
        }
        let changes = store.synonym_changes(version, self.memory.seq)?;
        self.learn_changes(&changes)?;
        self.calibrate(&store.decided_cases()?);
        Ok(changes.len())
    }

    /// Learns the calibration from confirmed decisions whose proposals kept their raw figures,
    /// where the model was asked (rule- and synonym-coded items say nothing of it).
    pub fn calibrate(&mut self, cases: &[crate::backtest::Case]) {
        let mut c = Calibrations::default();
        for case in cases.iter().filter(|c| c.route.model_asked()) {
            if let Some(raw) = case.raw {
                c.observe(raw.basis, raw.llt, case.llt_hit(), raw.pt, case.pt_hit());
            }
        }
        self.calibration = c;
    }

    /// Learns synonym changes (in `seq` order) into the memory and, with a trained model, its
    /// record.
    pub fn learn_changes(&mut self, changes: &[Synonym]) -> Result<()> {
        let first = self.memory.entries.is_empty();
        let cached = match (&self.memory_cache, first) {
            (Some((dir, fp)), true) => Memory::read_cache(dir, fp),
            _ => memory::Cache::default(),
        };
        // The model's record needs its choices from before the memory knew the terms.
        let outcomes = self.record_outcomes(changes, first)?;
        let labels = &self.labels;
        self.memory.learn(changes, &self.encoder, &|code| labels.get(&code).copied(), &cached)?;
        // Embedded as queries are (with the rewriter's reading).
        if !outcomes.is_empty() {
            let emb = self.embed(&outcomes.iter().map(|o| o.0.as_str()).collect::<Vec<_>>())?;
            for (i, (term, choices, llt)) in outcomes.iter().enumerate() {
                self.learn_record(term, &emb.get(i as i64), Some(*choices), *llt);
            }
        }
        let embedded = self.memory.entries.iter().any(|e| !cached.rows.contains_key(&e.term));
        if let (Some((dir, fp)), true) = (&self.memory_cache, first && embedded) {
            // A failed cache write only costs embedding again next time.
            let _ = self.memory.save_cache(dir, fp);
        }
        Ok(())
    }

    /// The fusion's and the dense index's choices for the held-out terms of `changes` that the
    /// memory does not know yet (newest per term, active, a current LLT, not a training term)
    /// where exactly one was confirmed, as (term, choices, confirmed LLT) in confirmation order. Choices are cached per model; a
    /// first load computes the missing ones among the newest `RECORD_AT_START`.
    fn record_outcomes(&mut self, changes: &[Synonym], first: bool) -> Result<Vec<Outcome>> {
        let Some(t) = &self.trained else { return Ok(vec![]) };
        let mut pending: Vec<&Synonym> = memory::newest_per_term(changes)
            .into_iter()
            .filter(|s| s.hold.is_none() && self.labels.contains_key(&s.llt_code) && !self.memory.knows(&s.term) && !t.trained_on.contains(&s.term))
            .collect();
        if pending.is_empty() {
            return Ok(vec![]);
        }
        if pending.len() > record::CAPACITY {
            pending.drain(..pending.len() - record::CAPACITY);
        }
        let file = self.memory_cache.as_ref().map(|(dir, _)| dir.join(format!("record-{}.json", t.manifest.id)));
        let key = |s: &Synonym| format!("{}\t{}", s.term, s.llt_code);
        // key -> (fusion, dense, seq of the confirmation)
        let mut known: HashMap<String, (u32, u32, i64)> =
            file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()).and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default();
        // A first load computes choices for the newest terms only (older ones count when a desk
        // cached them as they were confirmed): each costs a proposal, and desks start often.
        let newest = if first { pending.len().saturating_sub(RECORD_AT_START) } else { 0 };
        let missing: Vec<&Synonym> = pending[newest..].iter().copied().filter(|s| !known.contains_key(&key(s))).collect();
        for chunk in missing.chunks(64) {
            let terms: Vec<&str> = chunk.iter().map(|s| s.term.as_str()).collect();
            for (s, p) in chunk.iter().zip(self.propose(&terms)?) {
                if let Some((f, d)) = p.choices {
                    known.insert(key(s), (f, d, s.seq));
                }
            }
        }
        // Only disagreements with one side right are evidence.
        let outcomes: Vec<Outcome> = pending
            .iter()
            .filter_map(|s| known.get(&key(s)).map(|&(f, d, _)| (s.term.clone(), (f, d), s.llt_code)))
            .filter(|(_, (f, d), llt)| record::winner(*f, *d, *llt).is_some())
            .collect();
        if let (Some(f), false) = (file, missing.is_empty()) {
            if known.len() > record::CAPACITY {
                let mut by_seq: Vec<(String, (u32, u32, i64))> = known.into_iter().collect();
                by_seq.sort_by_key(|(_, v)| std::cmp::Reverse(v.2));
                by_seq.truncate(record::CAPACITY);
                known = by_seq.into_iter().collect();
            }
            // Written aside and renamed: a desk and a command sharing the folder never read half a
            // file. A failed write only costs computing the choices again next time.
            let tmp = f.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, serde_json::to_string(&known)?).is_ok() {
                let _ = std::fs::rename(&tmp, &f);
            }
        }
        Ok(outcomes)
    }

    /// Forgets every remembered term and what the model's record learned (a replay starts from
    /// what the stream teaches, and the model from its validation record).
    pub fn forget(&mut self) {
        self.memory = Memory::empty(self.encoder.bert.config.hidden_size, self.device);
        if let Some(t) = &mut self.trained {
            t.record = t.record_start.clone();
        }
    }

    /// Remembers a confirmed (term, LLT) with its embedding, as a replay learns a row.
    pub fn remember(&mut self, term: &str, llt_code: u32, item: Option<String>, emb: &Tensor) {
        let label = self.labels.get(&llt_code).copied();
        self.memory.remember(term, label, item, emb);
    }

    /// Adds a confirmed term to the trained model's record when it is held out (not a term the
    /// model trained on) and exactly one of `choices` (fusion, dense; from its proposals before
    /// it was learned) was right. `emb`: the term's unit embedding. Returns whether it counted.
    pub fn learn_record(&mut self, term: &str, emb: &Tensor, choices: Option<(u32, u32)>, confirmed: u32) -> bool {
        let (Some(t), Some((fusion, dense))) = (&mut self.trained, choices) else { return false };
        // Models from before the gate (no coded terms) keep no record, as they are not gated.
        if t.coded.is_none() || t.trained_on.contains(&crate::text::normalize(term)) {
            return false;
        }
        match record::winner(fusion, dense, confirmed) {
            Some(won) => {
                t.record.add(emb, won);
                true
            }
            None => false,
        }
    }

    /// Similarity of each query row to every LLT: the best of its name and its remembered terms,
    /// then the names' alone (the evidence compares the two), and the memory's recall.
    fn similarities(&self, q: &Tensor) -> (Tensor, Tensor, Option<Recall>) {
        let names = self.index.similarities(q);
        let Some(recall) = self.memory.recall(q) else { return (names.shallow_clone(), names, None) };
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for (&(b, label), &(sim, _)) in &recall.best {
            rows.push(b);
            cols.push(label as i64);
            vals.push(sim as f32);
        }
        let (rows, cols) = (Tensor::from_slice(&rows).to_device(q.device()), Tensor::from_slice(&cols).to_device(q.device()));
        let current = names.index(&[Some(&rows), Some(&cols)]);
        let better = current.maximum(&Tensor::from_slice(&vals).to_device(q.device()));
        let mut combined = names.copy();
        let _ = combined.index_put_(&[Some(rows), Some(cols)], &better, false);
        (combined, names, Some(recall))
    }

    /// "like 'TERM', ITEM" when the memory, not the LLT's own name, gave `label` its score.
    fn evidence(&self, recall: Option<&Recall>, b: i64, label: usize, names_sim: f64) -> Option<String> {
        let (e, sim) = self.memory.evidence(recall?, b, label)?;
        (sim > names_sim).then(|| match &e.item {
            Some(item) => format!("like '{}', {item}", e.term),
            None => format!("like '{}' (synonym list)", e.term),
        })
    }

    /// An engine over label embeddings already computed.
    fn from_index(dict: Arc<Dictionary>, encoder: Encoder, emb: Tensor, model_version: &str) -> Engine {
        let llts = dict.current_llt_indexes();
        Engine::assemble(dict, encoder, DenseIndex { llts, emb }, model_version.into())
    }

    /// Adds trained parts (used right after training and by tests).
    pub fn with_trained(mut self, trained: Trained) -> Engine {
        self.model_version = trained.manifest.id.clone();
        self.candidates = trained.manifest.hyper.candidates;
        self.trained = Some(trained);
        self
    }

    pub fn describe(&self) -> String {
        let kind = match &self.trained {
            Some(t) => format!("{}-member ensemble + XTARS reranker", t.members.len()),
            None => "untuned dense index (zero-shot)".into(),
        };
        format!(
            "{} [{kind}] over MedDRA {} ({} current LLTs) on {:?}, {}",
            self.model_version,
            self.dict.version,
            self.index.llts.len(),
            self.device,
            self.encoder.precision.name(self.device)
        )
    }

    /// Proposals for a batch of terms.
    pub fn propose(&self, terms: &[&str]) -> Result<Vec<TermProposals>> {
        self.propose_with(terms, None)
    }

    /// Proposals with another fusion than the model's (e.g. one component alone); dense-only
    /// without a model.
    pub fn propose_with(&self, terms: &[&str], fusion: Option<Fusion>) -> Result<Vec<TermProposals>> {
        match &self.trained {
            // The model's own fusion is gated per term; a fusion asked for (one component alone)
            // is not.
            Some(t) => self.propose_trained(t, terms, fusion.unwrap_or(t.manifest.fusion), fusion.is_none()),
            None => self.propose_dense(terms),
        }
    }

    /// Ensemble mean probabilities [batch, labels], similarities [batch, labels] (names and
    /// remembered terms), the names' alone, the memory's recall, and the query embeddings.
    fn component_scores(&self, t: &Trained, terms: &[&str]) -> Result<(Tensor, Tensor, Tensor, Option<Recall>, Tensor)> {
        let _guard = tch::no_grad_guard();
        let q = self.embed_queries(terms)?;
        let (sims, names, recall) = self.similarities(&q);
        let ensemble = |texts: &[&str]| {
            let lens: Vec<usize> = texts.iter().map(|t| t.len()).collect();
            crate::model::tokenize::length_batched(&lens, 64, |idx| {
                let chunk: Vec<&str> = idx.iter().map(|&i| texts[i]).collect();
                Ok(crate::model::classifier::mean_softmax(&t.members, &self.encoder.tok.encode(&chunk, self.device)?))
            })
        };
        let p = ensemble(terms)?;
        // The ensemble reads a rewritten term both ways, equally, as the dense index does.
        let (rows, texts): (Vec<i64>, Vec<String>) = self.rewritten(terms).into_iter().unzip();
        if rows.is_empty() {
            return Ok((p, sims, names, recall, q));
        }
        let rows = Tensor::from_slice(&rows).to_device(p.device());
        let both = (p.index_select(0, &rows) + ensemble(&texts.iter().map(String::as_str).collect::<Vec<_>>())?) / 2.0;
        Ok((p.index_copy(0, &rows, &both), sims, names, recall, q))
    }

    /// (row, rewritten text) of each term the rewriter reads otherwise than written.
    fn rewritten(&self, terms: &[&str]) -> Vec<(i64, String)> {
        terms.iter().enumerate().filter_map(|(i, t)| Some((i as i64, self.rewriter.rewrite(t))).filter(|(_, r)| r != t)).collect()
    }

    /// Every candidate of every term with its component scores, plus the ensemble entropy and
    /// the two candidate lists. Shared by proposing and by fitting the fusion.
    pub fn candidates(&self, t: &Trained, terms: &[&str], with_xtars: bool) -> Result<Vec<CandidateSet>> {
        let (p, sims, names, recall, q) = self.component_scores(t, terms)?;
        let trust = t.record.trust(&q);
        // Each term's best cosine to the model's coded training terms.
        let nearest_coded: Option<Vec<f64>> = match &t.coded {
            Some(c) if c.size()[0] > 0 => Some(Vec::<f64>::try_from(q.matmul(&c.tr()).amax(-1, false).to_device(Device::Cpu).to_kind(Kind::Double))?),
            Some(_) => Some(vec![-1.0; terms.len()]),
            None => None,
        };
        let entropy = -(&p * p.clamp_min(1e-12).log()).sum_dim_intlist(-1, false, Kind::Float);
        let n = (self.candidates as i64).min(self.index.llts.len() as i64);
        // Top-n and the candidates' scores are gathered on the device; only [terms x 2n] values
        // come back, in one copy each (not [terms x LLTs], nor one read per element).
        let (_, ens_top) = p.topk(n, -1, true, true);
        let (_, dense_top) = sims.topk(n, -1, true, true);
        let idx = Tensor::cat(&[&ens_top, &dense_top], 1);
        let host_f = |x: &Tensor| Vec::<f64>::try_from(x.gather(1, &idx, false).flatten(0, -1).to_kind(Kind::Double).to_device(Device::Cpu));
        let (p_at, sims_at, names_at) = (host_f(&p)?, host_f(&sims)?, host_f(&names)?);
        let idx = Vec::<i64>::try_from(idx.flatten(0, -1).to_device(Device::Cpu))?;
        let entropy = Vec::<f64>::try_from(entropy.to_kind(Kind::Double).to_device(Device::Cpu))?;
        let w = 2 * n as usize;
        let mut sets = Vec::with_capacity(terms.len());
        for b in 0..terms.len() {
            let row = &idx[b * w..(b + 1) * w];
            let (ens, dense) = row.split_at(n as usize);
            // The ensemble's top-n, then the dense index's top-n not yet in (by position in `row`).
            let mut pos: Vec<usize> = (0..n as usize).collect();
            pos.extend((n as usize..w).filter(|&j| !ens.contains(&row[j])));
            let rows = pos
                .iter()
                .map(|&j| Candidate {
                    label: row[j] as usize,
                    ln_p: p_at[b * w + j].max(1e-12).ln(),
                    xtars: 0.0,
                    dense: sims_at[b * w + j] / ZERO_SHOT_TEMPERATURE,
                })
                .collect();
            let code = |i: &i64| self.dict.llts[self.index.llts[*i as usize]].code;
            let evidence =
                pos.iter().filter_map(|&j| Some((row[j] as usize, self.evidence(recall.as_ref(), b as i64, row[j] as usize, names_at[b * w + j])?))).collect();
            let nearest = nearest_coded.as_ref().map(|c| c[b].max(self.memory.nearest(recall.as_ref(), b as i64)));
            sets.push(CandidateSet {
                gate: nearest.map_or(1.0, gate) * trust[b],
                evidence,
                rows,
                entropy: entropy[b],
                dense: dense.iter().map(code).collect(),
                ensemble: ens.iter().map(code).collect(),
            });
        }
        if with_xtars {
            let (mut ls, mut ts) = (Vec::new(), Vec::new());
            for (b, s) in sets.iter().enumerate() {
                for r in &s.rows {
                    ls.push(self.dict.llts[self.index.llts[r.label]].name.as_str());
                    ts.push(terms[b]);
                }
            }
            let n_written = ls.len();
            // A rewritten term's pairs are scored both ways too, and averaged.
            let rewritten: HashMap<usize, String> = self.rewritten(terms).into_iter().map(|(b, r)| (b as usize, r)).collect();
            for (b, s) in sets.iter().enumerate() {
                if let Some(r) = rewritten.get(&b) {
                    for c in &s.rows {
                        ls.push(self.dict.llts[self.index.llts[c.label]].name.as_str());
                        ts.push(r.as_str());
                    }
                }
            }
            let mut xt = t.xtars.score(&ls, &ts, 256)?;
            let (mut k, mut extra) = (0, n_written);
            for (b, s) in sets.iter().enumerate() {
                if rewritten.contains_key(&b) {
                    for j in 0..s.rows.len() {
                        xt[k + j] = (xt[k + j] + xt[extra + j]) / 2.0;
                    }
                    extra += s.rows.len();
                }
                k += s.rows.len();
            }
            let mut k = 0;
            for s in &mut sets {
                for r in &mut s.rows {
                    r.xtars = xt[k];
                    k += 1;
                }
            }
        }
        Ok(sets)
    }

    fn propose_trained(&self, t: &Trained, terms: &[&str], fusion: Fusion, gated: bool) -> Result<Vec<TermProposals>> {
        let sets = self.candidates(t, terms, fusion.w_xtars != 0.0)?;
        let code = |label: usize| self.dict.llts[self.index.llts[label]].code;
        Ok(sets
            .into_iter()
            .map(|s| {
                let ranked = if gated { s.ranked_gated(fusion, s.gate) } else { s.ranked(fusion) };
                let choices = s.choices(fusion).map(|(f, d)| (code(f), code(d)));
                let all = ranked
                    .iter()
                    .map(|&(label, score, confidence)| {
                        let l = &self.dict.llts[self.index.llts[label]];
                        Proposal::plain(l.code, l.pt_code, score, confidence).with_evidence(s.evidence.get(&label).cloned())
                    })
                    .collect();
                let basis = if gated && s.gate <= 0.0 { Basis::Dense } else { Basis::Fusion };
                let proposals = self.finish(all, basis);
                let gate = gated.then_some(s.gate);
                TermProposals { proposals, entropy: s.entropy, dense_candidates: s.dense, ensemble_candidates: s.ensemble, choices, gate }
            })
            .collect())
    }

    /// The top `TOP` of every candidate (best first, raw confidences): each with its PT's
    /// confidence (the sum over the candidates of its PT), calibrated for the basis of the top
    /// proposal (the memory's when it put the top there), the raw figures kept; ranked by PT first
    /// when the engine is asked to. The calibration maps the top's confidences; the others share
    /// what the top leaves in their raw proportions, so the figures of a list still add up, and
    /// every LLT of one PT shows the same PT figure.
    fn finish(&self, mut all: Vec<Proposal>, basis: Basis) -> Vec<Proposal> {
        let basis = if all.first().is_some_and(|p| p.evidence.is_some()) { Basis::Memory } else { basis };
        let mut mass: HashMap<u32, f64> = HashMap::new();
        for p in &all {
            *mass.entry(p.pt_code).or_default() += p.confidence;
        }
        if self.pt_first {
            rank_pt_first(&mut all, &mass);
        }
        all.truncate(TOP);
        let Some(top) = all.first() else { return all };
        let (raw_llt, raw_pt) = (top.confidence.clamp(0.0, 1.0), mass[&top.pt_code].clamp(0.0, 1.0));
        let top_llt = self.calibration.llt.apply(basis, raw_llt);
        let top_pt = self.calibration.pt.apply(basis, raw_pt).max(top_llt);
        let rest = |raw: f64, cal: f64| if raw < 1.0 { (1.0 - cal) / (1.0 - raw) } else { 0.0 };
        let (llt_scale, pt_scale) = (rest(raw_llt, top_llt), rest(raw_pt, top_pt));
        let top_pt_code = top.pt_code;
        // (the PT's own figure, the sum of its LLTs shown)
        let mut pt_value: HashMap<u32, (f64, f64)> = HashMap::new();
        for (i, p) in all.iter_mut().enumerate() {
            let raw = Raw { llt: p.confidence.clamp(0.0, 1.0), pt: mass[&p.pt_code].clamp(0.0, 1.0), basis };
            p.confidence = if i == 0 { top_llt } else { (raw.llt * llt_scale).min(top_llt) };
            let pt = if p.pt_code == top_pt_code { top_pt } else { (raw.pt * pt_scale).min(1.0) };
            pt_value.entry(p.pt_code).or_insert((pt, 0.0)).1 += p.confidence;
            p.raw = Some(raw);
        }
        // A PT is at least as likely as its LLTs shown together.
        for p in &mut all {
            let (pt, sum) = pt_value[&p.pt_code];
            p.pt_confidence = Some(pt.max(sum).min(1.0));
        }
        all
    }

    fn propose_dense(&self, terms: &[&str]) -> Result<Vec<TermProposals>> {
        let _guard = tch::no_grad_guard();
        let q = self.embed_queries(terms)?;
        self.propose_embedded(&q)
    }

    /// Zero-shot proposals for query embeddings (unit rows): a softmax over each LLT's best
    /// similarity (its name or a remembered term). Replay calls it with embeddings computed once.
    pub fn propose_embedded(&self, q: &Tensor) -> Result<Vec<TermProposals>> {
        let _guard = tch::no_grad_guard();
        let (sims, names, recall) = self.similarities(q);
        let probs = (&sims / ZERO_SHOT_TEMPERATURE).softmax(-1, Kind::Float);
        let entropy = -(&probs * probs.clamp_min(1e-12).log()).sum_dim_intlist(-1, false, Kind::Float);
        let k = (self.candidates.max(TOP) as i64).min(self.index.llts.len() as i64);
        let (top_p, top_i) = probs.topk(k, -1, true, true);
        let host_f = |x: &Tensor| Vec::<f64>::try_from(x.flatten(0, -1).to_kind(Kind::Double).to_device(Device::Cpu));
        let (top_p, sims_at, names_at, entropy) =
            (host_f(&top_p)?, host_f(&sims.gather(1, &top_i, false))?, host_f(&names.gather(1, &top_i, false))?, host_f(&entropy)?);
        let top_i = Vec::<i64>::try_from(top_i.flatten(0, -1).to_device(Device::Cpu))?;
        let k = k as usize;
        let mut out = Vec::with_capacity(q.size()[0] as usize);
        for b in 0..q.size()[0] as usize {
            let idx = &top_i[b * k..(b + 1) * k];
            let codes: Vec<u32> = idx.iter().map(|&i| self.dict.llts[self.index.llts[i as usize]].code).collect();
            let all = (0..k)
                .map(|j| {
                    let l = &self.dict.llts[self.index.llts[idx[j] as usize]];
                    let evidence = self.evidence(recall.as_ref(), b as i64, idx[j] as usize, names_at[b * k + j]);
                    Proposal::plain(l.code, l.pt_code, sims_at[b * k + j], top_p[b * k + j]).with_evidence(evidence)
                })
                .collect();
            let proposals = self.finish(all, Basis::Dense);
            out.push(TermProposals { proposals, entropy: entropy[b], dense_candidates: codes, ensemble_candidates: vec![], choices: None, gate: None });
        }
        Ok(out)
    }

    /// The untuned encoder's unit embeddings of query terms, as the rewriter spells them.
    fn embed_queries(&self, terms: &[&str]) -> Result<Tensor> {
        let raw = self.encoder.embed(terms, 64, None)?;
        let rewritten = self.rewritten(terms);
        if rewritten.is_empty() {
            return Ok(raw);
        }
        // The term as written and as rewritten, equally: a wrong correction cannot lose what the
        // written form said.
        let texts: Vec<&str> = rewritten.iter().map(|(_, r)| r.as_str()).collect();
        let rows = Tensor::from_slice(&rewritten.iter().map(|(i, _)| *i).collect::<Vec<_>>()).to_device(raw.device());
        let both = raw.index_select(0, &rows) + self.encoder.embed(&texts, 64, None)?;
        let both = &both / both.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
        Ok(raw.index_copy(0, &rows, &both))
    }

    /// Unit embeddings of terms with the untuned encoder (what the dense index and the memory use).
    pub fn embed(&self, terms: &[&str]) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        self.embed_queries(terms)
    }
}

impl TermProposals {
    /// The proposals as the store keeps them for a queue item.
    pub fn to_store(&self, model_version: &str, meddra_version: &str) -> ProposalSet {
        ProposalSet {
            model_version: model_version.into(),
            meddra_version: meddra_version.into(),
            entropy: Some(self.entropy),
            proposals: self.proposals.clone(),
            computed_at: crate::store::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(gate: f64) -> CandidateSet {
        // Label 0: the ensemble's choice; label 1: the dense index's.
        let rows = vec![Candidate { label: 0, ln_p: -0.1, xtars: 2.0, dense: 10.0 }, Candidate { label: 1, ln_p: -3.0, xtars: -1.0, dense: 14.0 }];
        CandidateSet { rows, gate, evidence: HashMap::new(), entropy: 0.5, dense: vec![], ensemble: vec![] }
    }

    #[test]
    fn the_gate_moves_from_the_dense_index_to_the_trained_fusion() {
        assert_eq!((gate(0.3), gate(0.5), gate(0.65), gate(0.8), gate(0.95)), (0.0, 0.0, 0.5, 1.0, 1.0));
        let f = Fusion { w_ensemble: 1.0, w_xtars: 1.0, w_dense: 0.0, temperature: 0.5 };
        assert_eq!(set(1.0).ranked_gated(f, 1.0), set(1.0).ranked(f), "gate 1: the trained fusion as it is");
        assert_eq!(set(1.0).ranked(f)[0].0, 0);
        let dense_only = set(0.0).ranked_gated(f, 0.0);
        assert_eq!(dense_only[0].0, 1, "gate 0: the dense index's order");
        let zero_shot = (14.0f64 - 10.0).exp();
        assert!((dense_only[0].2 - zero_shot / (1.0 + zero_shot)).abs() < 1e-12, "and its confidence (softmax of cos/0.05)");
    }
}
