//! `medcoder doctor`: everything a user (or we) need to see when something is wrong.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::store::Store;
use crate::torch_env;

/// `db` is the SQLite file `--db` names; a team database is checked by `audit verify` instead
/// (None: only this machine is described).
pub fn run(db: Option<&Path>) -> Result<ExitCode> {
    println!("medcoder        {}", env!("CARGO_PKG_VERSION"));
    println!("libtorch        {} (built against)", torch_env::BUILT_AGAINST);
    let _ = torch_env::init_cuda();
    match torch_env::loaded_libtorch_dir() {
        Some(d) => println!("libtorch loaded {}", d.display()),
        None => println!("libtorch loaded (not found in /proc/self/maps)"),
    }
    match torch_env::cuda_off_reason() {
        None => println!("CUDA            available, {} device(s)", tch::Cuda::device_count()),
        Some(why) => println!("CUDA            not available, models run on the CPU: {why}"),
    }
    let gpus = torch_env::gpu_names();
    println!("GPU             {}", if gpus.is_empty() { "none found".to_string() } else { gpus.join(", ") });
    println!("CPU threads     {}", tch::get_num_threads());
    match crate::paths::data_dir() {
        Ok(d) => println!("data directory  {}", d.display()),
        Err(e) => println!("data directory  {e}"),
    }
    let mut ok = true;
    match db.map(|db| (db, Store::open(db))) {
        None => println!("database        a team database (`medcoder audit verify` checks it; this describes this machine)"),
        Some((db, opened)) => {
            println!("database        {}", db.display());
            ok &= describe(opened)?;
        }
    }
    println!("assets          {}", crate::paths::assets_dir().display());
    match crate::model::BaseModel::locate(None) {
        Ok(b) => println!("base encoder    {} ({} layers, hidden {})", b.dir.display(), b.config.num_hidden_layers, b.config.hidden_size),
        Err(e) => {
            println!("base encoder    {e:#}");
            ok = false;
        }
    }
    let active = db.and_then(|db| Store::open(db).ok()).and_then(|s| s.active_version().ok().flatten());
    let model = match (crate::paths::data_dir(), active) {
        (Ok(dir), Some(v)) => match crate::model::registry::choose(&dir, &v, None) {
            Ok(Some((_, m))) => format!("{} (trained {}, {} members) for MedDRA {v}", m.id, m.created_at, m.hyper.members),
            Ok(None) => format!("no model trained for MedDRA {v}: proposals come from the untuned dense index (`medcoder train`)"),
            Err(e) => format!("{e:#}"),
        },
        _ => "-".into(),
    };
    println!("model           {model}");
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// The store's schema and loaded releases; false when it cannot serve (no dictionary, unreadable).
fn describe(opened: Result<Store>) -> Result<bool> {
    match opened {
        Ok(store) => {
            println!("schema          version {}", store.schema_version()?);
            let releases = store.releases()?;
            match releases.iter().find(|r| r.active) {
                Some(r) => println!(
                    "dictionary      MedDRA {} ({}), {} LLTs, {} PTs; {} release(s) loaded",
                    r.version,
                    r.language,
                    r.llt_count,
                    r.pt_count,
                    releases.len()
                ),
                None => {
                    println!("dictionary      none loaded: run `medcoder dict import <MedAscii folder>` (or `medcoder demo`)");
                    return Ok(false);
                }
            }
            use crate::store::api::DeskStore;
            let on = DeskStore::setting(&store, crate::store::model_first::SETTING)?.unwrap_or_else(|| "off".into());
            let v = store.validation()?;
            println!("model-first     {on}; {}", v.summary());
            if v.drifting() {
                println!("WARNING         the model's newest decisions above its validated threshold fell below the target: check `medcoder backtest`");
            }
        }
        Err(e) => {
            println!("database        cannot open: {e:#}");
            return Ok(false);
        }
    }
    Ok(true)
}
