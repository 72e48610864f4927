//! The store as the coding desk uses it, on either backend: SQLite (`Store`) or a team database
//! (`postgres::TeamDesk`). The desk holds a `Box<dyn DeskStore>` and never knows which.

use anyhow::Result;

use super::audit::Head;
use super::item::{Item, ItemFilter, ItemSummary, State};
use super::proposals::{ProposalSet, TopProposal};
use super::queue::TermGroup;
use super::synonyms::Synonym;
use super::users::User;
use super::workflow::{Action, GroupOutcome, Refusal, Source};
use super::{ProposalStore, Store};
use crate::backtest::Case;
use crate::meddra::Dictionary;

pub trait DeskStore: ProposalStore {
    fn item(&self, external_id: &str) -> Result<Item>;
    fn user(&self, name: &str) -> Result<User>;
    fn active_dictionary(&self) -> Result<Dictionary>;
    fn is_demo(&self) -> Result<bool>;
    fn queue_rows(&self, f: &ItemFilter, meddra_version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>>;
    fn proposals(&self, item_id: i64) -> Result<Option<ProposalSet>>;
    fn synonym(&self, term: &str, version: &str) -> Result<Option<Synonym>>;
    fn synonym_changed_at(&self, version: &str) -> Result<Option<String>>;
    fn state_counts(&self) -> Result<Vec<(State, usize)>>;
    fn studies(&self) -> Result<Vec<String>>;
    /// One decision by `user` (the database's own identity in team mode), quoting the revision read.
    fn act(&mut self, dict: &Dictionary, user: &str, external_id: &str, revision: Option<i64>, action: Action) -> Result<Item>;
    /// Changes when another connection changed the store: the desk reloads its list then.
    fn data_version(&self) -> Result<i64>;
    /// The user's signature: their password, checked by the store.
    fn check_signature(&self, user: &str, password: &str) -> Result<()>;
    /// Appends the log head to the team's anchor file.
    fn anchor(&self) -> Result<Option<Head>>;
    /// Appends the log head to `file`.
    fn anchor_to(&self, file: &std::path::Path) -> Result<Option<Head>>;
    fn term_groups(&self, f: &ItemFilter) -> Result<Vec<TermGroup>>;
    fn items_of_term(&self, term: &str, states: &[State]) -> Result<Vec<Item>>;
    /// Whether an error of `act` is the rules refusing that item (the group goes on without it)
    /// rather than the store failing (the group stops).
    fn is_refusal(&self, e: &anyhow::Error) -> bool;

    /// The distinct LLTs proposed for a normalised term's items, ascending: one means the group
    /// can be confirmed at once.
    fn group_proposed_llts(&self, term: &str) -> Result<Vec<u32>> {
        let mut codes: Vec<u32> = self.items_of_term(term, &[State::Proposed])?.iter().filter_map(|i| i.llt_code).collect();
        codes.sort_unstable();
        codes.dedup();
        Ok(codes)
    }

    /// Proposes `llt` for the items of a group the proposer saw new or returned (`seen`, with the
    /// revisions read): an item changed since is left out and named, never coded over.
    fn propose_group(&mut self, dict: &Dictionary, user: &str, seen: &[Item], llt: u32, source: Source) -> Result<GroupOutcome> {
        let todo: Vec<Item> = seen.iter().filter(|i| matches!(i.state, State::New | State::Returned)).cloned().collect();
        // The model's proposal for the item on screen; for a sibling whose own stored proposals
        // lack it, the code is the coder's choice, and the log says so (`manual`), never `model`.
        let mut own = std::collections::HashMap::new();
        if source == Source::Model {
            for it in &todo {
                let proposed = self.proposals(it.id)?.is_some_and(|set| set.proposals.iter().any(|p| p.llt_code == llt));
                own.insert(it.id, if proposed { Source::Model } else { Source::Manual });
            }
        }
        act_each(self, dict, user, todo, |it| Some(Action::Propose { llt, source: own.get(&it.id).copied().unwrap_or(source) }))
    }

    /// Confirms the items of a group the reviewer saw proposed with `llt` (`seen`, with the
    /// revisions read). Each is confirmed only at the revision seen, so an item re-proposed since
    /// (another code, or the same code again) is left out and named, never signed unseen; the
    /// reviewer's own proposals and items seen with another LLT are left out too.
    fn confirm_group(&mut self, dict: &Dictionary, user: &str, seen: &[Item], llt: u32) -> Result<GroupOutcome> {
        let mut out = GroupOutcome::default();
        let mut todo = Vec::new();
        for it in seen.iter().filter(|i| i.state == State::Proposed) {
            if it.llt_code != Some(llt) {
                out.skipped.push((it.external_id.clone(), format!("proposed with another LLT ({})", it.llt_code.map_or("-".into(), |c| c.to_string()))));
            } else if it.proposer.as_deref() == Some(user) {
                out.skipped.push((it.external_id.clone(), "you proposed it: another reviewer must confirm it (four-eye rule)".into()));
            } else {
                todo.push(it.clone());
            }
        }
        let rest = act_each(self, dict, user, todo, |_| Some(Action::Confirm))?;
        out.done = rest.done;
        out.skipped.extend(rest.skipped);
        Ok(out)
    }
    /// Confirmed items with the proposals they were decided with (only this model's, when named).
    fn backtest_cases(&self, model_version: Option<&str>) -> Result<Vec<Case>>;
    /// Open items (id, term) lacking this model's proposals for this version: the desk worker's jobs.
    fn items_lacking_proposals(&self, model_version: &str, meddra_version: &str) -> Result<Vec<(i64, String)>>;
    /// Everyone who may sign in (the demo's pick list).
    fn users(&self) -> Result<Vec<User>>;
}

impl DeskStore for Store {
    fn item(&self, external_id: &str) -> Result<Item> {
        Store::item(self, external_id)
    }
    fn user(&self, name: &str) -> Result<User> {
        Store::user(self, name)
    }
    fn active_dictionary(&self) -> Result<Dictionary> {
        Store::active_dictionary(self)
    }
    fn is_demo(&self) -> Result<bool> {
        Store::is_demo(self)
    }
    fn queue_rows(&self, f: &ItemFilter, meddra_version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>> {
        Store::queue_rows(self, f, meddra_version)
    }
    fn proposals(&self, item_id: i64) -> Result<Option<ProposalSet>> {
        Store::proposals(self, item_id)
    }
    fn synonym(&self, term: &str, version: &str) -> Result<Option<Synonym>> {
        Store::synonym(self, term, version)
    }
    fn synonym_changed_at(&self, version: &str) -> Result<Option<String>> {
        Store::synonym_changed_at(self, version)
    }
    fn state_counts(&self) -> Result<Vec<(State, usize)>> {
        Store::state_counts(self)
    }
    fn studies(&self) -> Result<Vec<String>> {
        Store::studies(self)
    }
    fn act(&mut self, dict: &Dictionary, user: &str, external_id: &str, revision: Option<i64>, action: Action) -> Result<Item> {
        Store::act(self, dict, user, external_id, revision, action)
    }
    fn data_version(&self) -> Result<i64> {
        Store::data_version(self)
    }
    fn check_signature(&self, user: &str, password: &str) -> Result<()> {
        crate::identity::check_password(self, user, password, "desk signature")
    }
    fn anchor(&self) -> Result<Option<Head>> {
        Store::anchor(self, &self.anchor_file()?)
    }
    fn anchor_to(&self, file: &std::path::Path) -> Result<Option<Head>> {
        Store::anchor(self, file)
    }
    fn term_groups(&self, f: &ItemFilter) -> Result<Vec<TermGroup>> {
        Store::term_groups(self, f)
    }
    fn items_of_term(&self, term: &str, states: &[State]) -> Result<Vec<Item>> {
        Store::items_of_term(self, term, states)
    }
    fn is_refusal(&self, e: &anyhow::Error) -> bool {
        e.downcast_ref::<Refusal>().is_some()
    }
    fn backtest_cases(&self, model_version: Option<&str>) -> Result<Vec<Case>> {
        Store::backtest_cases(self, model_version)
    }
    fn items_lacking_proposals(&self, model_version: &str, meddra_version: &str) -> Result<Vec<(i64, String)>> {
        Ok(self.items_needing_proposals(model_version, meddra_version, false)?.into_iter().map(|i| (i.id, i.report.reported_term)).collect())
    }
    fn users(&self) -> Result<Vec<User>> {
        Store::users(self)
    }
}

/// Each item acted on alone (its own transaction, log row and revision check); refusals are
/// listed, store failures stop the group.
fn act_each<S: DeskStore + ?Sized>(
    store: &mut S,
    dict: &Dictionary,
    user: &str,
    items: Vec<Item>,
    action: impl Fn(&Item) -> Option<Action>,
) -> Result<GroupOutcome> {
    let mut out = GroupOutcome::default();
    for it in items {
        let Some(a) = action(&it) else { continue };
        match store.act(dict, user, &it.external_id, Some(it.revision), a) {
            Ok(done) => out.done.push(done),
            Err(e) if store.is_refusal(&e) => out.skipped.push((it.external_id.clone(), format!("{e}"))),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
