//! The desk's screens, one file each. A screen owns its state, declares its keymap, acts on
//! `Action`s and draws itself; what it cannot do alone (open an item, act on the store, show
//! another screen) it asks of the app with a `Cmd`.

pub mod browse;
pub mod coding;
pub mod queue;
pub mod review;
pub mod search;
pub mod signin;
pub mod stats;
pub mod synonyms;

use std::collections::HashSet;

use anyhow::Result;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::action::{Action, Binding};
use super::theme::{Theme, Tone};
use crate::desk::{Desk, ItemView};
use crate::store::api::DeskStore;
use crate::store::queue::TermGroup;
use crate::store::workflow::Action as Decision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenId {
    SignIn,
    Queue,
    Coding,
    Search,
    Browse,
    Review,
    Stats,
    Synonyms,
}

/// Where the proposal engine stands, as the header and the item screens show it.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineStatus {
    Loading,
    Ready(String),
    /// The engine never started (model files, base encoder): no proposals this session.
    Failed(String),
    /// The worker thread ended after starting (a panic inside libtorch, say).
    Stopped(String),
    /// Tests and machines without a model: no worker at all.
    Off,
}

/// What every screen may read: the desk service, the proposal engine's state and the item that
/// is open (coding, review, and the search and browser working on it).
pub struct Ctx {
    pub desk: Option<Desk>,
    pub engine: EngineStatus,
    pub model_version: Option<String>,
    /// Items sent to the worker whose proposals have not arrived yet.
    pub pending: HashSet<i64>,
    pub open: Option<ItemView>,
    /// The group of identical terms the open item stands for (opened from the grouped queue):
    /// decisions then apply to the group's items as they were when it opened.
    pub group: Option<OpenGroup>,
    pub tick: u64,
}

/// A group of identical terms as the user saw it when it opened: a decision applies to these items
/// at these revisions only, so nothing changed since is decided unseen.
pub struct OpenGroup {
    pub term: String,
    pub seen: Vec<crate::store::item::Item>,
}

impl OpenGroup {
    /// The items a confirmation of `llt` by `me` would sign: proposed with it, not their own.
    pub fn to_confirm(&self, llt: Option<u32>, me: &str) -> usize {
        self.seen.iter().filter(|i| i.state == crate::store::item::State::Proposed && i.llt_code == llt && i.proposer.as_deref() != Some(me)).count()
    }

    /// The new or returned items a proposal would code.
    pub fn to_code(&self) -> usize {
        self.seen.iter().filter(|i| matches!(i.state, crate::store::item::State::New | crate::store::item::State::Returned)).count()
    }
}

impl Ctx {
    pub fn desk(&self) -> &Desk {
        self.desk.as_ref().expect("screens after sign-in have a desk")
    }

    /// Whether the open item is still waiting for the model.
    pub fn waiting_for_model(&self) -> bool {
        self.open.as_ref().is_some_and(|v| v.proposals.is_empty() && self.pending.contains(&v.item.id))
            && matches!(self.engine, EngineStatus::Loading | EngineStatus::Ready(_))
    }
}

/// One-line text entries; the screen that asked for one gets the text back in `submit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Filter,
    QueryNote,
    ReturnComment,
    JumpToCode,
    /// One key picks the queue's state filter (`state_key`).
    StateFilter,
    /// Why a confirmed item is recoded (logged with the recode; may be empty).
    RecodeReason,
    /// The site's answer to a query, then its corrected verbatim (may be empty).
    Answer,
    CorrectedTerm,
    /// Why a query is closed by hand (may be empty).
    CloseNote,
    /// The parts of a split, separated by `;`.
    SplitParts,
    /// Why a reviewer returns a split.
    ReturnSplit,
    /// The user's password before their first confirm or return of the session (shown masked;
    /// handled by the app, not a screen).
    Signature,
    /// Why a synonym candidate is declined.
    DeclineReason,
    /// "yes" before a bulk confirmation of the queue list.
    BulkConfirm,
}

/// The state a key picks in the state-filter prompt: Some(None) is "all"; None is no state.
pub fn state_key(c: char) -> Option<Option<crate::store::item::State>> {
    use crate::store::item::State;
    Some(match c.to_ascii_lowercase() {
        'a' => None,
        'n' => Some(State::New),
        'p' => Some(State::Proposed),
        'r' => Some(State::Returned),
        'u' => Some(State::Query),
        'e' => Some(State::Answered),
        's' => Some(State::Split),
        'c' => Some(State::Confirmed),
        _ => return None,
    })
}

