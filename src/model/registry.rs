//! Trained models on disk: one folder per model under `<data dir>/models`, with a manifest that
//! records what it was trained on and checksums of its files. A model is written to a temporary
//! folder and renamed into place only when complete, so an interrupted training leaves none behind.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bert::BertConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    pub members: usize,
    pub epochs: usize,
    pub batch: usize,
    pub lr_encoder: f64,
    pub lr_head: f64,
    pub warmup: f64,
    pub xtars_epochs: usize,
    pub negatives_m: usize,
    pub negative_temperature: f64,
    pub candidates: usize,
    pub max_steps_per_epoch: Option<usize>,
    /// fp16 autocast with dynamic loss scaling (CUDA only; manifests from before it read as off).
    #[serde(default)]
    pub mixed_precision: bool,
    /// Batches drawn from pools of similar-length inputs (`train::length_bucketed`); manifests from
    /// before it read as off (their batches were drawn uniformly at random).
    #[serde(default)]
    pub length_buckets: bool,
}

/// How the final score combines the components: w_ens * ln P(ensemble) + w_xtars * match logit +
/// w_dense * cosine / 0.05, turned into confidences by a softmax at `temperature` over the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fusion {
    pub w_ensemble: f64,
    pub w_xtars: f64,
    pub w_dense: f64,
    pub temperature: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentScore {
    pub component: String,
    pub llt_at_1: f64,
    pub pt_at_1: f64,
    pub llt_at_5: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSum {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub id: String,
    pub created_at: String,
    pub medcoder_version: String,
    pub base_model: String,
    pub base_fingerprint: String,
    pub bert_config: BertConfig,
    pub meddra_version: String,
    pub labels: usize,
    pub training_data_hash: String,
    pub train_samples: usize,
    pub valid_samples: usize,
    /// The validation terms each member's epochs and the fusion were measured on: a seeded
    /// sample of at most `train::VALIDATION_SAMPLE` (issue #25), so that the work around the
    /// steps does not grow with the dictionary. 0 in manifests written before.
    #[serde(default)]
    pub validation_sample: usize,
    #[serde(default)]
    pub validation_seed: u64,
    pub coded_pairs: usize,
    pub seeds: Vec<u64>,
    pub hyper: Hyper,
    pub fusion: Fusion,
    /// False when too little coded validation data existed and the dense ranking was kept.
    #[serde(default)]
    pub fusion_fitted_on_coded_validation: bool,
    pub validation: Vec<ComponentScore>,
    pub device: String,
    pub training_seconds: f64,
    pub files: Vec<FileSum>,
}

pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

pub fn sha256_file(path: &Path) -> Result<(u64, String)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, hex::encode(h.finalize())))
}

