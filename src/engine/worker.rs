//! A background thread that owns the engine, so the coding desk never waits for the model. It
//! loads the engine, then computes proposals for the item ids it is sent (urgent ones first) and
//! writes them through its own store connection; the desk re-reads them when told.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;

use crate::engine::{self, Engine};

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Propose for these (item id, reported term) pairs, in the background.
    Batch(Vec<(i64, String)>),
    /// Propose for this item next: a coder is looking at it.
    Urgent(i64, String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Ready { description: String, model_version: String },
    Proposed(Vec<i64>),
    Failed(String),
}

pub struct Worker {
    pub jobs: Sender<Job>,
    pub events: Receiver<Event>,
}

/// Starts the worker. `load` builds the engine inside the thread (it can take seconds).
pub fn spawn<F>(db: PathBuf, load: F) -> Worker
where
    F: FnOnce() -> anyhow::Result<Engine> + Send + 'static,
{
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();
    thread::spawn(move || {
        let engine = match load() {
            Ok(e) => e,
            Err(e) => {
                let _ = ev_tx.send(Event::Failed(format!("the proposal engine could not start: {e:#}")));
                return;
            }
        };
        let mut store = match crate::store::Store::open(&db) {
            Ok(s) => s,
            Err(e) => {
                let _ = ev_tx.send(Event::Failed(format!("{e:#}")));
                return;
            }
        };
        let _ = ev_tx.send(Event::Ready { description: engine.describe(), model_version: engine.model_version.clone() });
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
            let chunk: Vec<(i64, String)> = pending.drain(..pending.len().min(16)).collect();
            let terms: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            let result = engine.propose(&terms).and_then(|sets| {
                let stored: Vec<_> = chunk.iter().zip(&sets).map(|((id, _), set)| (*id, engine::to_store(set, &engine.model_version, &engine.dict.version))).collect();
                store.set_proposals(&stored)
            });
            let ev = match result {
                Ok(()) => Event::Proposed(chunk.iter().map(|(i, _)| *i).collect()),
                Err(e) => Event::Failed(format!("proposals failed: {e:#}")),
            };
            if ev_tx.send(ev).is_err() {
                return;
            }
        }
    });
    Worker { jobs: job_tx, events: ev_rx }
}
