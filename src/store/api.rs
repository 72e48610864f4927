//! The one store API, on either backend: SQLite (`Store`, store/sqlite.rs) or a team database
//! (`postgres::TeamDesk`). The desk holds a `Box<dyn DeskStore>` and never knows which, and every
//! workflow command of the command line is one function over it. What only one backend can do
//! says so through `unsupported`, in one wording.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::audit::Head;
use super::datasets::{DatasetInfo, ReceivedRecord};
use super::dict::{ImportCounts, ReleaseInfo};
use super::governance::Rekeyed;
use super::item::{Item, ItemFilter, ItemSummary, State};
use super::log::{LoggedEntry, Verdict};
use super::proposals::{ProposalSet, TopProposal};
use super::queue::ImportReport;
use super::queue::TermGroup;
use super::synonyms::Conflict;
use super::synonyms::Synonym;
use super::users::User;
use super::workflow::{Action, GroupOutcome, Source};
use super::worklist::{Assignment, Duty, Scope};
use super::ProposalStore;
use crate::backtest::Case;
use crate::intake::labelled::Labelled;
use crate::intake::queue::NewItem;
use crate::intake::sdtm::Received;
use crate::meddra::release::ReadReport;
use crate::meddra::Dictionary;
use crate::meddra::Release;
use crate::sdtm::Dataset;

/// Which backend a store is, for the commands only one of them runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Team,
}

impl Backend {
    fn describe(self) -> &'static str {
        match self {
            Backend::Sqlite => "a single-user SQLite store",
            Backend::Team => "a team database",
        }
    }
}

/// A command (or option) this backend does not run, and what to do instead: the one wording
/// every such refusal uses.
pub fn unsupported(backend: Backend, what: &str, instead: &str) -> anyhow::Error {
    anyhow::anyhow!("{what} is not available on {}: {instead}", backend.describe())
}

/// What `audit verify` found, on either store.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    /// Each hash chain checked, by name ("Decision log", "Log copied from SQLite").
    pub chains: Vec<(&'static str, Verdict)>,
    /// Differences between the tables and what the log rebuilds, each named.
    pub findings: Vec<String>,
    /// The anchor file checked and how many heads it holds; None when there is none.
    pub anchors: Option<(PathBuf, usize)>,
    /// Anchored heads the chain no longer holds, each with its file and line.
    pub anchor_mismatches: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty() && self.anchor_mismatches.is_empty() && self.chains.iter().all(|(_, v)| matches!(v, Verdict::Intact { .. }))
    }
}

pub trait DeskStore: ProposalStore {
    fn backend(&self) -> Backend;
    fn item(&self, external_id: &str) -> Result<Item>;
    fn user(&self, name: &str) -> Result<User>;
    fn active_dictionary(&self) -> Result<Dictionary>;
    fn is_demo(&self) -> Result<bool>;
    fn queue_rows(&self, f: &ItemFilter, meddra_version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>>;
    fn proposals(&self, item_id: i64) -> Result<Option<ProposalSet>>;
    /// The synonym that decides a term for the items of `study` (its study's entry, else the
    /// global list's), held or not.
    fn synonym(&self, study: &str, term: &str, version: &str) -> Result<Option<Synonym>>;
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
    fn anchor(&self) -> Result<Option<Head>> {
        self.anchor_to(&self.anchor_file()?)
    }
    /// Appends the log head to `file`.
    fn anchor_to(&self, file: &Path) -> Result<Option<Head>>;
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
        self.confirm_seen(dict, user, seen, Some(llt))
    }

