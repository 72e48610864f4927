//! The work around a code, on SQLite (issue #21): a query answered and closed, a corrected
//! verbatim superseding the term, a compound verbatim split into parts (and a split returned), a
//! proposal withdrawn. The team database holds the same rules in schema.sql (`act`,
//! `answer_query`, `split_item`, `supersede_item`); tests/store_contract.rs keeps them equal.

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Transaction};

use super::item::{item_from_row, Item, State, ITEM_COLUMNS};
use super::log::{self, Entry};
use super::users::Role;
use super::workflow::{autocode, entry_for as entry, Action, Refusal, RuleMatch};
use crate::meddra::autocode::Rules;
use crate::meddra::Dictionary;

/// The most parts one split makes (a verbatim listing more events is sent back to the site).
pub const MAX_PARTS: usize = 20;

/// The id a part of `source` gets: `AE-7#2` is part 2 of AE-7.
pub fn part_id(source: &str, n: u32) -> String {
    format!("{source}#{n}")
}

/// Whether the action is one of this module's (a return of a split item is one too).
pub(crate) fn handles(item: &Item, action: &Action) -> bool {
    match action {
        Action::Answer { .. } | Action::CloseQuery { .. } | Action::Withdraw | Action::Split { .. } => true,
        Action::Return { .. } => item.state == State::Split,
        _ => false,
    }
}

/// Text as the team database keeps it: spaces trimmed (btrim), at most `MAX_FIELD_CHARS`.
fn trimmed<'t>(text: &'t str, what: &'static str) -> Result<&'t str, Refusal> {
    let t = text.trim_matches(' ');
    if t.chars().count() > crate::intake::queue::MAX_FIELD_CHARS {
        return Err(Refusal::TooLong { what, max: crate::intake::queue::MAX_FIELD_CHARS });
    }
    Ok(t)
}

fn required(text: &str, action: &'static str) -> Result<String, Refusal> {
    let t = trimmed(text, action)?;
    if t.is_empty() {
        return Err(Refusal::NeedsText { action });
    }
    Ok(t.to_string())
}

/// Where a withdrawal takes the item: the state before the user's run of proposals began (each
/// re-proposal over the last starts from `proposed`). Refused when the run holds anything but the
/// user's own proposals (a rule's code, a recode of a confirmed code, somebody else's proposal):
/// a withdrawal only ever takes back what this user alone put there.
fn withdrawn_to(tx: &Transaction<'_>, item: &Item, user: &str) -> Result<String> {
    let mut st = tx.prepare_cached(
        "SELECT action, user, state_from FROM decision_log WHERE item_id = ?1 AND action IN ('autocode', 'propose', 'recode') ORDER BY seq DESC",
    )?;
    let rows = st.query_map([item.id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default())))?;
    for row in rows {
        let (action, by, from) = row?;
        if action != "propose" {
            return Err(Refusal::NotWithdrawable { item: item.external_id.clone(), action }.into());
        }
        if by != user {
            return Err(Refusal::NotYours { item: item.external_id.clone(), proposer: by }.into());
        }
        if from != "proposed" {
            return Ok(from);
        }
    }
    Err(Refusal::NotWithdrawable { item: item.external_id.clone(), action: "import".into() }.into())
}

/// Where closing the query takes the item: the state it had when the first of its queries in a
/// row was raised (a follow-up query is raised from `answered`).
fn closed_to(tx: &Transaction<'_>, item_id: i64) -> Result<String> {
    let mut st = tx.prepare_cached("SELECT state_from FROM decision_log WHERE item_id = ?1 AND action = 'query' ORDER BY seq DESC")?;
    let rows = st.query_map([item_id], |r| Ok(r.get::<_, Option<String>>(0)?.unwrap_or_default()))?;
    for from in rows {
        let from = from?;
        if from != "answered" {
            return Ok(from);
        }
    }
    Ok(String::new())
}