/// A folder being written; `commit` moves it into place, dropping it removes it.
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staging {
    pub fn new(data_dir: &Path, id: &str) -> Result<Staging> {
        let models = models_dir(data_dir);
        std::fs::create_dir_all(&models).with_context(|| format!("creating {}", models.display()))?;
        // Leftovers of trainings that were interrupted.
        for e in std::fs::read_dir(&models)?.flatten() {
            if e.file_name().to_string_lossy().starts_with(".partial-") {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = models.join(format!(".partial-{id}"));
        std::fs::create_dir_all(&dir)?;
        Ok(Staging { dir, target: models.join(id), done: false })
    }

    /// Checksums every file, writes the manifest and renames the folder into place.
    pub fn commit(mut self, mut manifest: Manifest) -> Result<(PathBuf, Manifest)> {
        let mut files = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names.into_iter().filter(|n| n != "manifest.json") {
            let (bytes, sha256) = sha256_file(&self.dir.join(&name))?;
            files.push(FileSum { name, bytes, sha256 });
        }
        manifest.files = files;
        let text = serde_json::to_string_pretty(&manifest)?;
        std::fs::write(self.dir.join("manifest.json"), &text)?;
        std::fs::write(self.dir.join(MANIFEST_SUM), format!("{}  manifest.json\n", hex::encode(Sha256::digest(text.as_bytes()))))?;
        std::fs::rename(&self.dir, &self.target).with_context(|| format!("moving the model into {}", self.target.display()))?;
        self.done = true;
        Ok((self.target.clone(), manifest))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// All complete models, newest first.
pub fn list(data_dir: &Path) -> Result<Vec<(PathBuf, Manifest)>> {
    let dir = models_dir(data_dir);
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(&dir) else { return Ok(out) };
    for e in rd.flatten() {
        let p = e.path();
        let m = p.join("manifest.json");
        if e.file_name().to_string_lossy().starts_with('.') || !m.exists() {
            continue;
        }
        let text = std::fs::read_to_string(&m)?;
        let man: Manifest = serde_json::from_str(&text).with_context(|| format!("{}: not a medcoder model manifest", m.display()))?;
        out.push((p, man));
    }
    out.sort_by(|a, b| b.1.created_at.cmp(&a.1.created_at));
    Ok(out)
}

/// The manifest's own checksum, beside it: the files' checksums are in the manifest, so the
/// manifest (fusion weights, sizes) must be covered too.
pub const MANIFEST_SUM: &str = "manifest.sha256";

impl Manifest {
    /// Whether the manifest's figures can run: a model that would produce NaN confidences or
    /// panic (no ensemble members, no attention heads) fails here with its field named.
    pub fn check(&self) -> Result<()> {
        let bad = |field: &str, why: &str| -> Result<()> { bail!("model {}: manifest.json, field {field}: {why}", crate::text::printable(&self.id)) };
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return bad("id", "only letters, digits, '-', '_' and '.' are allowed");
        }
        let f = &self.fusion;
        // Bounds far beyond any fitted value, so that no score can overflow to infinity.
        for (field, v) in [("fusion.w_ensemble", f.w_ensemble), ("fusion.w_xtars", f.w_xtars), ("fusion.w_dense", f.w_dense)] {
            if !(v.is_finite() && v.abs() <= 1e3) {
                return bad(field, "must be a number between -1000 and 1000");
            }
        }
        if !(f.temperature.is_finite() && (1e-3..=1e3).contains(&f.temperature)) {
            return bad("fusion.temperature", "must be a number between 0.001 and 1000");
        }
        if self.hyper.members == 0 {
            return bad("hyper.members", "a model has at least one ensemble member");
        }
        if self.seeds.len() < self.hyper.members {
            return bad("seeds", "one seed per ensemble member");
        }
        let c = &self.bert_config;
        for (field, v) in [
            ("bert_config.vocab_size", c.vocab_size),
            ("bert_config.hidden_size", c.hidden_size),
            ("bert_config.num_hidden_layers", c.num_hidden_layers),
            ("bert_config.num_attention_heads", c.num_attention_heads),
            ("bert_config.intermediate_size", c.intermediate_size),
            ("bert_config.max_position_embeddings", c.max_position_embeddings),
        ] {
            if v <= 0 {
                return bad(field, "must be above 0");
            }
        }
        if c.hidden_size % c.num_attention_heads != 0 {
            return bad("bert_config.num_attention_heads", "must divide hidden_size");
        }
        if !(c.layer_norm_eps.is_finite() && c.layer_norm_eps > 0.0) {
            return bad("bert_config.layer_norm_eps", "must be a finite number above 0");
        }
        if self.labels == 0 {
            return bad("labels", "must be above 0");
        }
        for f in &self.files {
            if f.name.contains(['/', '\\']) || f.name.starts_with('.') {
                return bad("files", "a file name outside the model folder");
            }
        }
        Ok(())
    }
}

/// Checks the model's manifest (its own checksum and its figures) and every file against it; a
/// file in the folder that the manifest does not list is refused too.
pub fn verify(dir: &Path, m: &Manifest) -> Result<()> {
    let id = crate::text::printable(&m.id).into_owned();
    let sum = std::fs::read_to_string(dir.join(MANIFEST_SUM))
        .with_context(|| format!("model {id} has no {MANIFEST_SUM} (trained by an older medcoder, or edited): retrain it with `medcoder train`"))?;
    let text = std::fs::read(dir.join("manifest.json")).with_context(|| format!("reading the manifest of model {id}"))?;
    if sum.split_whitespace().next() != Some(hex::encode(Sha256::digest(&text)).as_str()) {
        bail!("model {id}: manifest.json does not match {MANIFEST_SUM} (edited); retrain or delete {}", dir.display());
    }
    m.check()?;
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "manifest.json" && name != MANIFEST_SUM && !m.files.iter().any(|f| f.name == name) {
            bail!("model {id}: {} is not listed in its manifest (added after training); retrain or delete {}", crate::text::printable(&name), dir.display());
        }
    }
    for f in &m.files {
        let p = dir.join(&f.name);
        let (bytes, sha) = sha256_file(&p).with_context(|| format!("model {} is incomplete", m.id))?;
        if bytes != f.bytes || sha != f.sha256 {
            bail!("model {}: {} does not match its checksum in the manifest (corrupted or edited); retrain or delete {}", m.id, f.name, dir.display());
        }
    }
    Ok(())
}

/// The model to use for a dictionary version: the one named, or the newest trained for it.
/// A named model trained for another version is refused.
pub fn choose(data_dir: &Path, meddra_version: &str, named: Option<&str>) -> Result<Option<(PathBuf, Manifest)>> {
    let all = list(data_dir)?;
    if let Some(id) = named {
        let Some((p, m)) = all.into_iter().find(|(_, m)| m.id == id) else { bail!("no trained model '{id}' in {}", models_dir(data_dir).display()) };
        if m.meddra_version != meddra_version {
            bail!("model {id} was trained for MedDRA {} but the active version is {meddra_version}: retrain with `medcoder train`", m.meddra_version);
        }
        return Ok(Some((p, m)));
    }
    Ok(all.into_iter().find(|(_, m)| m.meddra_version == meddra_version))
}
