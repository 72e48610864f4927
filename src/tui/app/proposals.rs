//! What the desk does with the background worker's reports: proposals arriving, the model stopping.

use super::*;

impl App {
    /// What the background worker reports.
    pub fn on_engine(&mut self, ev: WorkerEvent) {
        match ev {
            WorkerEvent::Ready { description, model_version } => {
                self.ctx.engine = EngineStatus::Ready(description);
                self.ctx.model_version = Some(model_version);
                if let Err(e) = self.request_missing_proposals() {
                    self.fail(e);
                }
            }
            WorkerEvent::Proposed(ids) => {
                for i in &ids {
                    self.ctx.pending.remove(i);
                }
                if let Err(e) = self.show_new_proposals(&ids) {
                    self.fail(e);
                }
            }
            WorkerEvent::ItemFailed { item_id, reason } => {
                self.ctx.pending.remove(&item_id);
                let id = self.queue.position(item_id).map_or_else(|| item_id.to_string(), |p| self.queue.rows[p].item.external_id.clone());
                self.say(format!("no proposals for {id}: {reason}"), Tone::Bad);
            }
            WorkerEvent::Stopped(reason) => self.on_engine_stopped(reason),
            WorkerEvent::LoadFailed(msg) => {
                self.ctx.engine = EngineStatus::Failed(msg.clone());
                self.ctx.pending.clear();
                self.say(msg, Tone::Bad);
            }
        }
    }

    /// The worker's channel closed while it was running (a panic inside libtorch, say).
    pub fn on_engine_stopped(&mut self, reason: String) {
        if matches!(self.ctx.engine, EngineStatus::Failed(_) | EngineStatus::Stopped(_)) {
            return;
        }
        self.ctx.pending.clear();
        self.say(format!("model stopped: {reason}"), Tone::Bad);
        self.ctx.engine = EngineStatus::Stopped(reason);
    }

    /// Sends the worker every open item without current proposals, once signed in and the model
    /// is ready (whichever comes last).
    pub(super) fn request_missing_proposals(&mut self) -> Result<()> {
        let (Some(desk), Some(jobs), Some(model)) = (&self.ctx.desk, &self.jobs, &self.ctx.model_version) else { return Ok(()) };
        let todo = desk.items_needing_proposals(model)?;
        self.ctx.pending.extend(todo.iter().map(|(i, _)| *i));
        let _ = jobs.send(Job::Batch(todo));
        Ok(())
    }

    /// Updates only the rows (and the open item) that got proposals.
    pub(super) fn show_new_proposals(&mut self, ids: &[i64]) -> Result<()> {
        self.queue.show_new_proposals(&self.ctx, ids)?;
        if let Some(v) = self.ctx.open.as_ref().filter(|v| ids.contains(&v.item.id)) {
            let id = v.item.external_id.clone();
            self.ctx.open = Some(self.ctx.desk().item(&id)?);
        }
        Ok(())
    }
}