    /// A reviewer's bulk confirmation, with one signature, of the proposed items they read (`seen`,
    /// with the revisions read; when `llt` is named, only those proposed with it). Each item is
    /// its own confirmation: its own log row, its revision checked (an item changed since is left
    /// out and named), the four-eye rule applied to it (the reviewer's own proposals, and codes
    /// they imported or had the model code, are left out and named).
    fn confirm_seen(&mut self, dict: &Dictionary, user: &str, seen: &[Item], llt: Option<u32>) -> Result<GroupOutcome> {
        let mut out = GroupOutcome::default();
        let mut todo = Vec::new();
        for it in seen.iter().filter(|i| i.state == State::Proposed) {
            if llt.is_some_and(|l| it.llt_code != Some(l)) {
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
    /// The validated threshold of the newest decisions' model at the team's target, with the drift
    /// check: what model-first coding uses for that model (the store applies the same rule, per
    /// model, when proposals are stored).
    fn validation(&self) -> Result<crate::backtest::Validation> {
        let target = crate::store::model_first::parse_target(self.setting(crate::store::model_first::TARGET)?.as_deref())?;
        let model = crate::backtest::newest_model(&self.backtest_cases(None)?);
        let cases = self.backtest_cases(model.as_deref())?;
        Ok(crate::backtest::validate(&cases, target).for_model(model.as_deref()))
    }
    /// Open items (id, term) lacking this model's proposals for this version: the desk worker's jobs.
    fn items_lacking_proposals(&self, model_version: &str, meddra_version: &str) -> Result<Vec<(i64, String)>>;
    /// Everyone who may sign in (the demo's pick list).
    fn users(&self) -> Result<Vec<User>>;

    /// One decision by `user` on the item `external_id`, against the active release: what the
    /// command line's code/confirm/return/query/recode run.
    fn decide(&mut self, user: &str, external_id: &str, revision: Option<i64>, action: Action) -> Result<Item> {
        let dict = self.active_dictionary()?;
        self.act(&dict, user, external_id, revision, action)
    }

    // The dictionary.
    /// The releases loaded, oldest first, the active one marked.
    fn releases(&self) -> Result<Vec<ReleaseInfo>>;
    /// SMQ and history row counts of a release, where the store keeps them.
    fn release_extras(&self, _version: &str) -> Result<Option<(usize, usize)>> {
        Ok(None)
    }
    /// A release (the active one when None).
    fn dictionary(&self, version: Option<&str>) -> Result<Dictionary>;
    /// Loads a release read and validated from `report.dir` (admins; the first user on a new store).
    fn import_release(&mut self, user: Option<&str>, rel: &Release, report: &ReadReport, replace: bool, activate: bool) -> Result<ImportCounts>;
    /// Makes a loaded release the active one; returns the synonyms carried over to it.
    fn use_version(&mut self, user: Option<&str>, version: &str) -> Result<usize>;
    fn llt_name(&self, version: &str, code: u32) -> Result<Option<String>>;

    // The queue and the log.
    /// Queues the rows read from `file`: each new id once, coded by the rule or the synonym list
    /// where they apply.
    fn import_items(&mut self, user: &str, items: &[NewItem], file: &str) -> Result<ImportReport>;
    fn items(&self, f: &ItemFilter) -> Result<Vec<Item>>;
    /// The decision log, all of it or one item's.
    fn log_entries(&self, external_id: Option<&str>) -> Result<Vec<LoggedEntry>>;
    fn log_head(&self) -> Result<Option<Head>>;
    /// Every check of `audit verify`: the chains, the tables against the log, and the anchors in
    /// `anchors` (default: this store's anchor file, when it exists).
    fn audit(&self, anchors: Option<&Path>) -> Result<AuditReport>;
    /// Where `audit anchor` and the desk append log heads.
    fn anchor_file(&self) -> Result<PathBuf>;
    /// The anchor file `audit verify` checks: the one named, else this store's when it exists.
    fn anchors_to_check(&self, named: Option<&Path>) -> Result<Option<PathBuf>> {
        Ok(match named {
            Some(f) => Some(f.to_path_buf()),
            None => Some(self.anchor_file()?).filter(|f| f.exists()),
        })
    }

    // The synonym list and the settings.
    fn synonyms(&self, version: &str) -> Result<Vec<Synonym>>;
    /// Terms confirmed to more than one LLT in a version.
    fn synonym_conflicts(&self, version: &str) -> Result<Vec<Conflict>>;
    /// Imports an admin's synonym list (checked whole first: `synonyms::check_list`) onto the
    /// global list (`study` "") or a study's.
    fn import_synonyms(&mut self, user: &str, dict: &Dictionary, study: &str, rows: &[Labelled], file: &str) -> Result<usize>;
    /// Retires a synonym of the global list (`study` "") or a study's (admin; logged).
    fn retire_synonym(&mut self, user: &str, version: &str, study: &str, term: &str) -> Result<Synonym>;
    /// Approves (`why` None) or declines (saying why) a pending synonym candidate of the global
    /// list (`study` "") or a study's: a reviewer or admin who proposed or confirmed none of the
    /// codes behind it (logged).
    fn decide_synonym(&mut self, user: &str, dict: &Dictionary, study: &str, term: &str, why: Option<&str>) -> Result<Synonym>;
    /// Sets the qualifier list the synonym key drops (admin; logged) and rekeys items and synonyms.
    fn set_synonym_qualifiers(&mut self, user: &str, list: &[String]) -> Result<Rekeyed>;
    /// The synonym key of a reported term under the store's qualifier list.
    fn synonym_key(&self, term: &str) -> Result<String>;
    /// The qualifier list in force.
    fn synonym_qualifiers(&self) -> Result<Vec<String>> {
        crate::qualifiers::from_setting(self.setting(crate::qualifiers::SETTING)?.as_deref())
    }
    fn setting(&self, key: &str) -> Result<Option<String>>;
    /// A team setting (admins; logged).
    fn set_setting(&mut self, user: &str, key: &str, value: &str) -> Result<()>;

    // Splits and worklists (issue #21).
    /// The parts a split item was split into, in part order (void ones too).
    fn parts(&self, source: &str) -> Result<Vec<Item>>;
    /// Assigns the duty of an item, term or study to a user, or clears it (admins; logged).
    fn assign(&mut self, user: &str, scope: Scope, key: &str, duty: Duty, to: Option<&str>) -> Result<()>;
    fn assignments(&self) -> Result<Vec<Assignment>>;
    /// Sets or clears a study's due date, YYYY-MM-DD (admins; logged).
    fn set_due_date(&mut self, user: &str, study: &str, date: Option<&str>) -> Result<()>;
    /// (study, due date), by study.
    fn due_dates(&self) -> Result<Vec<(String, String)>>;

    // SDTM datasets (issue #22).
    /// Queues the records of a received SDTM dataset and keeps the dataset, in one transaction.
    fn import_dataset(&mut self, user: &str, received: &Received, file: &str) -> Result<ImportReport>;
    /// The datasets kept, oldest first.
    fn datasets(&self) -> Result<Vec<DatasetInfo>>;
    /// A kept dataset as received.
    fn dataset(&self, id: i64) -> Result<Dataset>;
    /// The item id of each record of a kept dataset, in record order.
    fn dataset_record_ids(&self, id: i64) -> Result<Vec<String>>;
    /// The record an item came from, in the latest dataset holding it: the desk's context.
    fn received_record(&self, external_id: &str) -> Result<Option<ReceivedRecord>>;
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
