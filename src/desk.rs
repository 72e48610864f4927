//! The coding desk service: everything the TUI shows or does, as plain data. It owns the store
//! connection, the active dictionary and its search index, so the UI never touches SQL or tensors.

use std::sync::Arc;

use anyhow::Result;

use crate::backtest;
use crate::meddra::search::SearchIndex;
use crate::meddra::{Dictionary, Path as MedPath};
use crate::store::api::DeskStore;
use crate::store::item::{Item, ItemFilter, ItemSummary, State};
use crate::store::proposals::{Proposal, ProposalSet, TopProposal};
use crate::store::queue::TermGroup;
use crate::store::users::User;
use crate::store::workflow::{Action, GroupOutcome};

/// Entropy (nats) above which an item is flagged as uncertain on screen.
pub const UNCERTAIN_ENTROPY: f64 = 2.5;
/// Top PT confidence (LLT confidence for proposals stored without one) below which an item is
/// flagged as uncertain on screen.
pub const UNCERTAIN_CONFIDENCE: f64 = 0.5;

#[derive(Debug, Clone, PartialEq)]
pub struct ProposalView {
    /// The confirmed term that made the memory propose it ("like 'head ache severe', AE-0112").
    pub evidence: Option<String>,
    pub llt_code: u32,
    pub llt_name: String,
    pub pt_name: String,
    pub soc_name: String,
    pub confidence: f64,
    /// The probability that its PT is right (shared by the PT's LLTs).
    pub pt_confidence: f64,
    pub current: bool,
}

/// The top proposal as the queue list shows it; the name is looked up (`Desk::llt_name`) for
/// the rows on screen only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopView {
    pub llt_code: u32,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub item: ItemSummary,
    pub top: Option<TopView>,
    pub uncertain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    pub item: Item,
    pub proposals: Vec<ProposalView>,
    pub model_version: Option<String>,
    pub entropy: Option<f64>,
    /// The PT of the top proposal is uncertain (or, for older proposals, the LLT).
    pub uncertain: bool,
    /// The PT is clear but the choice of LLT within it is not (the top LLT holds less than half
    /// of its PT's confidence).
    pub llt_uncertain: bool,
    /// The coded LLT's name and every SOC path of its PT (primary first).
    pub code_name: Option<String>,
    pub code_paths: Vec<MedPath>,
    /// 1-based rank of the coded LLT among the proposals.
    pub code_rank: Option<usize>,
    /// When the proposals were computed.
    pub computed_at: Option<String>,
    /// The synonym of the item's term, with its provenance, when there is one.
    pub synonym: Option<crate::store::synonyms::Synonym>,
    /// The item this one is a part of (a reviewer sees the split and the original text together).
    pub whole: Option<Item>,
    /// The parts this item was split into (void ones too).
    pub parts: Vec<Item>,
    /// The study's due date, when it has one.
    pub due: Option<String>,
    /// The clinical context of the SDTM record the item came from: (variable, label, value).
    pub context: Vec<(String, String, String)>,
    /// How the same normalised term was coded before: its other confirmed items, newest first.
    pub history: Vec<Item>,
    /// Who returned the item, when and why (its newest return), while it is returned.
    pub returned: Option<Returned>,
}

/// A reviewer's return of an item, as the log has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Returned {
    pub by: String,
    pub at: String,
    pub comment: String,
}

/// The most confirmed items of a term the review screen lists.
pub const HISTORY_ROWS: usize = 20;

/// What a coder weighs from an SDTM record besides its term, by the variable's name after the
/// domain prefix: category, location, severity and grade, causality, action, outcome, end, and
/// each serious-event criterion that holds (Y).
const CONTEXT: [&str; 12] = ["CAT", "SCAT", "LOC", "SEV", "TOXGR", "REL", "ACN", "OUT", "ENDTC", "ENRTPT", "PATT", "CONTRT"];
const SERIOUS_CRITERIA: [&str; 8] = ["SDTH", "SLIFE", "SHOSP", "SDISAB", "SCONG", "SMIE", "SCAN", "SOD"];

