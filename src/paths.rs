//! Where medcoder keeps its files: the data directory (database, models) and the bundled assets.

use std::path::PathBuf;

use anyhow::{anyhow, Result};

/// The per-user data directory (e.g. ~/.local/share/medcoder), or MEDCODER_HOME when set.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("MEDCODER_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    directories::ProjectDirs::from("", "", "medcoder")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow!("cannot find a home directory for medcoder's data; set MEDCODER_HOME or pass --db"))
}

pub fn default_db() -> Result<PathBuf> {
    Ok(data_dir()?.join("medcoder.db"))
}

/// The repository's assets folder (demo dictionary and queue). MEDCODER_ASSETS overrides it for
/// a binary installed away from its source tree.
pub fn assets_dir() -> PathBuf {
    std::env::var_os("MEDCODER_ASSETS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets"))
}

pub fn demo_dictionary() -> PathBuf {
    assets_dir().join("demo")
}
