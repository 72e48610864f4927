//! The desk's app: what the screens share (the desk service, the engine's state, the message
//! line), the screen stack, the prompt and help overlays, and the commands screens ask for.
//! Each screen's own state, keys and drawing live in `screens/`.

use std::sync::mpsc::Sender;

use anyhow::Result;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::action::{self, Action, Binding};
use super::screens::coding::Coding;
use super::screens::queue::Queue;
use super::screens::review::Review;
use super::screens::signin::SignIn;
use super::screens::{Cmd, Ctx, EngineStatus, Prompt, Screen, ScreenId, Signed};
use super::theme::{spinner, truncate, Theme, Tone};
use crate::desk::Desk;
use crate::engine::worker::{Job, WorkerEvent};
use crate::store::api::DeskStore;
use crate::store::item::State;
use crate::store::workflow::{Action as Decision, Refusal};

mod draw;
mod prompt;
mod proposals;

const PROMPT_KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Enter], Action::Select, "Enter", "confirm", "confirm"),
    Binding::hidden(&[KeyCode::Backspace], Action::Erase),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "cancel", "cancel"),
];

pub struct App {
    pub ctx: Ctx,
    /// Before sign-in: the user list.
    pub signin: Option<SignIn>,
    /// The queue list is always at the bottom of the stack once signed in.
    pub queue: Queue,
    /// Screens above the queue: the open item's screen first, then search, browser or stats.
    stack: Vec<Box<dyn Screen>>,
    pub prompt: Option<(Prompt, String)>,
    pub message: Option<(String, Tone)>,
    pub help: bool,
    pub quit: bool,
    jobs: Option<Sender<Job>>,
    /// A confirm or return waiting for the session's signature.
    unsigned: Option<(Decision, &'static str)>,
    /// A bulk confirmation or synonym decision waiting for the session's signature.
    unsigned_job: Option<Signed>,
    /// A new code chosen for a confirmed item, waiting for the reason of the recode.
    recoding: Option<(u32, crate::store::workflow::Source)>,
    /// The store's data version when the desk last looked (see `follow_others`).
    seen_version: Option<i64>,
    /// The terminal size of the last frame: below 80x24 the desk shows nothing to act on, so it
    /// takes no action but quit.
    last_size: std::cell::Cell<(u16, u16)>,
}

/// Ticks (about 120 ms each) between two looks for colleagues' changes: about 5 seconds.
pub const REFRESH_TICKS: u64 = 40;

/// The smallest terminal the desk draws every screen on.
pub const MIN_SIZE: (u16, u16) = (80, 24);

impl App {
    /// Starts at sign-in, or straight at the queue when the user is known.
    pub fn new(store: Box<dyn DeskStore>, user: Option<&str>) -> Result<App> {
        let ctx = Ctx { desk: None, engine: EngineStatus::Off, model_version: None, pending: Default::default(), open: None, group: None, tick: 0 };
        let mut app = App {
            ctx,
            signin: None,
            queue: Queue::default(),
            stack: vec![],
            prompt: None,
            message: None,
            help: false,
            quit: false,
            jobs: None,
            unsigned: None,
            unsigned_job: None,
            recoding: None,
            seen_version: None,
            last_size: std::cell::Cell::new(MIN_SIZE),
        };
        match user {
            Some(u) => app.sign_in(store, u)?,
            None => app.signin = Some(SignIn::new(store)?),
        }
        Ok(app)
    }

    fn sign_in(&mut self, store: Box<dyn DeskStore>, user: &str) -> Result<()> {
        let desk = Desk::open(store, user)?;
        // The version the list is loaded at: a change before the first look still reloads it.
        self.seen_version = desk.data_version().ok();
        self.ctx.desk = Some(desk);
        self.queue = Queue::new(&self.ctx)?;
        self.signin = None;
        Ok(())
    }

    /// Connects the background proposal worker.
    pub fn attach_worker(&mut self, jobs: Sender<Job>) {
        self.jobs = Some(jobs);
        self.ctx.engine = EngineStatus::Loading;
    }

    /// The screen that has the keyboard.
    pub fn screen(&self) -> ScreenId {
        self.active().id()
    }