/// A context variable as a coder reads it on one line: "severity", or for a serious-event
/// criterion its criterion ("hospitalisation").
pub fn context_word(name: &str) -> (&'static str, bool) {
    let suffix = name.get(2..).unwrap_or_default();
    let serious = SERIOUS_CRITERIA.contains(&suffix);
    let word = match suffix {
        "CAT" => "category",
        "SCAT" => "subcategory",
        "LOC" => "location",
        "SEV" => "severity",
        "TOXGR" => "grade",
        "REL" => "causality",
        "ACN" => "action",
        "OUT" => "outcome",
        "ENDTC" => "ended",
        "ENRTPT" => "end vs reference",
        "PATT" => "pattern",
        "CONTRT" => "treated",
        "SDTH" => "death",
        "SLIFE" => "life-threatening",
        "SHOSP" => "hospitalisation",
        "SDISAB" => "disability",
        "SCONG" => "congenital anomaly",
        "SMIE" => "medically important",
        "SCAN" => "cancer",
        "SOD" => "overdose",
        _ => "",
    };
    (word, serious)
}

/// The context of a received record, in the record's variable order.
pub fn record_context(record: &crate::store::datasets::ReceivedRecord) -> Vec<(String, String, String)> {
    let prefix = record.iter().find_map(|(n, _, _)| n.strip_suffix("TERM").filter(|p| matches!(*p, "AE" | "MH"))).unwrap_or("AE").to_string();
    record
        .iter()
        .filter_map(|(name, label, value)| {
            let suffix = name.strip_prefix(prefix.as_str())?;
            let value = crate::sdtm::text(value)?;
            let wanted = CONTEXT.contains(&suffix) || (SERIOUS_CRITERIA.contains(&suffix) && value == "Y");
            wanted.then(|| (name.clone(), if label.is_empty() { name.clone() } else { label.clone() }, value))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRow {
    pub llt_code: u32,
    pub llt_name: String,
    pub pt_name: String,
    pub soc_name: String,
    pub current: bool,
    /// The LLT's name is the query (case, spaces and punctuation ignored).
    pub exact: bool,
    /// Every word of the query is in the name (as part of a word): a hit, not only a neighbour by
    /// spelling.
    pub contains: bool,
}

/// Whether every word of `query` is part of a word of `name` (both normalised).
pub fn name_contains(name: &str, query: &str) -> bool {
    let name = crate::text::normalize(name);
    let words: Vec<&str> = name.split(' ').collect();
    let query = crate::text::normalize(query);
    !query.is_empty() && query.split(' ').all(|q| words.iter().any(|w| w.contains(q)))
}

/// An item as a coder or reviewer sees it, in the given dictionary version: the desk and
/// `medcoder queue show` both use it, so they show the same proposals.
pub fn item_view(store: &dyn DeskStore, dict: &Dictionary, external_id: &str) -> Result<ItemView> {
    let item = store.item(external_id)?;
    let set = current_proposals(store, dict, item.id)?;
    let proposals: Vec<ProposalView> = set
        .as_ref()
        .map(|s| s.proposals.iter().enumerate().map(|(i, p)| proposal_view(dict, p, s.pt_confidence(i).unwrap_or(p.confidence))).collect())
        .unwrap_or_default();
    let uncertain = set.as_ref().is_some_and(|s| is_uncertain(&s.top()));
    let code_rank = item.llt_code.and_then(|c| proposals.iter().position(|p| p.llt_code == c)).map(|i| i + 1);
    let (code_name, code_paths) = match item.llt_code.and_then(|c| dict.llt(c)) {
        Some(l) => (Some(l.name.clone()), dict.paths(l.pt_code)),
        None => (item.llt_code.map(|c| format!("LLT {c}")), vec![]),
    };
    let synonym = store.synonym(&item.study, &item.reported_term, &dict.version)?;
    let whole = item.part_of.as_deref().map(|w| store.item(w)).transpose()?;
    let parts = store.parts(&item.external_id)?;
    let due = store.due_dates()?.into_iter().find(|(s, _)| *s == item.study).map(|(_, d)| d);
    let context = store.received_record(&item.external_id)?.map(|r| record_context(&r)).unwrap_or_default();
    let mut history: Vec<Item> = store.items_of_term(&item.reported_term, &[State::Confirmed])?.into_iter().filter(|i| i.id != item.id).collect();
    history.sort_by(|a, b| b.confirmed_at.cmp(&a.confirmed_at));
    history.truncate(HISTORY_ROWS);
    let returned = match item.state {
        State::Returned => store.log_entries(Some(&item.external_id))?.into_iter().rev().find(|e| e.entry.action == "return").map(|e| Returned {
            by: e.entry.user.clone(),
            at: e.at.clone(),
            comment: e.entry.comment.clone().unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(ItemView {
        history,
        returned,
        context,
        synonym,
        whole,
        parts,
        due,
        computed_at: set.as_ref().map(|s| s.computed_at.clone()),
        llt_uncertain: !uncertain && proposals.first().is_some_and(|p| p.confidence < crate::store::proposals::UNCERTAIN_LLT_SHARE * p.pt_confidence),
        uncertain,
        model_version: set.as_ref().map(|s| s.model_version.clone()),
        entropy: set.as_ref().and_then(|s| s.entropy),
        proposals,
        code_name,
        code_paths,
        code_rank,
        item,
    })
}

/// Proposals count only when made for the dictionary version in use.
fn current_proposals(store: &dyn DeskStore, dict: &Dictionary, item_id: i64) -> Result<Option<ProposalSet>> {
    Ok(store.proposals(item_id)?.filter(|s| s.meddra_version == dict.version))
}

/// The LLT's name, or its code marked as missing from the version in use.
fn llt_name(dict: &Dictionary, code: u32) -> String {
    dict.llt(code).map(|l| l.name.clone()).unwrap_or_else(|| format!("{code} (not in MedDRA {})", dict.version))
}

fn proposal_view(dict: &Dictionary, p: &Proposal, pt_confidence: f64) -> ProposalView {
    let (code, confidence) = (p.llt_code, p.confidence);
    let l = dict.llt(code);
    let pt = l.map(|l| l.pt_code);
    ProposalView {
        evidence: p.evidence.clone(),
        llt_code: code,
        llt_name: llt_name(dict, code),
        pt_name: pt.and_then(|p| dict.pt(p)).map(|p| p.name.clone()).unwrap_or_default(),
        soc_name: pt.and_then(|p| dict.primary_path(p)).map(|p| p.soc.name).unwrap_or_default(),
        confidence,
        pt_confidence,
        current: l.is_some_and(|l| l.current),
    }
}

/// Whether the top proposal's PT is uncertain. Probability split across LLTs of one PT is not
/// doubt about the PT: with a PT confidence the entropy over LLTs does not count.
fn is_uncertain(t: &TopProposal) -> bool {
    match t.pt {
        Some(pt) => pt < UNCERTAIN_CONFIDENCE,
        None => t.entropy.is_some_and(|e| e > UNCERTAIN_ENTROPY) || t.top.is_none_or(|(_, confidence)| confidence < UNCERTAIN_CONFIDENCE),
    }
}

pub struct Desk {
    pub store: Box<dyn DeskStore>,
    pub dict: Arc<Dictionary>,
    search: SearchIndex,
    pub user: User,
    /// Decisions taken at this desk, for anchoring every `ANCHOR_EVERY`.
    decisions: usize,
    /// A demo database: users are picked, nothing is signed.
    pub demo: bool,
    /// Whether the user signed with their password in this session (the first confirm or return).
    signed: bool,
}

/// The desk appends the log head to the anchor file after this many decisions (and on exit).
pub const ANCHOR_EVERY: usize = 25;

impl Desk {
    pub fn open(store: Box<dyn DeskStore>, user_name: &str) -> Result<Desk> {
        let user = store.user(user_name)?;
        let dict = Arc::new(store.active_dictionary()?);
        let search = SearchIndex::new(&dict);
        let demo = store.is_demo()?;
        Ok(Desk { store, dict, search, user, decisions: 0, demo, signed: false })
    }

    /// The queue rows with their top proposals, filtered in one query (large queues).
    pub fn queue(&self, filter: &ItemFilter) -> Result<Vec<QueueRow>> {
        Ok(self.store.queue_rows(filter, &self.dict.version)?.into_iter().map(|(item, top)| self.row_with(item, top)).collect())
    }

    /// One queue row: the item with its top proposal.
    pub fn row(&self, item: ItemSummary) -> Result<QueueRow> {
        let top = current_proposals(self.store.as_ref(), &self.dict, item.id)?.map(|s| s.top());
        Ok(self.row_with(item, top))
    }

    fn row_with(&self, item: ItemSummary, t: Option<TopProposal>) -> QueueRow {
        let top = t.and_then(|t| t.top).map(|(llt_code, confidence)| TopView { llt_code, confidence });
        QueueRow { item, top, uncertain: t.is_some_and(|t| is_uncertain(&t)) }
    }

    /// Whether the synonym list changed after `at` (proposals computed before then are stale:
    /// the engine's memory has learned since).
    pub fn learned_since(&self, at: &str) -> Result<bool> {
        Ok(self.store.synonym_changed_at(&self.dict.version)?.is_some_and(|t| t.as_str() > at))
    }

    /// An LLT's name in the version in use, or its code marked as missing from it.
    pub fn llt_name(&self, code: u32) -> String {
        llt_name(&self.dict, code)
    }

    pub fn counts(&self) -> Result<Vec<(State, usize)>> {
        self.store.state_counts()
    }

    pub fn studies(&self) -> Result<Vec<String>> {
        self.store.studies()
    }

    pub fn item(&self, external_id: &str) -> Result<ItemView> {
        item_view(self.store.as_ref(), &self.dict, external_id)
    }

    pub fn act(&mut self, external_id: &str, revision: i64, action: Action) -> Result<Item> {
        let dict = self.dict.clone();
        let item = self.store.act(&dict, &self.user.name, external_id, Some(revision), action)?;
        self.decided(1);
        Ok(item)
    }

    /// A number that changes when someone else changed the store (see `Store::data_version`).
    pub fn data_version(&self) -> Result<i64> {
        self.store.data_version()
    }

    /// Whether the next confirm or return must first be signed with the user's password (once a
    /// session, as 21 CFR Part 11 §11.200 allows for a continuous session).
    pub fn needs_signature(&self) -> bool {
        !self.demo && !self.signed
    }

    /// Signs this session with the user's password.
    pub fn sign(&mut self, password: &str) -> Result<()> {
        self.store.check_signature(&self.user.name, password)?;
        self.signed = true;
        Ok(())
    }

    /// Appends the log head to the team's anchor file (on exit, and every `ANCHOR_EVERY` decisions).
    pub fn anchor(&self) -> Result<Option<crate::store::audit::Head>> {
        self.store.anchor()
    }

    fn decided(&mut self, n: usize) {
        let before = self.decisions / ANCHOR_EVERY;
        self.decisions += n;
        if self.decisions / ANCHOR_EVERY > before {
            // A failed periodic anchor is reported by the one on exit; the decision stands.
            let _ = self.anchor();
        }
    }

    /// The queue grouped by normalised term.
    pub fn groups(&self, filter: &ItemFilter) -> Result<Vec<TermGroup>> {
        self.store.term_groups(filter)
    }

    /// The items of a group, in the given states.
    pub fn group_items(&self, term: &str, states: &[State]) -> Result<Vec<Item>> {
        self.store.items_of_term(term, states)
    }

    /// A decision on the items of a group of identical terms as the user saw them (`seen`, each
    /// with the revision read; each item its own log row and revision check): proposing codes the
    /// new and returned ones; confirming confirms those proposed with `on_screen`, the code the
    /// reviewer looked at, except the user's own. An item changed since it was seen is left out.
    pub fn act_group(&mut self, term: &str, seen: &[Item], on_screen: Option<u32>, action: Action) -> Result<GroupOutcome> {
        let outcome = self.act_group_inner(term, seen, on_screen, action)?;
        self.decided(outcome.done.len());
        Ok(outcome)
    }

    fn act_group_inner(&mut self, term: &str, seen: &[Item], on_screen: Option<u32>, action: Action) -> Result<GroupOutcome> {
        let dict = self.dict.clone();
        match action {
            Action::Propose { llt, source } => self.store.propose_group(&dict, &self.user.name, seen, llt, source),
            Action::Confirm => match on_screen {
                Some(llt) => self.store.confirm_group(&dict, &self.user.name, seen, llt),
                None => anyhow::bail!("no item of '{term}' is waiting for review"),
            },
            other => anyhow::bail!("{other:?} is decided item by item, not for a group"),
        }
    }

    /// A bulk confirmation, with this session's signature, of the proposed items the reviewer
    /// read (each confirmed on its own; own proposals left out and named).
    pub fn confirm_bulk(&mut self, seen: &[Item]) -> Result<GroupOutcome> {
        let dict = self.dict.clone();
        let out = self.store.confirm_seen(&dict, &self.user.name, seen, None)?;
        self.decided(out.done.len());
        Ok(out)
    }

    /// The items of the queue list as read now, for a bulk confirmation of what the user sees.
    pub fn items_in(&self, filter: &ItemFilter) -> Result<Vec<Item>> {
        self.store.items(filter)
    }

    /// The team reports over the last `days` days (all when None), for the stats screen.
    pub fn team_reports(&self, days: Option<i64>) -> Result<crate::report::TeamReports> {
        let from = days.map(|d| (chrono::Utc::now() - chrono::Duration::days(d)).format("%Y-%m-%d").to_string());
        let w = crate::report::Window::new(None, from, None)?;
        let items = self.store.items(&ItemFilter::default())?;
        let log = self.store.log_entries(None)?;
        let mut r = crate::report::team_reports(&log, &items, &self.dict, &self.store.synonym_qualifiers()?, &w, &crate::store::now());
        if let Some(d) = days {
            r.window = format!("all studies, the last {d} days");
        }
        Ok(r)
    }

    /// Synonym candidates awaiting approval in the version in use.
    pub fn synonym_candidates(&self) -> Result<Vec<crate::store::synonyms::Synonym>> {
        Ok(self.store.synonyms(&self.dict.version)?.into_iter().filter(|s| s.approval == "pending").collect())
    }

    /// Approves (`why` None) or declines a synonym candidate.
    pub fn decide_synonym(&mut self, study: &str, term: &str, why: Option<&str>) -> Result<crate::store::synonyms::Synonym> {
        let dict = self.dict.clone();
        self.store.decide_synonym(&self.user.name, &dict, study, term, why)
    }

    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchRow> {
        self.search
            .search(query, limit)
            .into_iter()
            .map(|h| {
                let l = &self.dict.llts[h.llt];
                SearchRow {
                    llt_code: l.code,
                    llt_name: l.name.clone(),
                    pt_name: self.dict.pt(l.pt_code).map(|p| p.name.clone()).unwrap_or_default(),
                    soc_name: self.dict.primary_path(l.pt_code).map(|p| p.soc.name).unwrap_or_default(),
                    current: l.current,
                    exact: crate::text::normalize(&l.name) == crate::text::normalize(query),
                    contains: name_contains(&l.name, query),
                }
            })
            .collect()
    }

    /// What the header says of the model's confidence: with model-first coding on, the
    /// validated threshold; whenever the newest decisions above it fall below the target, a drift
    /// warning (true). None when there is nothing to say.
    pub fn confidence_status(&self) -> Result<Option<(String, bool)>> {
        let on = self.store.setting(crate::store::model_first::SETTING)?.as_deref() == Some("on");
        let v = self.store.validation()?;
        Ok(match (on, v.drifting()) {
            (_, true) => Some((format!("⚠ model drift: {}", v.summary()), true)),
            (true, false) => Some((format!("model-first on · {}", v.summary()), false)),
            (false, false) => None,
        })
    }

    pub fn stats(&self) -> Result<Option<backtest::Report>> {
        let cases = self.store.backtest_cases(None)?;
        if cases.is_empty() {
            return Ok(None);
        }
        let mut report = backtest::report(&cases);
        report.validation = self.store.validation()?;
        Ok(Some(report))
    }

    /// Open items whose proposals are missing or stale, as (id, term) jobs for the worker.
    pub fn items_needing_proposals(&self, model_version: &str) -> Result<Vec<(i64, String)>> {
        self.store.items_lacking_proposals(model_version, &self.dict.version)
    }
}

/// Whole days from `at` (a stored RFC 3339 time) to now: how long an item has waited in its
/// state (a query since it was raised). 0 for a time that does not read.
pub fn days_since(at: &str) -> i64 {
    let now = chrono::Utc::now();
    chrono::DateTime::parse_from_rfc3339(at).map_or(0, |t| (now - t.with_timezone(&chrono::Utc)).num_days())
}

/// Today's date as the due dates are written (YYYY-MM-DD, UTC).
pub fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

/// Whether the site reported the event as serious: "serious", or SDTM's AESER "Y".
pub fn is_serious(seriousness: Option<&str>) -> bool {
    seriousness.map(|s| s.trim().to_ascii_lowercase()).is_some_and(|s| matches!(s.as_str(), "serious" | "y" | "yes" | "s" | "1" | "true"))
}

/// Whether `user` has something to do on the item now: code it (new, returned, query answered),
/// or review somebody else's proposal.
pub fn can_act(it: &ItemSummary, user: &User) -> bool {
    match it.state {
        State::New | State::Returned | State::Answered => true,
        State::Proposed => user.role.can_review() && it.proposer.as_deref() != Some(user.name.as_str()),
        State::Query | State::Split | State::Void | State::Confirmed => false,
    }
}

/// Where an item stands in the worklist's order: returned items first, then answered queries,
/// serious events, work of an overdue study, then the rest by due date; oldest first within each.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Priority {
    rank: u8,
    /// The study's due date ("~" when it has none: after every date).
    due_key: String,
    imported_at: String,
    id: i64,
    pub days_waiting: i64,
    pub due: Option<String>,
}

impl Priority {
    /// Why the item is where it is, in a word or two.
    pub fn why(&self) -> &'static str {
        match self.rank {
            0 => "returned",
            1 => "query answered",
            2 => "serious",
            3 => "study overdue",
            _ => "waiting",
        }
    }
    pub fn overdue(&self) -> bool {
        self.rank == 3
    }
}

/// The item's priority, given each study's due date and today's date (YYYY-MM-DD).
pub fn priority(it: &ItemSummary, due_dates: &[(String, String)], today: &str) -> Priority {
    let due = due_dates.iter().find(|(s, _)| *s == it.study).map(|(_, d)| d.clone());
    let rank = match it.state {
        State::Returned => 0,
        State::Answered => 1,
        _ if is_serious(it.seriousness.as_deref()) => 2,
        _ if due.as_deref().is_some_and(|d| d < today) => 3,
        _ => 4,
    };
    Priority {
        rank,
        due_key: due.clone().unwrap_or_else(|| "~".into()),
        imported_at: it.imported_at.clone(),
        id: it.id,
        days_waiting: days_since(&it.imported_at),
        due,
    }
}

#[cfg(test)]
mod priority_tests {
    use super::*;

    fn it(id: i64, state: State, serious: &str, study: &str, imported: &str) -> ItemSummary {
        ItemSummary {
            id,
            external_id: format!("AE-{id}"),
            study: study.into(),
            subject: "1".into(),
            reported_term: "x".into(),
            state,
            llt_code: None,
            proposer: None,
            seriousness: Some(serious.into()),
            imported_at: imported.into(),
        }
    }

    #[test]
    fn returned_then_answered_then_serious_then_overdue_then_oldest() {
        let due = vec![("LATE".to_string(), "2026-11-01".to_string()), ("SOON".to_string(), "2026-12-20".to_string())];
        let mut items = [
            it(1, State::New, "non-serious", "S", "2026-10-01T00:00:00Z"),
            it(2, State::New, "non-serious", "SOON", "2026-11-01T00:00:00Z"),
            it(3, State::New, "non-serious", "LATE", "2026-11-02T00:00:00Z"),
            it(4, State::New, "Y", "S", "2026-11-03T00:00:00Z"),
            it(5, State::Answered, "non-serious", "S", "2026-11-04T00:00:00Z"),
            it(6, State::Returned, "non-serious", "S", "2026-11-05T00:00:00Z"),
            it(7, State::New, "non-serious", "S", "2026-09-01T00:00:00Z"),
        ];
        items.sort_by_key(|i| priority(i, &due, "2026-12-01"));
        let order: Vec<i64> = items.iter().map(|i| i.id).collect();
        assert_eq!(order, [6, 5, 4, 3, 2, 7, 1]);
        assert_eq!(priority(&items[3], &due, "2026-12-01").why(), "study overdue");
        assert!(!priority(&items[3], &due, "2026-10-01").overdue(), "not overdue before its date");
    }

    #[test]
    fn seriousness_reads_the_sites_and_sdtm_words() {
        for s in ["serious", "Serious", "Y", "yes"] {
            assert!(is_serious(Some(s)), "{s}");
        }
        for s in ["non-serious", "N", "", "no"] {
            assert!(!is_serious(Some(s)), "{s}");
        }
        assert!(!is_serious(None));
    }
}

/// The parts a compound verbatim suggests, for the coder to check before splitting: "headache,
/// dizziness and fatigue" gives three. Separators are commas, semicolons, "&", "+", and the words
/// "and" and "plus"; a verbatim with none gives itself.
pub fn suggest_parts(term: &str) -> Vec<String> {
    let mut parts = vec![];
    for chunk in term.split([',', ';', '&', '+']) {
        let mut cur: Vec<&str> = vec![];
        for w in chunk.split_whitespace() {
            if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("plus") {
                parts.push(cur.join(" "));
                cur.clear();
            } else {
                cur.push(w);
            }
        }
        parts.push(cur.join(" "));
    }
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
mod split_tests {
    #[test]
    fn compound_verbatims_suggest_one_part_per_event() {
        assert_eq!(super::suggest_parts("nausea and vomiting"), ["nausea", "vomiting"]);
        assert_eq!(super::suggest_parts("headache, dizziness and fatigue"), ["headache", "dizziness", "fatigue"]);
        assert_eq!(super::suggest_parts("rash & itching; fever"), ["rash", "itching", "fever"]);
        assert_eq!(super::suggest_parts("pain in hand"), ["pain in hand"], "'and' inside a word is no separator");
        assert_eq!(super::suggest_parts("cough, , and"), ["cough"]);
    }
}
