//! The proposal service (`medcoder serve-proposals`): one process, on the machine with the GPU,
//! loads the model once and keeps proposals filled for every desk. Each round it asks the store
//! which open items lack this model's proposals, proposes for them in batches (a failing batch is
//! retried item by item, as the desk's worker does) and writes them. A bad item is reported and
//! skipped for the rest of the run; a store error (the database restarting, a lock held too long)
//! is reported and the store reopened next round. A new active MedDRA version reloads the engine.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Result;

use super::worker::{run_batch, WorkerEvent};
use super::Engine;
use crate::store::ProposalStore;

/// Items per batch: the GPU's work unit and the granularity of progress.
const BATCH: usize = 64;

pub struct Options {
    /// Pause between two rounds that found nothing to do.
    pub poll: Duration,
    /// Stop after this many rounds (tests, cron); None runs until killed.
    pub rounds: Option<usize>,
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Round {
    pub proposed: usize,
    /// (item id, why) of items skipped from now on.
    pub failed: Vec<(i64, String)>,
}

/// One round: propose for every open item that lacks this model's proposals, except `skip`.
pub fn round(engine: &mut Engine, store: &mut dyn ProposalStore, skip: &mut HashSet<i64>) -> Result<Round> {
    let todo: Vec<(i64, String)> =
        store.needing_proposals(&engine.model_version, &engine.dict.version, false)?.into_iter().filter(|(id, _)| !skip.contains(id)).collect();
    let mut out = Round::default();
    for chunk in todo.chunks(BATCH) {
        for ev in run_batch(engine, store, chunk) {
            match ev {
                WorkerEvent::Proposed(ids) => out.proposed += ids.len(),
                WorkerEvent::ItemFailed { item_id, reason } => {
                    skip.insert(item_id);
                    out.failed.push((item_id, reason));
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Runs rounds until `o.rounds` is reached (or forever), on either store: `open` connects (again,
/// after the database went away), `load` builds the engine for the active version; `say` gets one
/// line per event worth logging.
pub fn serve(
    open: &dyn Fn() -> Result<Box<dyn ProposalStore>>,
    load: &dyn Fn(&mut dyn ProposalStore) -> Result<Engine>,
    o: &Options,
    say: &mut dyn FnMut(String),
) -> Result<()> {
    let mut store = open()?;
    let mut engine = load(store.as_mut())?;
    say(format!("serving proposals: {}", engine.describe()));
    let mut skip = HashSet::new();
    let mut n = 0;
    let mut broken = false;
    loop {
        if o.rounds.is_some_and(|r| n >= r) {
            return Ok(());
        }
        n += 1;
        if broken {
            match open() {
                Ok(s) => {
                    store = s;
                    broken = false;
                    say("store reopened".into());
                }
                Err(e) => {
                    say(format!("store still unavailable: {e:#}"));
                    std::thread::sleep(o.poll);
                    continue;
                }
            }
        }
        // A switch of the active MedDRA version needs the engine of the new one.
        match store.active_meddra_version() {
            Ok(Some(v)) if v != engine.dict.version => {
                engine = load(store.as_mut())?;
                skip.clear();
                say(format!("MedDRA {v} is now active: {}", engine.describe()));
            }
            Ok(_) => {}
            Err(e) => {
                say(format!("store error, reopening: {e:#}"));
                broken = true;
                continue;
            }
        }
        match round(&mut engine, store.as_mut(), &mut skip) {
            // Items "failed" because the store went away are not bad items: retry them later.
            Ok(r) if !r.failed.is_empty() && !store.answers() => {
                for (id, _) in &r.failed {
                    skip.remove(id);
                }
                say("store error while writing proposals, reopening".into());
                broken = true;
            }
            Ok(r) => {
                if r.proposed > 0 {
                    say(format!("proposed for {} item(s)", r.proposed));
                }
                for (id, why) in &r.failed {
                    say(format!("item {id} skipped: {why}"));
                }
                if r.proposed == 0 && r.failed.is_empty() {
                    std::thread::sleep(o.poll);
                }
            }
            Err(e) => {
                say(format!("store error, reopening: {e:#}"));
                broken = true;
            }
        }
    }
}
