//! The coding desk's state and what each key does. Rendering is in `ui`; data comes from `Desk`.

use std::collections::HashSet;
use std::sync::mpsc::Sender;

use anyhow::Result;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tree::{Level, Tree};
use crate::desk::{Desk, ItemView, QueueRow, SearchRow};
use crate::engine::worker::{Event, Job};
use crate::store::queue::{Item, ItemFilter, State};
use crate::store::users::User;
use crate::store::workflow::{Action, Refusal, Source};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    SignIn,
    Queue,
    Coding,
    Search,
    Browse,
    Review,
    Stats,
}

/// A one-line text entry that takes the keyboard until Enter or Esc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Filter,
    QueryNote,
    ReturnComment,
    JumpToCode,
}

impl Prompt {
    pub fn label(self) -> &'static str {
        match self {
            Prompt::Filter => "Filter (id, term or subject)",
            Prompt::QueryNote => "Query note for the site",
            Prompt::ReturnComment => "Why are you returning this code?",
            Prompt::JumpToCode => "Jump to LLT or PT code",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Id,
    State,
    ConfidenceLowFirst,
}

impl Sort {
    pub fn label(self) -> &'static str {
        match self {
            Sort::Id => "id",
            Sort::State => "state",
            Sort::ConfidenceLowFirst => "confidence (lowest first)",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EngineStatus {
    Loading,
    Ready(String),
    Failed(String),
    /// Tests and machines without a model: no worker at all.
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

pub struct App {
    pub screen: Screen,
    pub store_for_signin: Option<Store>,
    pub users: Vec<User>,
    pub user_sel: usize,
    pub desk: Option<Desk>,
    pub rows: Vec<QueueRow>,
    pub sel: usize,
    pub state_filter: Option<State>,
    pub study_filter: Option<String>,
    pub studies: Vec<String>,
    pub text_filter: String,
    pub sort: Sort,
    pub counts: Vec<(State, usize)>,
    pub item: Option<ItemView>,
    pub prop_sel: usize,
    pub search_text: String,
    pub search_rows: Vec<SearchRow>,
    pub search_sel: usize,
    pub tree: Tree,
    pub prompt: Option<(Prompt, String)>,
    pub message: Option<(String, Tone)>,
    pub help: bool,
    pub engine: EngineStatus,
    pub model_version: Option<String>,
    pub pending: HashSet<i64>,
    pub tick: u64,
    pub quit: bool,
    /// Back-test figures, computed when the stats screen opens.
    pub stats: Option<crate::backtest::Report>,
    jobs: Option<Sender<Job>>,
}

impl App {
    /// Starts at sign-in, or straight at the queue when the user is known.
    pub fn new(store: Store, user: Option<&str>) -> Result<App> {
        let users = store.users()?;
        let mut app = App {
            screen: Screen::SignIn,
            store_for_signin: None,
            users,
            user_sel: 0,
            desk: None,
            rows: vec![],
            sel: 0,
            state_filter: None,
            study_filter: None,
            studies: vec![],
            text_filter: String::new(),
            sort: Sort::Id,
            counts: vec![],
            item: None,
            prop_sel: 0,
            search_text: String::new(),
            search_rows: vec![],
            search_sel: 0,
            tree: Tree::default(),
            prompt: None,
            message: None,
            help: false,
            engine: EngineStatus::Off,
            model_version: None,
            pending: HashSet::new(),
            tick: 0,
            quit: false,
            stats: None,
            jobs: None,
        };
        match user {
            Some(u) => app.sign_in(store, u)?,
            None => {
                if app.users.is_empty() {
                    anyhow::bail!("no users yet: add one with `medcoder user add NAME --role coder|reviewer|admin`");
                }
                app.store_for_signin = Some(store);
            }
        }
        Ok(app)
    }

    fn sign_in(&mut self, store: Store, user: &str) -> Result<()> {
        let desk = Desk::open(store, user)?;
        self.tree = Tree::new(&desk.dict);
        self.studies = desk.studies()?;
        self.desk = Some(desk);
        self.screen = Screen::Queue;
        self.refresh()?;
        Ok(())
    }

    /// Connects the background proposal worker.
    pub fn attach_worker(&mut self, jobs: Sender<Job>) {
        self.jobs = Some(jobs);
        self.engine = EngineStatus::Loading;
    }

    pub fn user(&self) -> Option<&User> {
        self.desk.as_ref().map(|d| &d.user)
    }

    fn desk(&self) -> &Desk {
        self.desk.as_ref().expect("signed in")
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

    /// Reloads the queue rows (keeping the selected item when it is still listed).
    pub fn refresh(&mut self) -> Result<()> {
        let Some(desk) = &self.desk else { return Ok(()) };
        let keep = self.rows.get(self.sel).map(|r| r.item.external_id.clone());
        let filter = ItemFilter {
            states: self.state_filter.into_iter().collect(),
            study: self.study_filter.clone(),
            text: (!self.text_filter.is_empty()).then(|| self.text_filter.clone()),
        };
        self.rows = desk.queue(&filter)?;
        self.counts = desk.counts()?;
        self.sort_rows();
        self.sel = keep.and_then(|k| self.rows.iter().position(|r| r.item.external_id == k)).unwrap_or(self.sel).min(self.rows.len().saturating_sub(1));
        if let Some(it) = &self.item {
            let id = it.item.external_id.clone();
            self.item = Some(self.desk().item(&id)?);
        }
        Ok(())
    }

    fn sort_rows(&mut self) {
        match self.sort {
            Sort::Id => {}
            Sort::State => self.rows.sort_by_key(|r| (State::ALL.iter().position(|s| *s == r.item.state), r.item.id)),
            Sort::ConfidenceLowFirst => self.rows.sort_by(|a, b| {
                let c = |r: &QueueRow| r.top.as_ref().map_or(-1.0, |t| t.confidence);
                c(a).total_cmp(&c(b)).then(a.item.id.cmp(&b.item.id))
            }),
        }
    }

    /// After the user's own action on one item: its row is replaced, or dropped when it no longer
    /// matches the state filter, and the counts are reloaded. Reloading the whole list per action
    /// costs a large queue hundreds of milliseconds; others' changes appear on `r` or on return to
    /// the list.
    fn update_row(&mut self, item: Item) -> Result<()> {
        let Some(desk) = &self.desk else { return Ok(()) };
        self.counts = desk.counts()?;
        let Some(pos) = self.rows.iter().position(|r| r.item.id == item.id) else { return Ok(()) };
        if self.state_filter.is_some_and(|s| s != item.state) {
            self.rows.remove(pos);
        } else {
            self.rows[pos] = desk.row(item)?;
            self.sort_rows();
        }
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
        Ok(())
    }

    pub fn on_engine(&mut self, ev: Event) {
        match ev {
            Event::Ready { description, model_version } => {
                self.engine = EngineStatus::Ready(description);
                self.model_version = Some(model_version);
                if let Err(e) = self.request_missing_proposals() {
                    self.fail(e);
                }
            }
            Event::Proposed(ids) => {
                for i in &ids {
                    self.pending.remove(i);
                }
                if let Err(e) = self.show_new_proposals(&ids) {
                    self.fail(e);
                }
            }
            Event::Failed(msg) => {
                self.engine = EngineStatus::Failed(msg.clone());
                self.pending.clear();
                self.say(msg, Tone::Bad);
            }
        }
    }

    /// Sends the worker every open item without current proposals, once signed in and the model
    /// is ready (whichever comes last).
    fn request_missing_proposals(&mut self) -> Result<()> {
        let (Some(desk), Some(jobs), Some(model)) = (&self.desk, &self.jobs, &self.model_version) else { return Ok(()) };
        let todo = desk.items_needing_proposals(model)?;
        self.pending.extend(todo.iter().map(|(i, _)| *i));
        let _ = jobs.send(Job::Batch(todo));
        Ok(())
    }

    /// Updates only the rows (and the open item) that got proposals; the list order depends on
    /// proposals only when sorted by confidence, and then the whole list is reloaded.
    fn show_new_proposals(&mut self, ids: &[i64]) -> Result<()> {
        if self.sort == Sort::ConfidenceLowFirst {
            return self.refresh();
        }
        let Some(desk) = &self.desk else { return Ok(()) };
        for row in self.rows.iter_mut().filter(|r| ids.contains(&r.item.id)) {
            *row = desk.row(row.item.clone())?;
        }
        if let Some(v) = self.item.as_ref().filter(|v| ids.contains(&v.item.id)) {
            let id = v.item.external_id.clone();
            self.item = Some(desk.item(&id)?);
        }
        Ok(())
    }

    /// Whether the item on screen is still waiting for the model.
    pub fn waiting_for_model(&self) -> bool {
        self.item.as_ref().is_some_and(|v| v.proposals.is_empty() && self.pending.contains(&v.item.id)) && matches!(self.engine, EngineStatus::Loading | EngineStatus::Ready(_))
    }

    fn open_selected(&mut self) -> Result<()> {
        let Some(row) = self.rows.get(self.sel) else { return Ok(()) };
        let id = row.item.external_id.clone();
        self.open(&id)
    }

    fn open(&mut self, external_id: &str) -> Result<()> {
        let view = self.desk().item(external_id)?;
        let user = self.desk().user.clone();
        let is_review = view.item.state == State::Proposed && user.role.can_review();
        if view.proposals.is_empty() && view.item.state != State::Confirmed {
            if let Some(j) = &self.jobs {
                let _ = j.send(Job::Urgent(view.item.id, view.item.reported_term.clone()));
                self.pending.insert(view.item.id);
            }
        }
        self.screen = if is_review { Screen::Review } else { Screen::Coding };
        self.prop_sel = 0;
        self.item = Some(view);
        Ok(())
    }

    /// Next (+1) or previous (-1) item of the queue list.
    fn step_item(&mut self, delta: isize) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let cur = self.item.as_ref().and_then(|v| self.rows.iter().position(|r| r.item.id == v.item.id)).unwrap_or(self.sel);
        let next = cur as isize + delta;
        if next < 0 || next >= self.rows.len() as isize {
            self.say(if delta > 0 { "This is the last item of the list." } else { "This is the first item of the list." }, Tone::Info);
            return Ok(());
        }
        self.sel = next as usize;
        self.open_selected()
    }

    fn act(&mut self, action: Action, done: &str) {
        let Some(view) = &self.item else { return };
        let (id, rev) = (view.item.external_id.clone(), view.item.revision);
        let result = self.desk.as_mut().expect("signed in").act(&id, rev, action);
        match result {
            Ok(item) => {
                let code = item.llt_code.and_then(|c| self.desk().dict.llt(c)).map(|l| format!(": {}", l.name)).unwrap_or_default();
                self.say(format!("{id} {done}{code}"), Tone::Good);
                // On to the next item of the list as it was, as a coder works through a list (the
                // item just done may leave a filtered list).
                let next = self.rows.iter().position(|r| r.item.id == item.id).and_then(|p| self.rows.get(p + 1)).map(|r| r.item.external_id.clone());
                if let Err(e) = self.update_row(item) {
                    self.fail(e);
                }
                match next.and_then(|n| self.rows.iter().position(|r| r.item.external_id == n)) {
                    Some(p) => {
                        self.sel = p;
                        if let Err(e) = self.open_selected() {
                            self.fail(e);
                        }
                    }
                    None => {
                        self.screen = Screen::Queue;
                        self.item = None;
                    }
                }
            }
            Err(e) => {
                self.fail(e);
                // A stale item is reloaded so the user sees what changed.
                let _ = self.refresh();
            }
        }
    }

    fn propose(&mut self, llt: u32, source: Source) {
        self.act(Action::Propose { llt, source }, "proposed");
    }

    pub fn on_key(&mut self, k: KeyEvent) {
        if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return;
        }
        if let Some((p, mut text)) = self.prompt.take() {
            match k.code {
                KeyCode::Esc => {}
                KeyCode::Enter => self.submit(p, text),
                KeyCode::Backspace => {
                    text.pop();
                    self.prompt = Some((p, text));
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    self.prompt = Some((p, text));
                }
                _ => self.prompt = Some((p, text)),
            }
            return;
        }
        if self.help {
            self.help = false;
            return;
        }
        // Search takes letters as text, so `?` there is typed, not help.
        if k.code == KeyCode::Char('?') && self.screen != Screen::Search {
            self.help = true;
            return;
        }
        self.message = None;
        let r = match self.screen {
            Screen::SignIn => self.key_signin(k),
            Screen::Queue => self.key_queue(k),
            Screen::Coding => self.key_coding(k),
            Screen::Search => self.key_search(k),
            Screen::Browse => self.key_browse(k),
            Screen::Review => self.key_review(k),
            Screen::Stats => {
                if matches!(k.code, KeyCode::Esc | KeyCode::Char('q')) {
                    self.screen = Screen::Queue;
                }
                Ok(())
            }
        };
        if let Err(e) = r {
            self.fail(e);
        }
    }

    fn submit(&mut self, p: Prompt, text: String) {
        match p {
            Prompt::Filter => {
                self.text_filter = text.trim().to_string();
                self.sel = 0;
                if let Err(e) = self.refresh() {
                    self.fail(e);
                }
            }
            Prompt::QueryNote => self.act(Action::Query { note: text }, "put on query"),
            Prompt::ReturnComment => self.act(Action::Return { comment: text }, "returned to the proposer"),
            Prompt::JumpToCode => match text.trim().parse::<u32>() {
                Ok(code) => {
                    let dict = self.desk().dict.clone();
                    if !self.tree.reveal(&dict, code) {
                        self.say(format!("{code} is neither an LLT nor a PT code in MedDRA {}", dict.version), Tone::Bad);
                    }
                }
                Err(_) => self.say(format!("'{}' is not a code", text.trim()), Tone::Bad),
            },
        }
    }

    fn key_signin(&mut self, k: KeyEvent) -> Result<()> {
        match k.code {
            KeyCode::Up => self.user_sel = self.user_sel.saturating_sub(1),
            KeyCode::Down => self.user_sel = (self.user_sel + 1).min(self.users.len().saturating_sub(1)),
            KeyCode::Enter => {
                if let (Some(store), Some(u)) = (self.store_for_signin.take(), self.users.get(self.user_sel).cloned()) {
                    self.sign_in(store, &u.name)?;
                    self.say(format!("Signed in as {} ({})", u.name, u.role), Tone::Info);
                    // The worker may have become ready before sign-in.
                    self.request_missing_proposals()?;
                }
            }
            KeyCode::Esc | KeyCode::Char('q') => self.quit = true,
            _ => {}
        }
        Ok(())
    }

    fn key_queue(&mut self, k: KeyEvent) -> Result<()> {
        let n = self.rows.len();
        match k.code {
            KeyCode::Up | KeyCode::Char('k') => self.sel = self.sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.sel = (self.sel + 1).min(n.saturating_sub(1)),
            KeyCode::PageUp => self.sel = self.sel.saturating_sub(10),
            KeyCode::PageDown => self.sel = (self.sel + 10).min(n.saturating_sub(1)),
            KeyCode::Home => self.sel = 0,
            KeyCode::End => self.sel = n.saturating_sub(1),
            KeyCode::Enter => self.open_selected()?,
            KeyCode::Char('t') => {
                // Cycle: all -> new -> proposed -> returned -> query -> confirmed -> all.
                self.state_filter = match self.state_filter {
                    None => Some(State::ALL[0]),
                    Some(s) => State::ALL.iter().position(|x| *x == s).and_then(|i| State::ALL.get(i + 1).copied()),
                };
                self.sel = 0;
                self.refresh()?;
            }
            KeyCode::Char('s') => {
                self.study_filter = match &self.study_filter {
                    None => self.studies.first().cloned(),
                    Some(s) => self.studies.iter().position(|x| x == s).and_then(|i| self.studies.get(i + 1).cloned()),
                };
                self.sel = 0;
                self.refresh()?;
            }
            KeyCode::Char('o') => {
                self.sort = match self.sort {
                    Sort::Id => Sort::State,
                    Sort::State => Sort::ConfidenceLowFirst,
                    Sort::ConfidenceLowFirst => Sort::Id,
                };
                self.refresh()?;
            }
            KeyCode::Char('f') | KeyCode::Char('/') => self.prompt = Some((Prompt::Filter, self.text_filter.clone())),
            KeyCode::Char('r') => {
                self.refresh()?;
                self.say("Queue reloaded.", Tone::Info);
            }
            KeyCode::Char('x') => {
                self.stats = self.desk().stats()?;
                self.screen = Screen::Stats;
            }
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            _ => {}
        }
        Ok(())
    }

    fn back_to_queue(&mut self) -> Result<()> {
        self.screen = Screen::Queue;
        self.item = None;
        self.refresh()
    }

    fn key_coding(&mut self, k: KeyEvent) -> Result<()> {
        let Some(view) = &self.item else { return self.back_to_queue() };
        let n = view.proposals.len();
        let confirmed = view.item.state == State::Confirmed;
        match k.code {
            KeyCode::Up | KeyCode::Char('k') => self.prop_sel = self.prop_sel.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.prop_sel = (self.prop_sel + 1).min(n.saturating_sub(1)),
            KeyCode::Char(c @ '1'..='5') if !confirmed => {
                let i = c.to_digit(10).unwrap_or(1) as usize - 1;
                match view.proposals.get(i) {
                    Some(p) => self.propose(p.llt_code, Source::Model),
                    None => self.say(format!("There is no proposal {}.", i + 1), Tone::Info),
                }
            }
            KeyCode::Enter if !confirmed => {
                if let Some(p) = view.proposals.get(self.prop_sel) {
                    self.propose(p.llt_code, Source::Model);
                }
            }
            KeyCode::Char('/') if !confirmed => {
                self.search_text.clear();
                self.search_rows.clear();
                self.search_sel = 0;
                self.screen = Screen::Search;
            }
            KeyCode::Char('b') => {
                let start = view.proposals.get(self.prop_sel).map(|p| p.llt_code).or(view.item.llt_code);
                let dict = self.desk().dict.clone();
                if let Some(code) = start {
                    self.tree.reveal(&dict, code);
                }
                self.screen = Screen::Browse;
            }
            KeyCode::Char('q') if !confirmed => self.prompt = Some((Prompt::QueryNote, String::new())),
            KeyCode::Char('n') => self.step_item(1)?,
            KeyCode::Char('p') => self.step_item(-1)?,
            KeyCode::Esc => self.back_to_queue()?,
            KeyCode::Char(_) | KeyCode::Enter if confirmed => self.say("This item is confirmed; recode it from the command line (`medcoder recode`).", Tone::Info),
            _ => {}
        }
        Ok(())
    }

    fn key_search(&mut self, k: KeyEvent) -> Result<()> {
        match k.code {
            KeyCode::Esc => self.screen = Screen::Coding,
            KeyCode::Up => self.search_sel = self.search_sel.saturating_sub(1),
            KeyCode::Down => self.search_sel = (self.search_sel + 1).min(self.search_rows.len().saturating_sub(1)),
            KeyCode::Enter => match self.search_rows.get(self.search_sel).cloned() {
                Some(r) if r.current => {
                    self.screen = Screen::Coding;
                    self.propose(r.llt_code, Source::Search);
                }
                Some(r) => self.say(format!("'{}' is non-current: it cannot be chosen as a new code.", r.llt_name), Tone::Bad),
                None => {}
            },
            KeyCode::Backspace => {
                self.search_text.pop();
                self.run_search();
            }
            KeyCode::Char(c) => {
                self.search_text.push(c);
                self.run_search();
            }
            _ => {}
        }
        Ok(())
    }

    fn run_search(&mut self) {
        self.search_rows = self.desk().search(&self.search_text, 50);
        self.search_sel = 0;
    }

    fn key_browse(&mut self, k: KeyEvent) -> Result<()> {
        let dict = self.desk().dict.clone();
        match k.code {
            KeyCode::Esc => self.screen = if self.item.is_some() { Screen::Coding } else { Screen::Queue },
            KeyCode::Up | KeyCode::Char('k') => self.tree.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.tree.move_by(1),
            KeyCode::PageUp => self.tree.move_by(-10),
            KeyCode::PageDown => self.tree.move_by(10),
            KeyCode::Left | KeyCode::Char('h') => self.tree.collapse(&dict),
            KeyCode::Right | KeyCode::Char('l') => self.tree.expand(&dict),
            KeyCode::Char('g') => self.prompt = Some((Prompt::JumpToCode, String::new())),
            KeyCode::Enter => {
                let Some(row) = self.tree.selected().cloned() else { return Ok(()) };
                if row.level != Level::Llt {
                    if row.expanded {
                        self.tree.collapse(&dict);
                    } else {
                        self.tree.expand(&dict);
                    }
                } else if !row.current {
                    self.say(format!("'{}' is non-current: it cannot be chosen as a new code.", row.name), Tone::Bad);
                } else if self.item.as_ref().is_some_and(|v| v.item.state != State::Confirmed) {
                    self.screen = Screen::Coding;
                    self.propose(row.code, Source::Browse);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn key_review(&mut self, k: KeyEvent) -> Result<()> {
        let Some(view) = &self.item else { return self.back_to_queue() };
        let own = view.item.proposer.as_deref() == Some(self.desk().user.name.as_str());
        match k.code {
            KeyCode::Char('a') if own => self.say("You proposed this code: another reviewer must confirm it (four-eye rule).", Tone::Bad),
            KeyCode::Char('r') if own => self.say("You proposed this code: another reviewer must review it (four-eye rule).", Tone::Bad),
            KeyCode::Char('a') => self.act(Action::Confirm, "confirmed"),
            KeyCode::Char('r') => self.prompt = Some((Prompt::ReturnComment, String::new())),
            KeyCode::Char('c') => {
                // Code it differently: the reviewer becomes the proposer and someone else reviews.
                self.screen = Screen::Coding;
            }
            KeyCode::Char('b') => {
                let dict = self.desk().dict.clone();
                if let Some(code) = view.item.llt_code {
                    self.tree.reveal(&dict, code);
                }
                self.screen = Screen::Browse;
            }
            KeyCode::Char('n') => self.step_item(1)?,
            KeyCode::Char('p') => self.step_item(-1)?,
            KeyCode::Esc => self.back_to_queue()?,
            _ => {}
        }
        Ok(())
    }
}
