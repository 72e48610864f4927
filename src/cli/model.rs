//! Model commands: predict one term, propose for the queue, evaluate on a labelled file.

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

use crate::engine::{self, Engine};
use crate::model::BaseModel;
use crate::store::queue::{ItemFilter, State};
use crate::store::Store;

/// The engine for the active (or given) dictionary version.
pub fn load_engine(store: &Store, version: Option<&str>, base: Option<&Path>, progress: bool) -> Result<Engine> {
    let dict = Arc::new(match version {
        Some(v) => store.dictionary(v)?,
        None => store.active_dictionary()?,
    });
    let base = BaseModel::locate(base)?;
    let cache = crate::paths::data_dir()?.join("cache");
    Engine::zero_shot(dict, &base, crate::torch_env::device(), Some(&cache), progress)
}

pub fn predict(db: &Path, text: &str, base: Option<&Path>, version: Option<&str>) -> Result<ExitCode> {
    let store = Store::open(db)?;
    let engine = load_engine(&store, version, base, true)?;
    let t = std::time::Instant::now();
    let p = engine.propose(&[text])?.remove(0);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    println!("{}", engine.describe());
    println!("'{text}'  (entropy {:.2}, {ms:.0} ms)", p.entropy);
    for (i, s) in p.proposals.iter().enumerate() {
        let llt = engine.dict.llt(s.llt_code).map(|l| l.name.as_str()).unwrap_or("?");
        let pt = engine.dict.pt(s.pt_code).map(|x| x.name.as_str()).unwrap_or("?");
        let soc = engine.dict.primary_path(s.pt_code).map(|p| p.soc.name).unwrap_or_default();
        println!("  {}. {:>5.1}%  {:>9} {:<36} PT {:<32} {}", i + 1, 100.0 * s.confidence, s.llt_code, llt, pt, soc);
    }
    Ok(ExitCode::SUCCESS)
}

/// Computes proposals for queue items that have none from this model (all open items with --all).
pub fn propose(db: &Path, all: bool, base: Option<&Path>) -> Result<ExitCode> {
    let mut store = Store::open(db)?;
    let engine = load_engine(&store, None, base, true)?;
    let items = store.items(&ItemFilter { states: vec![State::New, State::Proposed, State::Returned, State::Query], ..Default::default() })?;
    let mut todo = Vec::new();
    for it in items {
        let have = store.proposals(it.id)?;
        if all || have.is_none_or(|s| s.model_version != engine.model_version || s.meddra_version != engine.dict.version) {
            todo.push(it);
        }
    }
    println!("{}", engine.describe());
    if todo.is_empty() {
        println!("Every open item already has proposals from this model.");
        return Ok(ExitCode::SUCCESS);
    }
    let pb = indicatif::ProgressBar::new(todo.len() as u64);
    pb.set_style(indicatif::ProgressStyle::with_template("Proposing [{bar:30}] {pos}/{len} ETA {eta}").unwrap().progress_chars("=> "));
    let started = std::time::Instant::now();
    for chunk in todo.chunks(64) {
        let terms: Vec<&str> = chunk.iter().map(|i| i.reported_term.as_str()).collect();
        let sets = engine.propose(&terms)?;
        for (it, set) in chunk.iter().zip(&sets) {
            store.set_proposals(it.id, &engine::to_store(set, &engine.model_version, &engine.dict.version))?;
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    println!("Stored proposals for {} item(s) in {:.1}s", todo.len(), started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

pub fn eval(db: &Path, file: &Path, train: Option<&Path>, version: Option<&str>, base: Option<&Path>, json: bool) -> Result<ExitCode> {
    let store = Store::open(db)?;
    let engine = load_engine(&store, version, base, true)?;
    let data = crate::eval::read_labelled(file)?;
    let seen: Option<HashSet<String>> = match train {
        Some(t) => Some(crate::eval::read_labelled(t)?.into_iter().map(|l| crate::text::normalize(&l.term)).collect()),
        None => None,
    };
    let report = crate::eval::evaluate(&engine, &data, seen.as_ref(), true)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", file.display());
        print!("{}", crate::eval::render(&report));
    }
    Ok(ExitCode::SUCCESS)
}
