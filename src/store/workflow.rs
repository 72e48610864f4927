//! The coding workflow and its rules, enforced here in the store so that no client can skip them:
//! four-eye review (nobody confirms their own proposal), reviewer role for confirm and return,
//! non-current LLTs never chosen, and stale actions (the item changed since it was read) refused.

use std::fmt;

use anyhow::{anyhow, Context, Result};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::item::{item_from_row, Item, State, ITEM_COLUMNS};
use super::log::{self, Entry};
use super::users::Role;
use super::Store;
use crate::meddra::{Dictionary, Llt};

/// The proposer name recorded for codes set by the autocoding rule.
pub const AUTOCODER: &str = "autocoder";

/// How the code was found. Stored and logged as the CLI's word for it (`--source search`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Model,
    Search,
    Browse,
    Manual,
    /// The autocoding rule (the reported term equals a current LLT name); never a user's choice.
    Rule,
    /// The synonym list (the term was confirmed before); never a user's choice.
    Synonym,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Model => "model",
            Source::Search => "search",
            Source::Browse => "browse",
            Source::Manual => "manual",
            Source::Rule => "rule",
            Source::Synonym => "synonym",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Propose {
        llt: u32,
        source: Source,
    },
    Confirm,
    Return {
        comment: String,
    },
    Query {
        note: String,
    },
    /// Change a confirmed code (e.g. after a MedDRA upgrade); it goes back to review.
    Recode {
        llt: u32,
        source: Source,
        comment: Option<String>,
    },
    /// The site's answer to an open query, with its corrected verbatim if it sent one.
    Answer {
        text: String,
        term: Option<String>,
    },
    /// Close a query by hand (coding the item after the answer closes it too).
    CloseQuery {
        note: Option<String>,
    },
    /// The proposer takes back their own proposal before review.
    Withdraw,
    /// A compound verbatim becomes one item per event.
    Split {
        parts: Vec<String>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Propose { .. } => "propose",
            Action::Confirm => "confirm",
            Action::Return { .. } => "return",
            Action::Query { .. } => "query",
            Action::Recode { .. } => "recode",
            Action::Answer { .. } => "answer",
            Action::CloseQuery { .. } => "close-query",
            Action::Withdraw => "withdraw",
            Action::Split { .. } => "split",
        }
    }
}

/// Why the store refused an action. Shown to the user as is.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    Stale {
        item: String,
        read: i64,
        now: i64,
        by: String,
        at: String,
    },
    OwnProposal {
        item: String,
    },
    NotReviewer {
        user: String,
        role: Role,
    },
    NonCurrent {
        code: u32,
        name: String,
        version: String,
    },
    UnknownLlt {
        code: u32,
        version: String,
    },
    WrongState {
        item: String,
        action: &'static str,
        state: State,
    },
    NeedsText {
        action: &'static str,
    },
    /// A comment or note with a character stored text may not hold (Cc or Cf).
    BadText {
        what: &'static str,
        c: char,
    },
    /// Source `model` for a code the model did not propose for this item.
    NotModelProposal {
        item: String,
        code: u32,
    },
    /// Withdrawing somebody else's proposal.
    NotYours {
        item: String,
        proposer: String,
    },
    /// Only a proposal is withdrawn: not a rule's code or a recode.
    NotWithdrawable {
        item: String,
        action: String,
    },
    /// Returning a split one of whose parts is confirmed.
    PartConfirmed {
        item: String,
        part: String,
    },
    /// Returning a split one of whose parts is split in turn.
    PartSplit {
        item: String,
        part: String,
    },
    BadSplit {
        item: String,
        why: String,
    },
    /// Text longer than a stored field holds.
    TooLong {
        what: &'static str,
        max: usize,
    },
    /// Coding or correcting an item whose split stands.
    WasSplit {
        item: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Stale { item, read, now, by, at } => {
                write!(f, "item {item} was changed by {by} at {at} after you read it (revision {read}, now {now}); reload it and try again")
            }
            Refusal::OwnProposal { item } => write!(f, "four-eye rule: you proposed the code of {item}, so another reviewer must confirm or return it"),
            Refusal::NotReviewer { user, role } => write!(f, "{user} is a {role}; only reviewers and admins confirm or return codes"),
            Refusal::NonCurrent { code, name, version } => {
                write!(f, "LLT {code} '{name}' is non-current in MedDRA {version} and cannot be chosen as a new code")
            }
            Refusal::UnknownLlt { code, version } => write!(f, "{code} is not an LLT code in MedDRA {version}"),
            Refusal::WrongState { item, action, state } => write!(f, "cannot {action} item {item}: it is {state}"),
            Refusal::NeedsText { action } => write!(f, "{action} needs a comment"),
            Refusal::NotModelProposal { item, code } => {
                write!(f, "LLT {code} is not among the model's stored proposals for {item}: give the source you found it with (search, browse, manual)")
            }
            Refusal::NotYours { item, proposer } => write!(f, "{proposer} proposed the code of {item}: only the proposer withdraws a proposal"),
            Refusal::NotWithdrawable { item, action } => {
                let by = match action.as_str() {
                    "autocode" => "the rule's code",
                    "recode" => "a recode of the confirmed code",
                    _ => "no proposal",
                };
                write!(f, "cannot withdraw the proposal of {item}: it lies over {by}; propose again, or a reviewer returns it")
            }
            Refusal::PartConfirmed { item, part } => write!(f, "cannot return the split of {item}: its part {part} is confirmed (recode that part instead)"),
            Refusal::PartSplit { item, part } => write!(f, "cannot return the split of {item}: its part {part} is split in turn (return that split first)"),
            Refusal::BadSplit { item, why } => write!(f, "cannot split {item}: {why}"),
            Refusal::TooLong { what, max } => write!(f, "the {what} is over {max} characters"),
            Refusal::WasSplit { item } => write!(f, "item {item} was split into parts: code or correct its parts instead"),
            Refusal::BadText { what, c } => write!(f, "the {what} contains the control or format character U+{:04X}", *c as u32),
        }
    }
}

