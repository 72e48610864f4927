//! The XTARS cross-encoder: one segment `[CLS] LLT name [SEP] reported term [SEP]`, the [CLS]
//! state into a two-class match / no-match head. Every candidate gets a match probability, so the
//! screen can rank all of them (the paper's release abstained below 0.5).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::bert::BertConfig;
use super::tokenize::{length_batched, Batch, Tok};
use super::{BaseModel, Encoder};

pub struct CrossEncoder {
    pub enc: Encoder,
    head: nn::Linear,
}

impl CrossEncoder {
    pub fn from_base(base: &BaseModel, device: Device) -> Result<CrossEncoder> {
        Ok(Self::with_head(Encoder::pretrained(base, device)?))
    }

    pub fn with_head(enc: Encoder) -> CrossEncoder {
        let head = Self::head(&enc.vs.root(), enc.bert.config.hidden_size);
        CrossEncoder { enc, head }
    }

    /// The match / no-match head, in its own parameter group (its own learning rate).
    fn head(root: &nn::Path, hidden: i64) -> nn::Linear {
        nn::linear(root.sub("xtars_head").set_group(1), hidden, 2, Default::default())
    }

    pub fn load(file: &Path, config: &BertConfig, tok: Arc<Tok>, device: Device) -> Result<CrossEncoder> {
        let (enc, head) = Encoder::load_with_head(file, config, tok, device, |root| Self::head(root, config.hidden_size))?;
        Ok(CrossEncoder { enc, head })
    }

    pub fn save(&self, file: &Path) -> Result<()> {
        self.enc.vs.save(file).with_context(|| format!("writing {}", file.display()))
    }

    /// Two-class logits [batch, 2] (index 1 = match) for encoded (label, term) pairs.
    pub fn logits(&self, b: &Batch, train: bool) -> Tensor {
        let h = self.enc.hidden(b, train);
        let cls = h.select(1, 0);
        self.head.forward(&cls.dropout(self.enc.bert.config.hidden_dropout_prob, train)).to_kind(Kind::Float)
    }

    /// Match logit (log-odds of a match) for each (label name, term) pair.
    pub fn score(&self, labels: &[&str], terms: &[&str], batch: usize) -> Result<Vec<f64>> {
        let _g = tch::no_grad_guard();
        if labels.is_empty() {
            return Ok(vec![]);
        }
        let lens: Vec<usize> = labels.iter().zip(terms).map(|(l, t)| l.len() + t.len()).collect();
        let diff = length_batched(&lens, batch, |idx| {
            let (l, t): (Vec<&str>, Vec<&str>) = idx.iter().map(|&i| (labels[i], terms[i])).unzip();
            let lg = self.logits(&self.enc.tok.encode_pairs(&l, &t, self.enc.device())?, false);
            Ok(lg.select(1, 1) - lg.select(1, 0))
        })?;
        Ok(Vec::<f64>::try_from(diff.to_device(Device::Cpu).to_kind(Kind::Double))?)
    }
}