impl Prompt {
    pub fn label(self) -> &'static str {
        match self {
            Prompt::Filter => "Filter (id, term or subject)",
            Prompt::QueryNote => "Query note for the site",
            Prompt::ReturnComment => "Why are you returning this code?",
            Prompt::JumpToCode => "Jump to LLT or PT code",
            Prompt::StateFilter => "Show: a all n new p proposed r returned u query e answered s split c confirmed",
            Prompt::RecodeReason => "Recode: why does the confirmed code change? (logged; goes to review)",
            Prompt::Answer => "The site's answer to the query",
            Prompt::CorrectedTerm => "The site's corrected verbatim, if it sent one (Enter: none)",
            Prompt::CloseNote => "Close the query: why? (Enter: closed by hand)",
            Prompt::SplitParts => "Split into parts, one per event, separated by ;",
            Prompt::ReturnSplit => "Why are you returning this split? (its parts become void)",
            Prompt::Signature => "Your password (electronic signature, asked once this session)",
            Prompt::DeclineReason => "Why is this synonym candidate declined? (logged; it never autocodes)",
            Prompt::BulkConfirm => "Confirm others' proposals in this list (one signature)? Type yes",
        }
    }
}

/// What a screen asks of the app.
pub enum Cmd {
    None,
    Say(String, Tone),
    SignIn {
        store: Box<dyn DeskStore>,
        user: String,
    },
    /// Open this queue item for coding or review.
    Open(String),
    /// Open a group of identical terms: its first item that waits for this user, with decisions
    /// applying to the group.
    OpenGroup(TermGroup),
    Push(Box<dyn Screen>),
    Replace(Box<dyn Screen>),
    Pop,
    /// Close the item and go back to the (reloaded) queue list.
    ToQueue,
    /// The next (+1) or previous (-1) item of the queue list.
    Step(isize),
    /// A workflow decision on the open item; the text says what was done ("confirmed").
    Decide(Decision, &'static str),
    Prompt(Prompt, String),
    /// A prompt with a message on the line above it (what answering it will do).
    Ask(Prompt, String),
    /// A signature beyond the open item: the first of the session asks for the password.
    Signed(Signed),
}

/// What a signature covers besides a decision on the open item.
pub enum Signed {
    /// Confirm these items (the queue list as read), each at its revision.
    Bulk(Vec<crate::store::item::Item>),
    /// Approve the synonym candidate of this key on this list (a study's, "" for the global one).
    Approve { study: String, term: String },
    /// Decline it, with the reason.
    Decline { study: String, term: String, why: String },
}

pub trait Screen: std::any::Any {
    fn id(&self) -> ScreenId;
    /// The keymap: keys, footer and help all come from it.
    fn keymap(&self) -> &'static [Binding];
    /// Help text besides the keys (what the screen's marks mean).
    fn notes(&self) -> &'static [&'static str] {
        &[]
    }
    /// Text screens take typed characters as `Action::Type` (and `?` is typed, not help).
    fn takes_text(&self) -> bool {
        false
    }
    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd>;
    /// The text of a prompt this screen asked for.
    fn submit(&mut self, _prompt: Prompt, _text: String, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(Cmd::None)
    }
    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme);
}

/// A selection moved by `action` within `n` rows (None when the action is not a movement).
pub fn moved(sel: usize, n: usize, action: Action) -> Option<usize> {
    let last = n.saturating_sub(1);
    Some(match action {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (sel + 1).min(last),
        Action::PageUp => sel.saturating_sub(10),
        Action::PageDown => (sel + 10).min(last),
        Action::Home => 0,
        Action::End => last,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_moves_stay_in_the_list() {
        assert_eq!(moved(0, 5, Action::Up), Some(0));
        assert_eq!(moved(4, 5, Action::Down), Some(4));
        assert_eq!(moved(2, 50, Action::PageDown), Some(12));
        assert_eq!(moved(45, 50, Action::PageDown), Some(49));
        assert_eq!(moved(3, 5, Action::End), Some(4));
        assert_eq!(moved(3, 0, Action::End), Some(0));
        assert_eq!(moved(3, 5, Action::Select), None);
    }
}
