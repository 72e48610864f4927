//! The dense index: unit-length embeddings of every current LLT name from the untuned base encoder.
//! It is the zero-shot baseline and the candidate source that lets LLTs never seen in training be
//! proposed. Building it for a real release takes minutes on CPU, so it is cached on disk per
//! (encoder weights, dictionary version).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

use crate::meddra::Dictionary;
use crate::model::Encoder;

pub struct DenseIndex {
    /// Indexes into `Dictionary::llts` of the rows of `emb`.
    pub llts: Vec<usize>,
    /// [n, hidden], unit rows, on the encoder's device.
    pub emb: Tensor,
}

fn cache_file(dir: &Path, fingerprint: &str, dict: &Dictionary) -> PathBuf {
    let safe: String = dict.version.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    dir.join(format!("dense-{fingerprint}-{safe}-{}.safetensors", dict.llts.len()))
}

impl DenseIndex {
    /// Loads the cached index or builds (and caches) it, with a progress bar while building.
    pub fn load_or_build(encoder: &Encoder, dict: &Dictionary, fingerprint: &str, cache_dir: Option<&Path>, show_progress: bool) -> Result<DenseIndex> {
        let llts = dict.current_llt_indexes();
        let cache = cache_dir.map(|d| cache_file(d, fingerprint, dict));
        if let Some(path) = cache.as_ref().filter(|p| p.exists()) {
            if let Ok(mut t) = Tensor::read_safetensors(path) {
                if let Some((_, emb)) = t.pop().filter(|(_, e)| e.size().first() == Some(&(llts.len() as i64))) {
                    return Ok(DenseIndex { llts, emb: emb.to_device(encoder.device()) });
                }
            }
        }
        let names: Vec<&str> = llts.iter().map(|&i| dict.llts[i].name.as_str()).collect();
        let pb = if show_progress {
            let pb = indicatif::ProgressBar::new(names.len() as u64);
            pb.set_style(indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ETA {eta}").unwrap().progress_chars("=> "));
            pb.set_message(format!("Embedding the LLT names of MedDRA {}", dict.version));
            Some(pb)
        } else {
            None
        };
        let emb = encoder.embed(&names, 128, pb.as_ref())?;
        if let Some(pb) = pb {
            pb.finish_and_clear();
        }
        if let Some(path) = cache {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            // Written to a temporary name first so that an interrupted build leaves no bad cache.
            let tmp = path.with_extension("tmp");
            Tensor::write_safetensors(&[("emb", &emb.to_device(Device::Cpu))], &tmp)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(DenseIndex { llts, emb })
    }

    /// Cosine similarities [batch, n] of query embeddings [batch, hidden].
    pub fn similarities(&self, queries: &Tensor) -> Tensor {
        queries.matmul(&self.emb.tr()).to_kind(Kind::Float)
    }
}