impl std::error::Error for Refusal {}

fn current_llt(dict: &Dictionary, code: u32) -> Result<&Llt, Refusal> {
    let l = dict.llt(code).ok_or_else(|| Refusal::UnknownLlt { code, version: dict.version.clone() })?;
    if !l.current {
        return Err(Refusal::NonCurrent { code, name: l.name.clone(), version: dict.version.clone() });
    }
    Ok(l)
}

/// Whether `user`'s own synonym import set this item's code: the code was chosen by one person,
/// so that person cannot also confirm it (four-eye rule). Read from the log row that set the
/// item's current code (an autocode naming the synonym's importer), so neither a later change of
/// the synonym (a confirmation of another LLT, a carry-over) nor who imported the queue matters.
fn imported_by(tx: &Transaction<'_>, item: &Item, user: &str) -> Result<bool> {
    // The log decides, not the item's `source` column (which a file edit could change).
    let last: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT action, comment FROM decision_log WHERE item_id = ?1 AND action IN ('autocode', 'propose', 'recode') ORDER BY seq DESC LIMIT 1",
            [item.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    // The importer of the synonym that set the code, or the person who wrote the term the rule
    // coded (a split's part, a corrected verbatim): either way one person chose the code.
    let by_log = last.is_some_and(|(action, comment)| {
        action == "autocode"
            && comment.as_deref().is_some_and(|c| {
                super::synonyms::importer_in(c) == Some(user) || term_writer_in(c) == Some(user) || super::model_first::runner_in(c) == Some(user)
            })
    });
    let term = super::synonyms::key_of(tx, &crate::text::normalize(&item.reported_term))?;
    let by_synonym = match item.meddra_version.as_deref() {
        Some(v) => {
            super::synonyms::governing(tx, &item.study, &term, v)?.is_some_and(|s| s.imported_by.as_deref() == Some(user) && Some(s.llt_code) == item.llt_code)
        }
        None => false,
    };
    Ok(by_log || by_synonym)
}

/// How an autocode's log comment names the person who wrote the term the rule coded.
const TERM_WRITTEN_BY: &str = "; term written by ";

/// The person who wrote the term a rule coded, from the autocode's log comment.
pub fn term_writer_in(comment: &str) -> Option<&str> {
    let rest = &comment[comment.find(TERM_WRITTEN_BY)? + TERM_WRITTEN_BY.len()..];
    let name = rest.split([' ', ';']).next().unwrap_or("");
    (!name.is_empty()).then_some(name)
}

/// The log entry shared by every action on an item; the caller fills in the rest.
pub(crate) fn entry_for(user: &str, action: &str, item: &Item, to: State) -> Entry {
    Entry {
        user: user.into(),
        action: action.into(),
        item_id: Some(item.id),
        external_id: Some(item.external_id.clone()),
        reported_term: Some(item.reported_term.clone()),
        state_from: Some(item.state.to_string()),
        state_to: Some(to.to_string()),
        ..Default::default()
    }
}

fn with_code(mut e: Entry, dict: &Dictionary, llt: &Llt) -> Entry {
    e.llt_code = Some(llt.code);
    e.llt_name = Some(llt.name.clone());
    e.pt_code = Some(llt.pt_code);
    e.pt_name = dict.pt(llt.pt_code).map(|p| p.name.clone());
    e.meddra_version = Some(dict.version.clone());
    e
}

/// Attaches what the model proposed, and where the chosen LLT ranked among it.
fn with_proposals(mut e: Entry, tx: &Transaction<'_>, item_id: i64, chosen: u32) -> Result<Entry> {
    if let Some(set) = super::proposals::read(tx, item_id).context("reading the item's stored proposals")? {
        e.chosen_rank = set.proposals.iter().position(|p| p.llt_code == chosen).map(|i| i as i64 + 1);
        e.proposals = Some(serde_json::to_string(&set.proposals)?);
        e.model_version = Some(set.model_version);
        e.entropy = set.entropy;
    }
    Ok(e)
}

/// A code found by a rule: the exact LLT name, or the synonym list.
pub(crate) struct RuleMatch {
    pub source: Source,
    /// For the log: which rule, with the synonym's provenance.
    pub why: String,
    /// Whether the team's auto-confirm setting may skip review: not for a synonym one admin
    /// imported (no second person ever looked at it).
    pub may_auto_confirm: bool,
}

impl RuleMatch {
    pub fn exact_name() -> RuleMatch {
        RuleMatch { source: Source::Rule, why: "exact LLT name".into(), may_auto_confirm: true }
    }

    /// The same rule on a term a person wrote (a split's part, a corrected verbatim): never
    /// auto-confirmed, and the writer never confirms it (`imported_by` reads the log's comment).
    pub fn written_by(mut self, writer: Option<&str>) -> RuleMatch {
        if let Some(w) = writer {
            self.why = format!("{}{TERM_WRITTEN_BY}{w}", self.why);
            self.may_auto_confirm = false;
        }
        self
    }

    pub fn synonym(s: &super::synonyms::Synonym) -> RuleMatch {
        RuleMatch { source: Source::Synonym, why: s.provenance(), may_auto_confirm: s.origin != "imported" && s.imported_by.is_none() }
    }
}

/// Sets a code found by a rule on an untouched item, inside the caller's transaction. It goes to
/// review unless the team auto-confirms rule codes (and the rule allows it).
/// Returns false, coding nothing, when the term or the LLT is on the do-not-autocode list (a
/// person codes those).
pub(crate) fn autocode(tx: &Transaction<'_>, user: &str, item_id: i64, dict: &Dictionary, llt: &Llt, rule: &RuleMatch) -> Result<bool> {
    let confirm = rule.may_auto_confirm && super::setting_in(tx, "autocode_confirm")?.as_deref() == Some("on");
    let item = tx.query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE id = ?1"), [item_id], item_from_row)?;
    if super::model_first::is_excluded(&super::model_first::excluded_in(tx)?, &item.reported_term, llt.code) {
        return Ok(false);
    }
    let to = if confirm { State::Confirmed } else { State::Proposed };
    let now = super::now();
    tx.execute(
        "UPDATE item SET state = ?1, llt_code = ?2, pt_code = ?3, meddra_version = ?4, source = ?11, proposer = ?5, proposed_at = ?6, confirmed_at = ?7, reviewer = ?8, revision = revision + 1, updated_at = ?6, updated_by = ?9 WHERE id = ?10",
        params![to.as_str(), llt.code, llt.pt_code, dict.version, AUTOCODER, now, confirm.then(|| now.clone()), confirm.then_some(AUTOCODER), user, item_id, rule.source.as_str()],
    )?;
    let mut e = with_code(entry_for(user, "autocode", &item, to), dict, llt);
    e.source = Some(rule.source.as_str().into());
    e.comment = Some(if confirm { format!("{}; auto-confirmed by team setting", rule.why) } else { format!("{}; awaits review", rule.why) });
    log::append(tx, &e)?;
    Ok(true)
}

/// What the synonym list learns from a decision, in its transaction: a confirmation makes
/// (or strengthens) the term's synonym and autocodes the untouched items of the same term; a
/// recode revises it from the remaining confirmations; returning a synonym-coded item holds
/// the synonym.
fn learn(tx: &Transaction<'_>, dict: &Dictionary, user: &str, before: &Item, after: &Item, action: &Action) -> Result<()> {
    let term = crate::text::normalize(&after.reported_term);
    if term.is_empty() {
        // A term of punctuation alone says nothing: it never becomes a synonym.
        return Ok(());
    }
    // The synonym list is keyed without the qualifiers MedDRA does not code.
    let term = super::synonyms::key_of(tx, &term)?;
    let version = before.meddra_version.clone().unwrap_or_else(|| dict.version.clone());
    // The list this decision teaches: the global one, or the item's study's (team setting).
    let scope = super::synonyms::scope_for(tx, &after.study)?;
    match action {
        Action::Confirm => {
            super::synonyms::revise(tx, &scope, &term, &version, user, true, "no confirmed item left")?;
            if version == dict.version {
                autocode_open_items(tx, user, dict, &term)?;
            }
        }
        // A recode revises the synonym but never lifts a hold (an admin's retirement stays); the
        // synonym carried into the active version that still gives the code recoded away is held.
        Action::Recode { .. } => {
            super::synonyms::revise(tx, &scope, &term, &version, user, false, &format!("recoded by {user}: no confirmed item left"))?;
            if version != dict.version {
                let stale =
                    super::synonyms::governing(tx, &before.study, &term, &dict.version)?.filter(|s| s.hold.is_none() && Some(s.llt_code) == before.llt_code);
                if let Some(s) = stale {
                    super::synonyms::hold(
                        tx,
                        &s.study,
                        &term,
                        &dict.version,
                        user,
                        &format!("recoded by {user} from LLT {}", before.llt_code.unwrap_or_default()),
                    )?;
                }
            }
        }
        // Returning a synonym-coded item holds the synonym that coded it (the entry deciding its
        // key for its study), if it still points to the code returned.
        Action::Return { comment } if before.source.as_deref() == Some(Source::Synonym.as_str()) => {
            let coded_by = super::synonyms::governing(tx, &before.study, &term, &version)?.filter(|s| Some(s.llt_code) == before.llt_code);
            let why = format!("returned by {user}: {}", comment.trim());
            coded_by.map(|s| super::synonyms::hold(tx, &s.study, &term, &version, user, &why)).transpose()?;
        }
        _ => {}
    }
    Ok(())
}

/// After a synonym changed: every untouched (new) item with its key is autocoded from the entry
/// that decides the key for the item's study (its study's list, else the global one).
pub(crate) fn autocode_open_items(tx: &Transaction<'_>, user: &str, dict: &Dictionary, key: &str) -> Result<usize> {
    let items: Vec<(i64, String)> = {
        let mut st = tx.prepare_cached("SELECT id, study FROM item WHERE syn_key = ?1 AND state = 'new' ORDER BY id")?;
        let rows = st.query_map([key], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut by_study: std::collections::HashMap<String, Option<(super::synonyms::Synonym, &Llt)>> = Default::default();
    let mut coded = 0;
    for (id, study) in &items {
        if !by_study.contains_key(study) {
            by_study.insert(study.clone(), super::synonyms::active_for_key(tx, dict, study, key)?);
        }
        if let Some((syn, llt)) = &by_study[study] {
            coded += usize::from(autocode(tx, user, *id, dict, llt, &RuleMatch::synonym(syn))?);
        }
    }
    Ok(coded)
}

impl Store {
    /// Imports a synonym list for the dictionary's version (admin), onto the global list or one
    /// study's (`study`). Every row is checked first (an unknown or non-current LLT, or an empty
    /// term, fails the whole file naming its line); then all rows are written in one transaction
    /// with one log row each, and untouched items of those terms are autocoded. Returns the
    /// number of synonyms written.
    pub fn import_synonyms(&mut self, acting: &str, dict: &Dictionary, study: &str, rows: &[crate::intake::labelled::Labelled], file: &str) -> Result<usize> {
        self.require_admin(acting, "imports synonym lists")?;
        super::synonyms::check_study(study)?;
        let qualifiers = super::api::DeskStore::synonym_qualifiers(self)?;
        let rows = super::synonyms::check_list(dict, rows, file, &qualifiers)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for term in super::synonyms::write_list(&tx, acting, dict, study, &rows, file)? {
            autocode_open_items(&tx, acting, dict, &term)?;
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// Performs one workflow action as `user`. `expected_revision` is the item revision the user
    /// saw; None means "whatever it is now" (a single command that reads and acts at once).
    pub fn act(&mut self, dict: &Dictionary, user: &str, external_id: &str, expected_revision: Option<i64>, action: Action) -> Result<Item> {
        // Typed text obeys the rules of reported terms: no control or format characters.
        let text = match &action {
            Action::Return { comment } => Some(("comment", comment.as_str())),
            Action::Query { note } => Some(("note", note.as_str())),
            Action::Recode { comment, .. } => comment.as_deref().map(|c| ("comment", c)),
            Action::Answer { text, term } => match term.as_deref().and_then(crate::text::forbidden_char) {
                Some(_) => term.as_deref().map(|t| ("corrected verbatim", t)),
                None => Some(("answer", text.as_str())),
            },
            Action::CloseQuery { note } => note.as_deref().map(|n| ("note", n)),
            _ => None,
        };
        if let Some((what, c)) = text.and_then(|(what, t)| crate::text::forbidden_char(t).map(|c| (what, c))) {
            return Err(Refusal::BadText { what, c }.into());
        }
        // The stored spelling: the four-eye check compares names, and "Bob" is bob.
        let me = self.user(user)?;
        let (user, role) = (me.name.as_str(), me.role);
        // IMMEDIATE takes the write lock before reading, so two processes can never both act on
        // the same revision.
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let item = tx
            .query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE external_id = ?1"), [external_id], item_from_row)
            .optional()?
            .ok_or_else(|| anyhow!("no queue item with id '{}'", crate::text::printable(external_id)))?;
        if let Some(read) = expected_revision {
            if read != item.revision {
                return Err(Refusal::Stale {
                    item: item.external_id.clone(),
                    read,
                    now: item.revision,
                    by: item.updated_by.clone(),
                    at: item.updated_at.clone(),
                }
                .into());
            }
        }
        if super::lifecycle::handles(&item, &action) {
            let updated = super::lifecycle::act(&tx, dict, user, role, &item, &action)?;
            tx.commit()?;
            return Ok(updated);
        }
        let wrong_state = || Refusal::WrongState { item: item.external_id.clone(), action: action.name(), state: item.state };
        let now = super::now();
        let entry = match &action {
            Action::Propose { llt, source } | Action::Recode { llt, source, .. } => {
                let allowed = match action {
                    Action::Propose { .. } => matches!(item.state, State::New | State::Proposed | State::Returned | State::Query | State::Answered),
                    _ => item.state == State::Confirmed,
                };
                if !allowed {
                    return Err(wrong_state().into());
                }
                if super::lifecycle::has_live_parts(&tx, &item.external_id)? {
                    return Err(Refusal::WasSplit { item: item.external_id.clone() }.into());
                }
                let l = current_llt(dict, *llt)?;
                if *source == Source::Model {
                    let proposed = super::proposals::read(&tx, item.id)?.is_some_and(|set| set.proposals.iter().any(|p| p.llt_code == l.code));
                    if !proposed {
                        return Err(Refusal::NotModelProposal { item: item.external_id.clone(), code: l.code }.into());
                    }
                }
                tx.execute(
                    "UPDATE item SET state = 'proposed', llt_code = ?1, pt_code = ?2, meddra_version = ?3, source = ?4, proposer = ?5, reviewer = NULL, proposed_at = ?6, confirmed_at = NULL, revision = revision + 1, updated_at = ?6, updated_by = ?5 WHERE id = ?7",
                    params![l.code, l.pt_code, dict.version, source.as_str(), user, now, item.id],
                )?;
                let mut e = with_code(entry_for(user, action.name(), &item, State::Proposed), dict, l);
                e.source = Some(source.as_str().into());
                if let Action::Recode { comment, .. } = &action {
                    e.comment = comment.clone();
                }
                with_proposals(e, &tx, item.id, l.code)?
            }
            Action::Confirm | Action::Return { .. } => {
                if item.state != State::Proposed {
                    return Err(wrong_state().into());
                }
                if !role.can_review() {
                    return Err(Refusal::NotReviewer { user: user.into(), role }.into());
                }
                if item.proposer.as_deref() == Some(user) || imported_by(&tx, &item, user)? {
                    return Err(Refusal::OwnProposal { item: item.external_id.clone() }.into());
                }
                let code = item.llt_code.context("proposed item without an LLT")?;
                // A code that is not current in the version in use is recoded, never confirmed.
                if matches!(action, Action::Confirm) {
                    current_llt(dict, code)?;
                }
                let (to, comment) = match &action {
                    Action::Return { comment } if comment.trim().is_empty() => return Err(Refusal::NeedsText { action: "return" }.into()),
                    Action::Return { comment } => (State::Returned, Some(comment.trim().to_string())),
                    _ => (State::Confirmed, None),
                };
                tx.execute(
                    "UPDATE item SET state = ?1, reviewer = ?2, confirmed_at = ?3, comment = COALESCE(?4, comment), revision = revision + 1, updated_at = ?5, updated_by = ?2 WHERE id = ?6",
                    params![to.as_str(), user, (to == State::Confirmed).then(|| now.clone()), comment, now, item.id],
                )?;
                let mut e = entry_for(user, action.name(), &item, to);
                // The code under review is recorded with the names of the version it was coded in.
                e.llt_code = Some(code);
                e.pt_code = item.pt_code;
                e.meddra_version = item.meddra_version.clone();
                if dict.version == item.meddra_version.clone().unwrap_or_default() {
                    e.llt_name = dict.llt(code).map(|l| l.name.clone());
                    e.pt_name = item.pt_code.and_then(|p| dict.pt(p)).map(|p| p.name.clone());
                }
                e.source = item.source.clone();
                e.comment = comment;
                with_proposals(e, &tx, item.id, code)?
            }
            Action::Query { note } => {
                // A split item may be queried too: the site is asked to split its record.
                if !matches!(item.state, State::New | State::Proposed | State::Returned | State::Answered | State::Split) {
                    return Err(wrong_state().into());
                }
                if note.trim().is_empty() {
                    return Err(Refusal::NeedsText { action: "query" }.into());
                }
                tx.execute(
                    "UPDATE item SET state = 'query', comment = ?1, revision = revision + 1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
                    params![note.trim(), now, user, item.id],
                )?;
                let mut e = entry_for(user, "query", &item, State::Query);
                e.comment = Some(note.trim().to_string());
                e
            }
            Action::Answer { .. } | Action::CloseQuery { .. } | Action::Withdraw | Action::Split { .. } => unreachable!("store::lifecycle acts on these"),
        };
        log::append(&tx, &entry)?;
        let updated = tx.query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE id = ?1"), [item.id], item_from_row)?;
        learn(&tx, dict, user, &item, &updated, &action)?;
        tx.commit()?;
        Ok(updated)
    }
}

/// The outcome of a decision on a group of identical terms: each item was acted on alone (its own
/// transaction, log row and revision check); those left out say why.
#[derive(Debug, Default)]
pub struct GroupOutcome {
    pub done: Vec<Item>,
    /// (item id, why it was left out)
    pub skipped: Vec<(String, String)>,
}

impl Store {
    /// The items of a normalised term in the given states, in id order (a group of identical terms).
    pub fn items_of_term(&self, term: &str, states: &[State]) -> Result<Vec<Item>> {
        let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let mut st =
            self.conn.prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE term_key = ?1 AND state IN ({}) ORDER BY id", list.join(", ")))?;
        let rows = st.query_map([crate::text::normalize(term)], item_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::queue::{NewItem, Report};
    use crate::meddra::outline;
    use crate::store::proposals::{Proposal, ProposalSet, TopProposal};

    fn setup() -> (Store, Dictionary) {
        let rel = outline::compile(
            std::path::Path::new("t"),
            "RELEASE T-1 | E\nSOC S | S\nHLGT G\nHLT T\nPT Headache: Head pain; ~Cephalgia\nPT Nausea: Feeling sick\n",
        )
        .unwrap();
        let mut s = Store::in_memory().unwrap();
        s.import_release(None, &rel, "test", false, false).unwrap();
        s.add_user(None, "ann", Role::Admin).unwrap();
        s.add_user(Some("ann"), "cody", Role::Coder).unwrap();
        s.add_user(Some("ann"), "rita", Role::Reviewer).unwrap();
        s.add_user(Some("ann"), "rob", Role::Reviewer).unwrap();
        let items: Vec<NewItem> = [("A1", "bad head pain"), ("A2", "HEADACHE."), ("A3", "queasy")]
            .iter()
            .enumerate()
            .map(|(i, (id, t))| NewItem {
                line: i + 2,
                report: Report { external_id: id.to_string(), study: "S".into(), subject: "1".into(), reported_term: t.to_string(), ..Default::default() },
            })
            .collect();
        let r = s.import_items("cody", &items, "q.csv").unwrap();
        assert_eq!((r.imported, r.autocoded), (3, 1));
        let d = s.active_dictionary().unwrap();
        (s, d)
    }

    fn code(d: &Dictionary, name: &str) -> u32 {
        d.llts.iter().find(|l| l.name == name).unwrap().code
    }

    fn refusal(e: anyhow::Error) -> Refusal {
        e.downcast::<Refusal>().expect("a workflow refusal")
    }

    #[test]
    fn propose_then_four_eye_confirm() {
        let (mut s, d) = setup();
        let it = s.act(&d, "cody", "A1", Some(0), Action::Propose { llt: code(&d, "Head pain"), source: Source::Search }).unwrap();
        assert_eq!((it.state, it.revision, it.proposer.as_deref()), (State::Proposed, 1, Some("cody")));
        // A coder cannot review.
        let r = refusal(s.act(&d, "cody", "A1", None, Action::Confirm).unwrap_err());
        assert!(matches!(r, Refusal::NotReviewer { .. }), "{r}");
        // Source `model` only for a code among the item's stored proposals (issue #19, case 15).
        let headache = code(&d, "Headache");
        let r = refusal(s.act(&d, "rita", "A1", None, Action::Propose { llt: headache, source: Source::Model }).unwrap_err());
        assert_eq!(r, Refusal::NotModelProposal { item: "A1".into(), code: headache });
        let proposal = Proposal { llt_code: headache, pt_code: 0, score: 1.0, confidence: 0.9, evidence: None, pt_confidence: None, raw: None };
        let set = ProposalSet { model_version: "m1".into(), meddra_version: "T-1".into(), entropy: None, proposals: vec![proposal], computed_at: "now".into() };
        s.set_proposals(&[(it.id, set)]).unwrap();
        let r = refusal(s.act(&d, "rita", "A1", None, Action::Propose { llt: code(&d, "Head pain"), source: Source::Model }).unwrap_err());
        assert!(matches!(r, Refusal::NotModelProposal { .. }), "{r}");
        // A reviewer's own proposal cannot be confirmed by them.
        s.act(&d, "rita", "A1", None, Action::Propose { llt: headache, source: Source::Model }).unwrap();
        let r = refusal(s.act(&d, "rita", "A1", None, Action::Confirm).unwrap_err());
        assert_eq!(r, Refusal::OwnProposal { item: "A1".into() });
        let it = s.act(&d, "rob", "A1", None, Action::Confirm).unwrap();
        assert_eq!((it.state, it.reviewer.as_deref()), (State::Confirmed, Some("rob")));
        let log = s.log_entries(Some(it.id)).unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.entry.action.as_str()).collect();
        assert_eq!(actions, ["import", "propose", "propose", "confirm"]);
        assert_eq!(log[3].entry.llt_name.as_deref(), Some("Headache"));
        assert_eq!(log[3].entry.source.as_deref(), Some("model"));
    }

    #[test]
    fn non_current_and_unknown_llts_are_refused() {
        let (mut s, d) = setup();
        let r = refusal(s.act(&d, "cody", "A1", None, Action::Propose { llt: code(&d, "Cephalgia"), source: Source::Search }).unwrap_err());
        assert!(matches!(r, Refusal::NonCurrent { .. }), "{r}");
        let r = refusal(s.act(&d, "cody", "A1", None, Action::Propose { llt: 1, source: Source::Manual }).unwrap_err());
        assert!(matches!(r, Refusal::UnknownLlt { .. }), "{r}");
        assert_eq!(s.item("A1").unwrap().revision, 0, "refused actions change nothing");
    }

    #[test]
    fn stale_revision_is_refused() {
        let (mut s, d) = setup();
        s.act(&d, "cody", "A3", Some(0), Action::Propose { llt: code(&d, "Feeling sick"), source: Source::Search }).unwrap();
        let r = refusal(s.act(&d, "rita", "A3", Some(0), Action::Return { comment: "x".into() }).unwrap_err());
        assert!(matches!(r, Refusal::Stale { read: 0, now: 1, .. }), "{r}");
        assert!(r.to_string().contains("changed by cody"), "{r}");
    }

    #[test]
    fn return_query_and_reproposal() {
        let (mut s, d) = setup();
        s.act(&d, "cody", "A3", None, Action::Propose { llt: code(&d, "Headache"), source: Source::Search }).unwrap();
        let r = refusal(s.act(&d, "rita", "A3", None, Action::Return { comment: " ".into() }).unwrap_err());
        assert_eq!(r, Refusal::NeedsText { action: "return" });
        let it = s.act(&d, "rita", "A3", None, Action::Return { comment: "queasy is nausea".into() }).unwrap();
        assert_eq!((it.state, it.comment.as_deref()), (State::Returned, Some("queasy is nausea")));
        let it = s.act(&d, "cody", "A3", None, Action::Query { note: "ask site: nausea or vomiting?".into() }).unwrap();
        assert_eq!(it.state, State::Query);
        let it = s.act(&d, "cody", "A3", None, Action::Propose { llt: code(&d, "Nausea"), source: Source::Browse }).unwrap();
        assert_eq!(it.state, State::Proposed);
        let r = refusal(s.act(&d, "rita", "A2", None, Action::Recode { llt: code(&d, "Nausea"), source: Source::Search, comment: None }).unwrap_err());
        assert!(matches!(r, Refusal::WrongState { .. }), "{r}");
    }

    #[test]
    fn a_code_that_is_no_longer_current_is_not_confirmed() {
        let (mut s, d) = setup();
        s.act(&d, "cody", "A1", None, Action::Propose { llt: code(&d, "Head pain"), source: Source::Search }).unwrap();
        // The active version changed under the proposal: there, Head pain is non-current.
        let rel = outline::compile(
            std::path::Path::new("t"),
            "RELEASE T-2 | E\nSOC S | S\nHLGT G\nHLT T\nPT Headache: ~Head pain; ~Cephalgia\nPT Nausea: Feeling sick\n",
        )
        .unwrap();
        let d2 = Dictionary::new(&rel);
        let r = refusal(s.act(&d2, "rita", "A1", None, Action::Confirm).unwrap_err());
        assert!(matches!(r, Refusal::NonCurrent { .. }), "{r}");
        s.act(&d, "rita", "A1", None, Action::Confirm).unwrap();
    }

    #[test]
    fn autocoded_items_go_through_review_and_rank_is_logged() {
        let (mut s, d) = setup();
        let it = s.item("A2").unwrap();
        assert_eq!((it.state, it.proposer.as_deref(), it.source.as_deref()), (State::Proposed, Some(AUTOCODER), Some("rule")));
        let set = ProposalSet {
            model_version: "m1".into(),
            meddra_version: "T-1".into(),
            entropy: Some(0.4),
            proposals: vec![
                Proposal { llt_code: code(&d, "Head pain"), pt_code: 0, score: 2.0, confidence: 0.7, evidence: None, pt_confidence: None, raw: None },
                Proposal { llt_code: code(&d, "Headache"), pt_code: 0, score: 1.0, confidence: 0.2, evidence: None, pt_confidence: None, raw: None },
            ],
            computed_at: "now".into(),
        };
        s.set_proposals(&[(it.id, set.clone())]).unwrap();
        assert_eq!(s.proposals(it.id).unwrap().unwrap(), set);
        let top = |version: &str| s.queue_rows(&Default::default(), version).unwrap().into_iter().find(|(i, _)| i.id == it.id).unwrap().1;
        assert_eq!(top("T-1"), Some(TopProposal { top: Some((code(&d, "Head pain"), 0.7)), entropy: Some(0.4), pt: None }));
        assert_eq!(top("T-1"), Some(set.top()));
        assert_eq!(top("T-2"), None, "proposals made for another version are not shown");
        s.act(&d, "rita", "A2", None, Action::Confirm).unwrap();
        let last = s.log_entries(Some(it.id)).unwrap().pop().unwrap();
        assert_eq!((last.entry.chosen_rank, last.entry.model_version.as_deref()), (Some(2), Some("m1")));
        // Recode a confirmed item: back to review.
        let it = s.act(&d, "cody", "A2", None, Action::Recode { llt: code(&d, "Head pain"), source: Source::Model, comment: Some("upgrade".into()) }).unwrap();
        assert_eq!(it.state, State::Proposed);
    }

    #[test]
    fn duplicate_ids_are_skipped_and_auto_confirm_setting() {
        let (mut s, _) = setup();
        s.set_setting("autocode_confirm", "on").unwrap();
        let items = vec![
            NewItem {
                line: 2,
                report: Report {
                    external_id: "A1".into(),
                    study: "S".into(),
                    subject: "1".into(),
                    reported_term: "bad head pain".into(),
                    ..Default::default()
                },
            },
            NewItem {
                line: 3,
                report: Report { external_id: "B1".into(), study: "S".into(), subject: "1".into(), reported_term: "nausea".into(), ..Default::default() },
            },
            NewItem {
                line: 4,
                report: Report { external_id: "B1".into(), study: "S".into(), subject: "1".into(), reported_term: "y".into(), ..Default::default() },
            },
        ];
        let r = s.import_items("cody", &items, "q2.csv").unwrap();
        assert_eq!(r.imported, 1);
        assert_eq!(r.duplicates.iter().map(|d| d.line).collect::<Vec<_>>(), vec![2, 4]);
        assert_eq!(s.item("B1").unwrap().state, State::Confirmed);
        assert_eq!(s.items(&Default::default()).unwrap().len(), 4);
    }
}
