//! A background thread that owns the engine, so the coding desk never waits for the model. It
//! loads the engine, then computes proposals for the item ids it is sent (urgent ones first) and
//! writes them through its own store connection; the desk re-reads them when told.
//!
//! A failing batch (an error, or a panic inside libtorch such as CUDA running out of memory) is
//! retried one item at a time, and only the items that still fail are reported: one bad term
//! never makes the model unavailable for the rest of the queue.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;

use anyhow::{anyhow, Result};

use crate::engine::Engine;
use crate::store::ProposalStore;

/// The worker thread's name: the desk's panic hook keeps this thread's panics off the screen.
pub const THREAD_NAME: &str = "proposal-worker";

/// Items proposed for per batch.
const BATCH: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Propose for these (item id, reported term) pairs, in the background.
    Batch(Vec<(i64, String)>),
    /// Propose for this item next: a coder is looking at it.
    Urgent(i64, String),
}

/// What the worker reports to the desk.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    Ready {
        description: String,
        model_version: String,
    },
    /// Proposals for these items are stored.
    Proposed(Vec<i64>),
    /// This item got no proposals (the others of its batch did).
    ItemFailed {
        item_id: i64,
        reason: String,
    },
    /// The engine could not start: no proposals this session.
    LoadFailed(String),
    /// The worker ended after starting (a panic outside any batch).
    Stopped(String),
}

pub struct Worker {
    pub jobs: Sender<Job>,
    pub events: Receiver<WorkerEvent>,
}

/// The text of a panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic without a message".into())
}

/// Runs `f`, turning a panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(anyhow!("{}", panic_text(p.as_ref()))))
}

/// Proposes for `chunk` and stores the result.
fn propose_and_store(engine: &mut Engine, store: &mut dyn ProposalStore, chunk: &[(i64, String)]) -> Result<()> {
    // What was confirmed since the last batch (here or at another desk) counts at once.
    engine.sync_memory(store)?;
    let terms: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
    let sets = guarded(|| engine.propose(&terms))?;
    let stored: Vec<_> = chunk.iter().zip(&sets).map(|((id, _), set)| (*id, set.to_store(&engine.model_version, &engine.dict.version))).collect();
    store.store_proposals(&stored)
}

/// One batch: all at once, else item by item; the events to send.
pub(crate) fn run_batch(engine: &mut Engine, store: &mut dyn ProposalStore, chunk: &[(i64, String)]) -> Vec<WorkerEvent> {
    if propose_and_store(engine, store, chunk).is_ok() {
        return vec![WorkerEvent::Proposed(chunk.iter().map(|(i, _)| *i).collect())];
    }
    let mut done = Vec::new();
    let mut events = Vec::new();
    for one in chunk {
        match propose_and_store(engine, store, std::slice::from_ref(one)) {
            Ok(()) => done.push(one.0),
            Err(e) => events.push(WorkerEvent::ItemFailed { item_id: one.0, reason: format!("{e:#}") }),
        }
    }
    if !done.is_empty() {
        events.insert(0, WorkerEvent::Proposed(done));
    }
    events
}

/// Starts the worker. `load` opens the store the worker writes proposals to and builds the
/// engine, inside the thread (it can take seconds).
pub fn spawn<F>(load: F) -> Worker
where
    F: FnOnce() -> Result<(Engine, Box<dyn ProposalStore>)> + Send + 'static,
{
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (ev_tx, ev_rx) = mpsc::channel::<WorkerEvent>();
    let last_words = ev_tx.clone();
    let body = move || {
        let started = guarded(load);
        let (mut engine, mut store) = match started {
            Ok(x) => x,
            Err(e) => {
                let _ = ev_tx.send(WorkerEvent::LoadFailed(format!("the proposal engine could not start: {e:#}")));
                return;
            }
        };
        let _ = ev_tx.send(WorkerEvent::Ready { description: engine.describe(), model_version: engine.model_version.clone() });
        let mut pending: VecDeque<(i64, String)> = VecDeque::new();
        loop {
            // Block for work only when idle; otherwise just collect what has arrived.
            let next = if pending.is_empty() { job_rx.recv().map_err(|_| TryRecvError::Disconnected) } else { job_rx.try_recv() };
            match next {
                Ok(Job::Batch(v)) => pending.extend(v),
                Ok(Job::Urgent(id, term)) => {
                    pending.retain(|(i, _)| *i != id);
                    pending.push_front((id, term));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => return,
            }
            if pending.is_empty() {
                continue;
            }
            let chunk: Vec<(i64, String)> = pending.drain(..pending.len().min(BATCH)).collect();
            for ev in run_batch(&mut engine, store.as_mut(), &chunk) {
                if ev_tx.send(ev).is_err() {
                    return;
                }
            }
        }
    };
    let run = move || {
        if let Err(p) = catch_unwind(AssertUnwindSafe(body)) {
            let _ = last_words.send(WorkerEvent::Stopped(panic_text(p.as_ref())));
        }
    };
    thread::Builder::new().name(THREAD_NAME.into()).spawn(run).expect("starting the proposal worker thread");
    Worker { jobs: job_tx, events: ev_rx }
}