    fn active(&self) -> &dyn Screen {
        match (&self.signin, self.stack.last()) {
            (Some(s), _) => s,
            (None, Some(s)) => s.as_ref(),
            (None, None) => &self.queue,
        }
    }

    /// The active screen as its own type, when it is a `T` (tests look inside screens).
    pub fn active_as<T: Screen>(&self) -> Option<&T> {
        (self.active() as &dyn std::any::Any).downcast_ref::<T>()
    }

    /// Runs `f` on the active screen with the shared context.
    fn with_active<R>(&mut self, f: impl FnOnce(&mut dyn Screen, &mut Ctx) -> R) -> R {
        let screen: &mut dyn Screen = match (&mut self.signin, self.stack.last_mut()) {
            (Some(s), _) => s,
            (None, Some(s)) => s.as_mut(),
            (None, None) => &mut self.queue,
        };
        f(screen, &mut self.ctx)
    }

    /// The keymap in force: the prompt's while one is open, else the active screen's.
    pub fn keymap(&self) -> &'static [Binding] {
        if self.prompt.is_some() {
            PROMPT_KEYS
        } else {
            self.active().keymap()
        }
    }

    pub fn say(&mut self, text: impl Into<String>, tone: Tone) {
        self.message = Some((text.into(), tone));
    }

    fn fail(&mut self, e: anyhow::Error) {
        // Workflow refusals are expected and shown as they are; anything else with its context.
        let text = match e.downcast_ref::<Refusal>() {
            Some(r) => r.to_string(),
            None => format!("{e:#}"),
        };
        self.say(text, Tone::Bad);
    }

