//! The proposal engine: turns reported terms into ranked LLT proposals with a confidence and the
//! predictive entropy. Without trained models it proposes from the dense index alone, and says so.

pub mod dense;
pub mod worker;

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use tch::{Device, Kind, Tensor};

use crate::meddra::Dictionary;
use crate::model::{BaseModel, Encoder};
use dense::DenseIndex;

/// Softmax temperature of the untuned cosine similarities (all-MiniLM was trained contrastively at
/// a scale of 20, i.e. 0.05). Trained models fit their own on validation data.
pub const ZERO_SHOT_TEMPERATURE: f64 = 0.05;

/// How many proposals the coding screen shows.
pub const TOP: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub llt_code: u32,
    pub pt_code: u32,
    pub score: f64,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TermProposals {
    /// Best first, at most `TOP`.
    pub proposals: Vec<Scored>,
    /// Predictive entropy (nats) of the distribution the proposals come from.
    pub entropy: f64,
    /// The dense index's candidate LLT codes (for candidate-recall figures).
    pub dense_candidates: Vec<u32>,
}

pub struct Engine {
    pub dict: Arc<Dictionary>,
    encoder: Encoder,
    index: DenseIndex,
    pub model_version: String,
    pub candidates: usize,
    pub device: Device,
}

impl Engine {
    /// The untuned base encoder over the dictionary's current LLT names.
    pub fn zero_shot(dict: Arc<Dictionary>, base: &BaseModel, device: Device, cache_dir: Option<&Path>, show_progress: bool) -> Result<Engine> {
        let encoder = Encoder::pretrained(base, device)?;
        let fp = base.fingerprint()?;
        let index = DenseIndex::load_or_build(&encoder, &dict, &fp, cache_dir, show_progress)?;
        Ok(Engine { dict, encoder, index, model_version: format!("zero-shot-dense/{fp}"), candidates: 10, device })
    }

    /// Built from parts (tests use a random tiny encoder).
    pub fn from_parts(dict: Arc<Dictionary>, encoder: Encoder, model_version: &str) -> Result<Engine> {
        let index = DenseIndex::load_or_build(&encoder, &dict, "test", None, false)?;
        let device = encoder.device();
        Ok(Engine { dict, encoder, index, model_version: model_version.into(), candidates: 10, device })
    }

    pub fn describe(&self) -> String {
        format!("{} over MedDRA {} ({} current LLTs) on {:?}", self.model_version, self.dict.version, self.index.llts.len(), self.device)
    }

    /// Proposals for a batch of terms.
    pub fn propose(&self, terms: &[&str]) -> Result<Vec<TermProposals>> {
        let _guard = tch::no_grad_guard();
        let q = self.encoder.embed(terms, 64, None)?;
        let sims = self.index.similarities(&q);
        let probs = (&sims / ZERO_SHOT_TEMPERATURE).softmax(-1, Kind::Float);
        let entropy = -(&probs * probs.clamp_min(1e-12).log()).sum_dim_intlist(-1, false, Kind::Float);
        let k = (self.candidates.max(TOP) as i64).min(self.index.llts.len() as i64);
        let (top_p, top_i) = probs.topk(k, -1, true, true);
        let (top_p, top_i, sims, entropy) = (top_p.to_device(Device::Cpu), top_i.to_device(Device::Cpu), sims.to_device(Device::Cpu), entropy.to_device(Device::Cpu));
        let mut out = Vec::with_capacity(terms.len());
        for b in 0..terms.len() as i64 {
            let idx: Vec<i64> = Vec::<i64>::try_from(top_i.get(b))?;
            let p: Vec<f64> = Vec::<f64>::try_from(top_p.get(b).to_kind(Kind::Double))?;
            let codes: Vec<u32> = idx.iter().map(|&i| self.dict.llts[self.index.llts[i as usize]].code).collect();
            let proposals = idx
                .iter()
                .zip(&p)
                .take(TOP)
                .map(|(&i, &conf)| {
                    let l = &self.dict.llts[self.index.llts[i as usize]];
                    Scored { llt_code: l.code, pt_code: l.pt_code, score: sims.double_value(&[b, i]), confidence: conf }
                })
                .collect();
            out.push(TermProposals { proposals, entropy: entropy.double_value(&[b]), dense_candidates: codes });
        }
        Ok(out)
    }
}

/// Puts a `Tensor`-free summary in the store's form.
pub fn to_store(set: &TermProposals, model_version: &str, meddra_version: &str) -> crate::store::workflow::ProposalSet {
    crate::store::workflow::ProposalSet {
        model_version: model_version.into(),
        meddra_version: meddra_version.into(),
        entropy: Some(set.entropy),
        proposals: set
            .proposals
            .iter()
            .map(|s| crate::store::workflow::Proposal { llt_code: s.llt_code, pt_code: s.pt_code, score: s.score, confidence: s.confidence })
            .collect(),
        computed_at: crate::store::now(),
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Engine>();
    let _ = Tensor::zeros([1], (Kind::Float, Device::Cpu));
}