/// Clears the item's code and moves it to `to`, as whoever acts; the caller logs.
fn clear_code(tx: &Transaction<'_>, user: &str, id: i64, to: State, proposer: Option<&str>, comment: Option<&str>) -> Result<()> {
    tx.execute(
        "UPDATE item SET state = ?1, llt_code = NULL, pt_code = NULL, meddra_version = NULL, source = NULL, proposer = ?2, reviewer = NULL, proposed_at = NULL, confirmed_at = NULL, comment = COALESCE(?3, comment), revision = revision + 1, updated_at = ?4, updated_by = ?5 WHERE id = ?6",
        params![to.as_str(), proposer, comment, super::now(), user, id],
    )?;
    Ok(())
}

fn reload(tx: &Transaction<'_>, id: i64) -> Result<Item> {
    Ok(tx.query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE id = ?1"), [id], item_from_row)?)
}

/// An untouched item (new, or with its query answered) is coded by the rules at once, as at
/// import: the exact LLT name, else the synonym list. The caller knows the item is in such a state.
/// A term a person wrote (a split's part, a corrected verbatim: `term_writer`) is coded as one
/// person's choice: never auto-confirmed, nor confirmed by them.
pub(crate) fn code_by_rules(tx: &Transaction<'_>, user: &str, dict: Option<&Dictionary>, id: i64, term: &str) -> Result<Option<super::workflow::Source>> {
    let Some(d) = dict else { return Ok(None) };
    let writer = term_writer(tx, id)?;
    let writer = writer.as_deref();
    if let Some(llt) = Rules::new(d).code(term) {
        return Ok(autocode(tx, user, id, d, llt, &RuleMatch::exact_name().written_by(writer))?.then_some(super::workflow::Source::Rule));
    }
    let study: String = tx.query_row("SELECT study FROM item WHERE id = ?1", [id], |r| r.get(0))?;
    if let Some((syn, llt)) = super::synonyms::active(tx, d, &study, &crate::text::normalize(term))? {
        return Ok(autocode(tx, user, id, d, llt, &RuleMatch::synonym(&syn).written_by(writer))?.then_some(super::workflow::Source::Synonym));
    }
    Ok(None)
}

/// How a part's import row names the person who split its item.
const SPLIT_BY: &str = ", split by ";

/// Who wrote the item's reported term, when a person did rather than the site: the splitter of a
/// part, the person who recorded a corrected verbatim. Read from the log row that set the term.
pub(crate) fn term_writer(tx: &Transaction<'_>, item_id: i64) -> Result<Option<String>> {
    let row: Option<(String, String, Option<String>)> = tx
        .query_row(
            "SELECT action, user, comment FROM decision_log WHERE item_id = ?1 AND action IN ('import', 'supersede') ORDER BY seq DESC LIMIT 1",
            [item_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(row.and_then(|(action, user, comment)| match action.as_str() {
        "supersede" => Some(user),
        _ => comment.as_deref().and_then(|c| c.rfind(SPLIT_BY).map(|i| c[i + SPLIT_BY.len()..].to_string())),
    }))
}

/// The site's corrected verbatim replaces the reported term as a new revision: the old term and
/// any code stay in the log, the code goes (the new term is coded afresh: by the rules at once
/// when it is untouched), and an item on query is answered by it. Refused for a split item (its
/// parts carry the terms now) and a void part.
pub(crate) fn supersede(tx: &Transaction<'_>, user: &str, dict: Option<&Dictionary>, item: &Item, term: &str, why: &str) -> Result<Item> {
    if item.state == State::Split || has_live_parts(tx, &item.external_id)? {
        return Err(Refusal::WasSplit { item: item.external_id.clone() }.into());
    }
    if item.state == State::Void {
        return Err(Refusal::WrongState { item: item.external_id.clone(), action: "correct the verbatim of", state: item.state }.into());
    }
    let to = if matches!(item.state, State::Query | State::Answered) { State::Answered } else { State::New };
    // A correction that answers an open query is the answer the coder sees.
    let answer = (item.state == State::Query).then(|| format!("the site corrected the verbatim (was '{}')", item.reported_term));
    tx.execute(
        "UPDATE item SET reported_term = ?1, term_key = ?2, syn_key = synonym_key(?2, (SELECT value FROM setting WHERE key = 'synonym_qualifiers')), state = ?3, llt_code = NULL, pt_code = NULL, meddra_version = NULL, source = NULL, proposer = NULL, reviewer = NULL, proposed_at = NULL, confirmed_at = NULL, comment = COALESCE(?7, comment), revision = revision + 1, updated_at = ?4, updated_by = ?5 WHERE id = ?6",
        params![term, crate::text::normalize(term), to.as_str(), super::now(), user, item.id, answer],
    )?;
    if item.state == State::Confirmed {
        // The old term's synonym no longer has this confirmation behind it.
        let old = crate::text::normalize(&item.reported_term);
        if let (false, Some(v)) = (old.is_empty(), item.meddra_version.as_deref()) {
            let (scope, key) = (super::synonyms::scope_for(tx, &item.study)?, super::synonyms::key_of(tx, &old)?);
            super::synonyms::revise(tx, &scope, &key, v, user, false, &format!("verbatim of {} corrected: no confirmed item left", item.external_id))?;
        }
    }
    let mut e = entry(user, "supersede", item, to);
    e.reported_term = Some(term.to_string());
    let code = item.llt_code.map(|c| format!("; code LLT {c} dropped")).unwrap_or_default();
    e.comment = Some(format!("{why}: was '{}'{code}", item.reported_term));
    log::append(tx, &e)?;
    // The model's proposals were made for the old term.
    tx.execute("DELETE FROM item_proposals WHERE item_id = ?1", [item.id])?;
    // The corrected term is coded by the rules where they apply (which closes an answered query).
    code_by_rules(tx, user, dict, item.id, term)?;
    reload(tx, item.id)
}

/// One of this module's actions on `item` (read and locked by the caller's transaction).
pub(crate) fn act(tx: &Transaction<'_>, dict: &Dictionary, user: &str, role: Role, item: &Item, action: &Action) -> Result<Item> {
    let wrong_state = |name: &'static str| Refusal::WrongState { item: item.external_id.clone(), action: name, state: item.state };
    match action {
        Action::Answer { text, term } => {
            if item.state != State::Query {
                return Err(wrong_state("answer the query of").into());
            }
            let text = required(text, "answer")?;
            tx.execute(
                "UPDATE item SET state = 'answered', comment = ?1, revision = revision + 1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
                params![text, super::now(), user, item.id],
            )?;
            let mut e = entry(user, "answer", item, State::Answered);
            e.comment = Some(text);
            log::append(tx, &e)?;
            let answered = reload(tx, item.id)?;
            let term = term.as_deref().map(|t| trimmed(t, "corrected verbatim")).transpose()?;
            match term.filter(|t| !t.is_empty() && *t != item.reported_term) {
                Some(t) => supersede(tx, user, Some(dict), &answered, t, "corrected by the site's answer"),
                None => Ok(answered),
            }
        }
        Action::CloseQuery { note } => {
            if !matches!(item.state, State::Query | State::Answered) {
                return Err(wrong_state("close the query of").into());
            }
            // Back to where the item stood when the query was raised.
            let before = closed_to(tx, item.id)?;
            let to = match before.as_str() {
                "proposed" if item.llt_code.is_some() => State::Proposed,
                "returned" => State::Returned,
                "split" => State::Split,
                _ => State::New,
            };
            let note =
                note.as_deref().map(|n| trimmed(n, "note")).transpose()?.filter(|n| !n.is_empty()).map(String::from).unwrap_or_else(|| "closed by hand".into());
            tx.execute(
                "UPDATE item SET state = ?1, revision = revision + 1, updated_at = ?2, updated_by = ?3 WHERE id = ?4",
                params![to.as_str(), super::now(), user, item.id],
            )?;
            let mut e = entry(user, "close-query", item, to);
            e.comment = Some(note);
            log::append(tx, &e)?;
            if to == State::New {
                code_by_rules(tx, user, Some(dict), item.id, &item.reported_term)?;
            }
            reload(tx, item.id)
        }
        Action::Withdraw => {
            if item.state != State::Proposed {
                return Err(wrong_state("withdraw the proposal of").into());
            }
            if item.proposer.as_deref() != Some(user) {
                return Err(Refusal::NotYours { item: item.external_id.clone(), proposer: item.proposer.clone().unwrap_or_default() }.into());
            }
            let before = withdrawn_to(tx, item, user)?;
            let to = match before.as_str() {
                "returned" => State::Returned,
                "query" => State::Query,
                "answered" => State::Answered,
                _ => State::New,
            };
            clear_code(tx, user, item.id, to, None, None)?;
            let mut e = entry(user, "withdraw", item, to);
            let name = item.llt_code.and_then(|c| dict.llt(c)).map(|l| format!(" '{}'", l.name)).unwrap_or_default();
            e.comment = Some(format!("withdrew LLT {}{name}", item.llt_code.unwrap_or_default()));
            e.meddra_version = item.meddra_version.clone();
            log::append(tx, &e)?;
            if matches!(to, State::New | State::Answered) {
                code_by_rules(tx, user, Some(dict), item.id, &item.reported_term)?;
            }
            reload(tx, item.id)
        }
        Action::Split { parts } => split(tx, dict, user, item, parts),
        Action::Return { comment } => {
            // A reviewer returns the split itself: its parts are voided, the item goes back.
            if !role.can_review() {
                return Err(Refusal::NotReviewer { user: user.into(), role }.into());
            }
            if item.proposer.as_deref() == Some(user) {
                return Err(Refusal::OwnProposal { item: item.external_id.clone() }.into());
            }
            let comment = required(comment, "return")?;
            let parts = parts_of(tx, &item.external_id)?;
            if let Some(p) = parts.iter().find(|p| p.state == State::Confirmed) {
                return Err(Refusal::PartConfirmed { item: item.external_id.clone(), part: p.external_id.clone() }.into());
            }
            // A part split in turn (or on query about its split) carries codes of its own.
            for p in parts.iter().filter(|p| p.state != State::Void) {
                if p.state == State::Split || has_live_parts(tx, &p.external_id)? {
                    return Err(Refusal::PartSplit { item: item.external_id.clone(), part: p.external_id.clone() }.into());
                }
            }
            for p in parts.iter().filter(|p| p.state != State::Void) {
                clear_code(tx, user, p.id, State::Void, None, None)?;
                let mut e = entry(user, "void", p, State::Void);
                e.comment = Some(format!("split of {} returned by {user}: {comment}", item.external_id));
                log::append(tx, &e)?;
            }
            tx.execute(
                "UPDATE item SET state = 'returned', reviewer = ?1, comment = ?2, revision = revision + 1, updated_at = ?3, updated_by = ?1 WHERE id = ?4",
                params![user, comment, super::now(), item.id],
            )?;
            let mut e = entry(user, "return", item, State::Returned);
            e.comment = Some(comment);
            log::append(tx, &e)?;
            reload(tx, item.id)
        }
        _ => unreachable!("lifecycle::handles decides"),
    }
}

/// Whether the item was split and its split stands (a part that is not void): the parts carry its
/// coding, so the item itself is never coded, split again or given a new verbatim.
pub(crate) fn has_live_parts(conn: &rusqlite::Connection, source: &str) -> Result<bool> {
    Ok(conn.query_row("SELECT 1 FROM item WHERE part_of = ?1 AND state <> 'void' LIMIT 1", [source], |_| Ok(true)).optional()?.unwrap_or(false))
}

/// The parts of a split item, in part order (void ones too).
pub(crate) fn parts_of(conn: &rusqlite::Connection, source: &str) -> Result<Vec<Item>> {
    let mut st = conn.prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE part_of = ?1 ORDER BY part_no"))?;
    let rows = st.query_map([source], item_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The parts of a split, checked: two or more, each with text and no control characters, no two
/// alike, none the whole verbatim again.
pub fn check_parts(item: &Item, parts: &[String]) -> Result<Vec<String>, Refusal> {
    let parts: Vec<String> = parts.iter().map(|p| trimmed(p, "part").map(String::from)).collect::<Result<_, _>>()?;
    let bad = |why: String| Refusal::BadSplit { item: item.external_id.clone(), why };
    if parts.len() < 2 {
        return Err(bad("a split needs two or more parts (one per event)".into()));
    }
    if parts.len() > MAX_PARTS {
        return Err(bad(format!("{} parts is more than {MAX_PARTS}", parts.len())));
    }
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            return Err(bad(format!("part {} is empty", i + 1)));
        }
        if let Some(c) = crate::text::forbidden_char(p) {
            return Err(Refusal::BadText { what: "part", c });
        }
        if crate::text::normalize(p) == crate::text::normalize(&item.reported_term) {
            return Err(bad(format!("part {} is the whole verbatim", i + 1)));
        }
        if parts[..i].iter().any(|q| crate::text::normalize(q) == crate::text::normalize(p)) {
            return Err(bad(format!("part {} repeats an earlier part", i + 1)));
        }
    }
    Ok(parts)
}

fn split(tx: &Transaction<'_>, dict: &Dictionary, user: &str, item: &Item, parts: &[String]) -> Result<Item> {
    if !matches!(item.state, State::New | State::Proposed | State::Returned | State::Query | State::Answered) {
        return Err(Refusal::WrongState { item: item.external_id.clone(), action: "split", state: item.state }.into());
    }
    if item.part_of.is_some() && item.external_id.matches('#').count() >= 3 {
        return Err(Refusal::BadSplit { item: item.external_id.clone(), why: "parts are split three levels deep at most".into() }.into());
    }
    if has_live_parts(tx, &item.external_id)? {
        return Err(Refusal::BadSplit { item: item.external_id.clone(), why: "it is split already (a reviewer returns a split to undo it)".into() }.into());
    }
    let parts = check_parts(item, parts)?;
    // Numbered after the parts of earlier splits (a returned split's void parts keep theirs).
    let first: u32 = tx.query_row("SELECT COALESCE(max(part_no), 0) + 1 FROM item WHERE part_of = ?1", [&item.external_id], |r| r.get(0))?;
    let listed = parts.iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(" | ");
    clear_code(tx, user, item.id, State::Split, Some(user), None)?;
    let mut e = entry(user, "split", item, State::Split);
    e.comment = Some(format!("into {} parts: {listed}", parts.len()));
    log::append(tx, &e)?;
    for (i, part) in parts.iter().enumerate() {
        let n = first + i as u32;
        let id = part_id(&item.external_id, n);
        let taken: bool = tx.query_row("SELECT 1 FROM item WHERE external_id = ?1", [&id], |_| Ok(true)).optional()?.unwrap_or(false);
        if taken {
            return Err(Refusal::BadSplit { item: item.external_id.clone(), why: format!("the id {id} is already queued") }.into());
        }
        let now = super::now();
        tx.execute(
            "INSERT INTO item(external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, imported_at, updated_at, updated_by, term_key, part_of, part_no, syn_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'new', ?8, ?8, ?9, ?10, ?11, ?12, synonym_key(?10, (SELECT value FROM setting WHERE key = 'synonym_qualifiers')))",
            params![id, item.study, item.subject, part, item.onset_date, item.seriousness, item.investigator, now, user, crate::text::normalize(part), item.external_id, n],
        )?;
        let part_row = tx.last_insert_rowid();
        log::append(
            tx,
            &Entry {
                user: user.into(),
                action: "import".into(),
                item_id: Some(part_row),
                external_id: Some(id),
                reported_term: Some(part.clone()),
                state_to: Some("new".into()),
                comment: Some(format!("part {n} of {}{SPLIT_BY}{user}", item.external_id)),
                ..Default::default()
            },
        )?;
        code_by_rules(tx, user, Some(dict), part_row, part).context("coding a part by the rules")?;
    }
    reload(tx, item.id)
}
