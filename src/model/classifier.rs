//! An ensemble member: the BERT encoder fine-tuned with a cosine head over all current LLTs.
//!
//! The head starts as the untuned encoder's unit embeddings of the LLT names, with a learned scale,
//! so before any step it equals the zero-shot dense index and it scores LLTs never seen in training
//! sensibly (a randomly initialised head only learns surface forms: measured 50.1 vs 85.0 LLT@1).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

use super::bert::{l2_normalize, mean_pool, BertConfig};
use super::tokenize::{Batch, Tok};
use super::{BaseModel, Encoder};

/// Initial logit scale: 1/0.05, the temperature all-MiniLM was trained with.
pub const INITIAL_SCALE: f64 = 20.0;

pub struct Classifier {
    pub enc: Encoder,
    /// [labels, hidden] label directions (group 1: its own learning rate).
    pub head: Tensor,
    pub scale: Tensor,
}

impl Classifier {
    /// A new member from pretrained weights with the head set to `label_emb` ([labels, hidden]).
    pub fn from_base(base: &BaseModel, device: Device, label_emb: &Tensor) -> Result<Classifier> {
        let enc = Encoder::pretrained(base, device)?;
        Ok(Self::with_head(enc, label_emb))
    }

    /// A new member from an encoder already built (tests use a random tiny one).
    pub fn with_head(enc: Encoder, label_emb: &Tensor) -> Classifier {
        let p = enc.vs.root().sub("cls_head").set_group(1);
        let head = p.var_copy("weight", &label_emb.to_device(enc.device()).to_kind(Kind::Float));
        let scale = p.var_copy("scale", &Tensor::from(INITIAL_SCALE as f32));
        Classifier { enc, head, scale }
    }

    /// A trained member saved with `save`.
    pub fn load(file: &Path, config: &BertConfig, tok: Arc<Tok>, labels: i64, device: Device) -> Result<Classifier> {
        let (enc, (head, scale)) = Encoder::load_with_head(file, config, tok, device, |root| {
            let p = root.sub("cls_head").set_group(1);
            (p.zeros("weight", &[labels, config.hidden_size]), p.zeros("scale", &[]))
        })?;
        Ok(Classifier { enc, head, scale })
    }

    pub fn save(&self, file: &Path) -> Result<()> {
        self.enc.vs.save(file).with_context(|| format!("writing {}", file.display()))
    }

    /// Logits [batch, labels].
    pub fn logits(&self, b: &Batch, train: bool) -> Tensor {
        let h = self.enc.hidden(b, train);
        let q = l2_normalize(&mean_pool(&h, &b.mask));
        q.matmul(&l2_normalize(&self.head).tr()).to_kind(Kind::Float) * &self.scale
    }
}

/// The ensemble's prediction: the mean of the members' softmax over all labels [batch, labels].
pub fn mean_softmax(members: &[Classifier], b: &Batch) -> Tensor {
    assert!(!members.is_empty(), "an ensemble has at least one member");
    let sum = members.iter().map(|m| m.logits(b, false).softmax(-1, Kind::Float)).reduce(|a, p| a + p).expect("members");
    sum / members.len() as f64
}