    /// A key press: the help closes on any key; a prompt or a text screen takes typed characters;
    /// otherwise the key is looked up in the keymap in force.
    pub fn on_key(&mut self, k: KeyEvent) {
        let (w, h) = self.last_size.get();
        if w < MIN_SIZE.0 || h < MIN_SIZE.1 {
            // A reviewer must see the code to confirm it: at this size nothing but quitting works.
            let quit = k.code == KeyCode::Char('q') || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL));
            self.quit |= quit;
            return;
        }
        let takes_text = self.prompt.is_some() || self.active().takes_text();
        let action = match (action::lookup(self.keymap(), k), k.code) {
            (Some(a), _) => Some(a),
            (None, KeyCode::Char(c)) if takes_text => Some(Action::Type(c)),
            _ => None,
        };
        if self.help {
            self.help = false;
            // Only Ctrl-C acts through the help; any other key just closes it.
            self.quit = action == Some(Action::Quit) && k.modifiers.contains(KeyModifiers::CONTROL);
            return;
        }
        if let Some(a) = action {
            self.perform(a);
        }
    }

    /// Does what `action` asks of the prompt or the active screen.
    pub fn perform(&mut self, action: Action) {
        if action == Action::Quit {
            self.quit = true;
            return;
        }
        if let Some((p, text)) = self.prompt.take() {
            self.on_prompt(p, text, action);
            return;
        }
        if action == Action::Help {
            self.help = true;
            return;
        }
        self.message = None;
        let r = self.with_active(|s, ctx| s.perform(action, ctx));
        self.run(r);
    }

    fn run(&mut self, cmd: Result<Cmd>) {
        if let Err(e) = cmd.and_then(|c| self.apply(c)) {
            self.fail(e);
        }
    }

    fn apply(&mut self, cmd: Cmd) -> Result<()> {
        match cmd {
            Cmd::None => {}
            Cmd::Say(text, tone) => self.say(text, tone),
            Cmd::SignIn { store, user } => {
                self.sign_in(store, &user)?;
                let role = self.ctx.desk().user.role;
                self.say(format!("Signed in as {user} ({role})"), Tone::Info);
                // The worker may have become ready before sign-in.
                self.request_missing_proposals()?;
            }
            Cmd::Open(id) => self.open(&id)?,
            Cmd::OpenGroup(g) => self.open_group(g)?,
            Cmd::Push(s) => self.stack.push(s),
            Cmd::Replace(s) => {
                self.stack.pop();
                self.stack.push(s);
            }
            Cmd::Pop => {
                self.stack.pop();
            }
            Cmd::ToQueue => {
                self.close_item();
                self.queue.refresh(&self.ctx)?;
            }
            Cmd::Step(delta) => self.step_item(delta)?,
            // A confirmed item changes only by a recode, with its reason logged: it goes to review again.
            Cmd::Decide(Decision::Propose { llt, source }, _) if self.ctx.open.as_ref().is_some_and(|v| v.item.state == State::Confirmed) => {
                self.recoding = Some((llt, source));
                self.prompt = Some((Prompt::RecodeReason, String::new()));
            }
            Cmd::Decide(decision, done) => {
                // Confirming and returning are signatures: the first of the session asks for the
                // user's password.
                if matches!(decision, Decision::Confirm | Decision::Return { .. }) && self.ctx.desk().needs_signature() {
                    self.unsigned = Some((decision, done));
                    self.prompt = Some((Prompt::Signature, String::new()));
                } else {
                    self.decide(decision, done);
                }
            }
            Cmd::Prompt(p, text) => self.prompt = Some((p, text)),
            Cmd::Ask(p, say) => {
                self.say(say, Tone::Info);
                self.prompt = Some((p, String::new()));
            }
            Cmd::Signed(job) => {
                if self.ctx.desk().needs_signature() {
                    self.unsigned_job = Some(job);
                    self.prompt = Some((Prompt::Signature, String::new()));
                } else {
                    self.run_signed(job);
                }
            }
        }
        Ok(())
    }

    /// A bulk confirmation or a synonym decision, signed.
    fn run_signed(&mut self, job: Signed) {
        let desk = self.ctx.desk.as_mut().expect("signed in");
        let result = match job {
            Signed::Bulk(seen) => desk.confirm_bulk(&seen).map(|out| {
                let mut text = format!("{} item(s) confirmed", out.done.len());
                if !out.skipped.is_empty() {
                    let left: Vec<String> = out.skipped.iter().map(|(id, why)| format!("{id} ({why})")).collect();
                    text.push_str(&format!("; left out: {}", left.join("; ")));
                }
                (text, if out.done.is_empty() { Tone::Bad } else { Tone::Good })
            }),
            Signed::Approve { study, term } => desk.decide_synonym(&study, &term, None).map(|s| {
                (
                    format!("Approved the synonym '{}' -> {} ({}): identical terms autocode from now on", s.term, desk.llt_name(s.llt_code), s.scope()),
                    Tone::Good,
                )
            }),
            Signed::Decline { study, term, why } => desk
                .decide_synonym(&study, &term, Some(&why))
                .map(|s| (format!("Declined the synonym '{}' ({}): it never autocodes", s.term, s.scope()), Tone::Good)),
        };
        match result {
            Ok((text, tone)) => self.say(text, tone),
            Err(e) => self.fail(e),
        }
        // What the user looks at shows the outcome: the candidates left, or the reloaded list.
        if self.stack.last().is_some_and(|s| s.id() == ScreenId::Synonyms) {
            use crate::tui::screens::synonyms::Synonyms;
            // The same page again: the whole list, or the candidates.
            let all = self.stack.last().and_then(|s| (s.as_ref() as &dyn std::any::Any).downcast_ref::<Synonyms>()).is_some_and(|s| s.all);
            let sel = self.stack.last().and_then(|s| (s.as_ref() as &dyn std::any::Any).downcast_ref::<Synonyms>()).map_or(0, |s| s.sel);
            match Synonyms::load_page(&self.ctx, all) {
                Ok(mut fresh) => {
                    // The cursor stays where it was: the next row moved up into it.
                    fresh.sel = sel.min(fresh.rows.len().saturating_sub(1));
                    self.stack.pop();
                    self.stack.push(Box::new(fresh));
                }
                Err(e) => self.fail(e),
            }
        }
        if let Err(e) = self.queue.refresh(&self.ctx) {
            self.fail(e);
        }
    }

    fn close_item(&mut self) {
        self.stack.clear();
        self.ctx.open = None;
        self.ctx.group = None;
    }

    /// Opens a group of identical terms at its first item that waits for this user (a proposal
    /// by someone else for a reviewer, else a new or returned item), so that the decision made
    /// there applies to the group.
    fn open_group(&mut self, g: crate::store::queue::TermGroup) -> Result<()> {
        let desk = self.ctx.desk();
        let me = desk.user.name.clone();
        let review = desk.user.role.can_review();
        let waiting =
            if review { desk.group_items(&g.term, &[State::Proposed])?.into_iter().find(|i| i.proposer.as_deref() != Some(me.as_str())) } else { None };
        let first = match waiting {
            Some(it) => Some(it),
            None => desk.group_items(&g.term, &[State::New, State::Returned])?.into_iter().next(),
        };
        let Some(item) = first else {
            self.say(format!("Nothing in '{}' waits for you.", g.term), Tone::Info);
            return Ok(());
        };
        // What the user sees is what a group decision applies to: the items as they are now.
        let seen = self.ctx.desk().group_items(&g.term, &[State::Proposed, State::New, State::Returned])?;
        self.open(&item.external_id)?;
        self.ctx.group = Some(crate::tui::screens::OpenGroup { term: g.term, seen });
        Ok(())
    }

    /// Opens an item for review (reviewers, proposed items) or coding, and asks the model for
    /// its proposals first when it has none.
    fn open(&mut self, external_id: &str) -> Result<()> {
        let desk = self.ctx.desk();
        let view = desk.item(external_id)?;
        let review = view.item.state == State::Proposed && desk.user.role.can_review();
        let own = view.item.proposer.as_deref() == Some(desk.user.name.as_str());
        // Without proposals, or with proposals made before the memory learned something new:
        // the model proposes for this item first.
        let stale = match &view.computed_at {
            None => true,
            Some(at) => desk.learned_since(at)?,
        };
        if stale && view.item.state != State::Confirmed {
            if let Some(j) = &self.jobs {
                let _ = j.send(Job::Urgent(view.item.id, view.item.reported_term.clone()));
                self.ctx.pending.insert(view.item.id);
            }
        }
        self.stack = vec![if review { Box::new(Review { own }) } else { Box::new(Coding::default()) }];
        self.ctx.group = None;
        self.queue.sel = self.queue.position(view.item.id).unwrap_or(self.queue.sel);
        self.ctx.open = Some(view);
        Ok(())
    }

    /// The next (+1) or previous (-1) item of the queue list.
    fn step_item(&mut self, delta: isize) -> Result<()> {
        if self.queue.rows.is_empty() {
            return Ok(());
        }
        let cur = self.ctx.open.as_ref().and_then(|v| self.queue.position(v.item.id)).unwrap_or(self.queue.sel);
        let next = cur as isize + delta;
        if next < 0 || next >= self.queue.rows.len() as isize {
            self.say(if delta > 0 { "This is the last item of the list." } else { "This is the first item of the list." }, Tone::Info);
            return Ok(());
        }
        let id = self.queue.rows[next as usize].item.external_id.clone();
        self.open(&id)
    }

    /// A workflow decision on the open item; on success the next item of the list (as it was)
    /// opens, as a coder works through a list, even when the item just done leaves a filtered list.
    fn sign_and_decide(&mut self, password: &str) {
        if let Some(job) = self.unsigned_job.take() {
            match self.ctx.desk.as_mut().expect("signed in").sign(password) {
                Ok(()) => self.run_signed(job),
                Err(e) => self.say(format!("Not signed: {e:#}; nothing was confirmed or decided"), Tone::Bad),
            }
            return;
        }
        let Some((decision, done)) = self.unsigned.take() else { return };
        match self.ctx.desk.as_mut().expect("signed in").sign(password) {
            Ok(()) => self.decide(decision, done),
            Err(e) => self.say(format!("Not signed: {e:#}; nothing was confirmed or returned"), Tone::Bad),
        }
    }

    fn decide(&mut self, decision: Decision, done: &str) {
        if let (Some(_), Decision::Propose { .. } | Decision::Confirm) = (&self.ctx.group, &decision) {
            return self.decide_group(decision, done);
        }
        let Some(view) = &self.ctx.open else { return };
        let (id, rev) = (view.item.external_id.clone(), view.item.revision);
        // A split adds items and a split returned voids them: the whole list reloads, and the
        // coder goes on with the first part.
        let (splits, reshapes) = (matches!(decision, Decision::Split { .. }), view.item.state == State::Split);
        // Search and browser close: the decision is made from the item's screen.
        self.stack.truncate(1);
        let result = self.ctx.desk.as_mut().expect("signed in").act(&id, rev, decision);
        match result {
            Ok(item) if splits || reshapes => {
                self.say(format!("{id} {done}"), Tone::Good);
                if let Err(e) = self.queue.refresh(&self.ctx) {
                    return self.fail(e);
                }
                let desk = self.ctx.desk();
                let first = match desk.store.parts(&item.external_id) {
                    Ok(parts) => parts.into_iter().find(|p| splits && crate::desk::can_act(&p.into(), &desk.user)).map(|p| p.report.external_id),
                    Err(e) => return self.fail(e),
                };
                match first {
                    Some(part) => {
                        if let Err(e) = self.open(&part) {
                            self.fail(e);
                        }
                        self.say(format!("{id} {done}: now part {part}"), Tone::Good);
                    }
                    None => self.close_item(),
                }
            }
            Ok(item) => {
                let code = item.llt_code.and_then(|c| self.ctx.desk().dict.llt(c)).map(|l| format!(": {}", l.name)).unwrap_or_default();
                self.say(format!("{id} {done}{code}"), Tone::Good);
                let next = self.queue.after(item.id, &self.ctx.desk().user);
                if let Err(e) = self.queue.update_row(&self.ctx, item) {
                    self.fail(e);
                }
                match next.and_then(|n| self.queue.position(n)) {
                    Some(p) => {
                        let id = self.queue.rows[p].item.external_id.clone();
                        if let Err(e) = self.open(&id) {
                            self.fail(e);
                        }
                    }
                    None => {
                        self.close_item();
                        self.say(format!("{id} {done}{code}. Nothing further down this list waits for you."), Tone::Good);
                    }
                }
            }
            Err(e) => {
                self.fail(e);
                // A stale item is reloaded so the user sees what changed.
                let _ = self.reload_open();
            }
        }
    }

    /// A decision for a whole group of identical terms, then back to the grouped list.
    fn decide_group(&mut self, decision: Decision, done: &str) {
        self.stack.truncate(1);
        let Some(group) = self.ctx.group.take() else { return };
        let term = group.term.as_str();
        // The code on screen is the one signed for; the items as seen carry their revisions.
        let on_screen = self.ctx.open.as_ref().and_then(|v| v.item.llt_code);
        let result = self.ctx.desk.as_mut().expect("signed in").act_group(term, &group.seen, on_screen, decision);
        match result {
            Ok(out) => {
                let code = out.done.first().and_then(|i| i.llt_code).map(|c| format!(": {}", self.ctx.desk().llt_name(c))).unwrap_or_default();
                let mut text = format!("'{term}': {} item(s) {done}{code}", out.done.len());
                if !out.skipped.is_empty() {
                    let left: Vec<String> = out.skipped.iter().map(|(id, why)| format!("{id} ({why})")).collect();
                    text.push_str(&format!("; left out: {}", left.join("; ")));
                }
                self.say(text, if out.done.is_empty() { Tone::Bad } else { Tone::Good });
                self.close_item();
                if let Err(e) = self.queue.refresh(&self.ctx) {
                    self.fail(e);
                }
            }
            Err(e) => self.fail(e),
        }
    }

    fn reload_open(&mut self) -> Result<()> {
        self.queue.refresh(&self.ctx)?;
        if let Some(id) = self.ctx.open.as_ref().map(|v| v.item.external_id.clone()) {
            self.ctx.open = Some(self.ctx.desk().item(&id)?);
        }
        Ok(())
    }

    /// One redraw tick (the spinners move).
    pub fn tick(&mut self) {
        self.ctx.tick = self.ctx.tick.wrapping_add(1);
        if self.ctx.tick.is_multiple_of(REFRESH_TICKS) {
            self.follow_others();
        }
    }

    /// Shows what colleagues and the proposal service did: when the store changed through another
    /// connection, the queue list (if it is what the user looks at) is reloaded, keeping the selection.
    fn follow_others(&mut self) {
        let Some(desk) = self.ctx.desk.as_ref() else { return };
        let Ok(v) = desk.data_version() else { return };
        if self.seen_version.replace(v).is_some_and(|seen| seen != v) && self.stack.is_empty() && self.prompt.is_none() && !self.help {
            if let Err(e) = self.queue.refresh(&self.ctx) {
                self.fail(e);
            }
        }
    }
}
