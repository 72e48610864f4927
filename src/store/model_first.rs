//! Model-first coding (team setting `model_first`, off by default): an untouched item whose
//! stored top proposal has a PT confidence at or above the validated threshold is proposed by the
//! model itself and goes to a reviewer. The model is the first pair of eyes, a person the second.
//! The threshold is validated from the team's own decisions (`backtest::validate`) each time
//! proposals are stored, so it rises by itself when the model's codes start failing, and nothing
//! is coded while the newest decisions above it drift below the target. Terms and LLTs on the
//! do-not-autocode list are always coded by a person.
//!
//! The rule lives here for SQLite and in `set_proposals` in the team schema; `tests/store_contract.rs`
//! keeps them equal.

use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension, Transaction};

use super::item::{item_from_row, State, ITEM_COLUMNS};
use super::log::{self, Entry};
use super::proposals::ProposalSet;
use crate::backtest::{self, Validation};

/// The item source, and the log's, of a code the model proposed itself.
pub const SOURCE: &str = "model-first";
/// The team settings.
pub const SETTING: &str = "model_first";
pub const TARGET: &str = "model_first_target";
pub const EXCLUDE: &str = "model_first_exclude";

/// The proposer recorded for a code the model proposed: the model and its version.
pub fn proposer(model_version: &str) -> String {
    format!("model {model_version}")
}

/// One entry of the do-not-autocode list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Excluded {
    /// A reported term (normalised): its items are always coded by a person.
    Term(String),
    /// An LLT the model may never propose by itself.
    Llt(u32),
}

impl Excluded {
    pub fn parse(entry: &str) -> Result<Excluded> {
        match entry.split_once(':') {
            Some(("term", t)) if !crate::text::normalize(t).is_empty() => Ok(Excluded::Term(crate::text::normalize(t))),
            Some(("llt", c)) => match c.parse::<u32>() {
                Ok(code) if code > 0 => Ok(Excluded::Llt(code)),
                _ => bail!("do-not-autocode entry '{}': an LLT code is a positive whole number", crate::text::printable(entry)),
            },
            _ => bail!("do-not-autocode entry '{}': write term:TEXT or llt:CODE", crate::text::printable(entry)),
        }
    }

    pub fn as_entry(&self) -> String {
        match self {
            Excluded::Term(t) => format!("term:{t}"),
            Excluded::Llt(c) => format!("llt:{c}"),
        }
    }
}

/// The do-not-autocode list as its setting stores it (a JSON array of entries).
pub fn parse_list(value: Option<&str>) -> Result<Vec<Excluded>> {
    let Some(v) = value else { return Ok(vec![]) };
    let entries: Vec<String> = serde_json::from_str(v).map_err(|e| anyhow::anyhow!("the setting {EXCLUDE} is not a JSON array of entries: {e}"))?;
    entries.iter().map(|e| Excluded::parse(e)).collect()
}

pub fn list_value(list: &[Excluded]) -> String {
    let mut entries: Vec<String> = list.iter().map(Excluded::as_entry).collect();
    entries.sort();
    entries.dedup();
    serde_json::to_string(&entries).expect("strings serialise")
}

/// The target a setting value gives: a share of 0.5 to 0.999 (written as a percentage).
pub fn parse_target(value: Option<&str>) -> Result<f64> {
    let Some(v) = value else { return Ok(crate::calibration::DEFAULT_TARGET) };
    match v.trim().parse::<f64>() {
        Ok(p) if (50.0..=99.9).contains(&p) => Ok(p / 100.0),
        _ => bail!("the model-first target is a PT@1 percentage from 50 to 99.9, not '{}'", crate::text::printable(v)),
    }
}

/// Checks a value an admin sets for one of the model-first settings.
pub fn check_setting(key: &str, value: &str) -> Result<()> {
    match key {
        SETTING if matches!(value, "on" | "off") => Ok(()),
        SETTING => bail!("model-first is on or off, not '{}'", crate::text::printable(value)),
        TARGET => parse_target(Some(value)).map(|_| ()),
        EXCLUDE => parse_list(Some(value)).map(|_| ()),
        super::synonyms::APPROVAL => super::synonyms::check_approval(value),
        super::synonyms::SCOPE => super::synonyms::check_scope(value),
        // The list changes every key: only `synonym qualifiers` sets it, rekeying in the same step.
        crate::qualifiers::SETTING => anyhow::bail!("the synonym qualifiers are set with `medcoder synonym qualifiers`, which rekeys the list"),
        _ => Ok(()),
    }
}

/// The validated threshold of this store's decisions of `model` (every model's: None) at its target.
pub fn validation_in(tx: &rusqlite::Connection, model: Option<&str>) -> Result<Validation> {
    let target = parse_target(super::setting_in(tx, TARGET)?.as_deref())?;
    Ok(backtest::validate(&super::reports::backtest_cases_in(tx, model)?, target).for_model(model))
}

/// A PT confidence shown as uncertain (under this) is never coded by the model, whatever the
/// threshold: the desk would flag the same code "PT uncertain".
pub const FLOOR: f64 = crate::desk::UNCERTAIN_CONFIDENCE;

/// The top proposal's PT confidence on the model's own scale (before calibration; as stored
/// when it has none): the validated threshold is measured on that scale, which a calibration
/// learned later does not move.
pub fn top_score(set: &ProposalSet) -> Option<f64> {
    set.proposals.first().and_then(|p| p.raw.map(|r| r.pt)).or_else(|| set.pt_confidence(0))
}

/// Whether nobody has touched an item: no decision, query, split or withdrawal in its history
/// and not a part of a split (a person wrote that term), so the model may be its first pair of eyes.
fn untouched(tx: &Transaction<'_>, item: &super::item::Item) -> Result<bool> {
    if item.state != State::New || item.part_of.is_some() {
        return Ok(false);
    }
    let touched: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM decision_log WHERE item_id = ?1 AND action NOT IN ('import', 'supersede'))", [item.id], |r| r.get(0))?;
    Ok(!touched)
}

/// Codes, by the model, the untouched items among `sets` whose top proposal clears the validated
/// threshold of that model, when the team has model-first coding on. `runner`: who ran the model
/// (they count as its proposer for the four-eye rule); nothing is coded when nobody is known to
/// have. Returns how many were coded.
pub(crate) fn code(tx: &Transaction<'_>, sets: &[(i64, ProposalSet)], runner: Option<&str>) -> Result<usize> {
    if super::setting_in(tx, SETTING)?.as_deref() != Some("on") {
        return Ok(0);
    }
    // Who ran the model: the session's user, else the medcoder user of this OS login.
    let runner: Option<String> = match runner {
        Some(r) => Some(r.to_string()),
        None => match crate::identity::os_login() {
            Ok(login) => tx.query_row("SELECT name FROM user WHERE lower(login) = lower(?1)", [login], |r| r.get(0)).optional()?,
            Err(_) => None,
        },
    };
    let Some(runner) = runner else { return Ok(0) };
    let excluded = excluded_in(tx)?;
    let active = super::setting_in(tx, super::dict::ACTIVE)?;
    let mut validated: std::collections::HashMap<String, Validation> = std::collections::HashMap::new();
    let mut coded = 0;
    for (item_id, set) in sets {
        let (Some(top), Some(score), Some(shown)) = (set.proposals.first(), top_score(set), set.pt_confidence(0)) else { continue };
        if shown < FLOOR || active.as_deref() != Some(set.meddra_version.as_str()) {
            continue;
        }
        if !validated.contains_key(&set.model_version) {
            validated.insert(set.model_version.clone(), validation_in(tx, Some(&set.model_version))?);
        }
        let v = &validated[&set.model_version];
        let Some(t) = v.threshold.filter(|_| !v.drifting()) else { continue };
        if score < t.threshold {
            continue;
        }
        let item = tx.query_row(&format!("SELECT {ITEM_COLUMNS} FROM item WHERE id = ?1"), [item_id], item_from_row).optional()?;
        let Some(item) = item else { continue };
        if !untouched(tx, &item)? || is_excluded(&excluded, &item.reported_term, top.llt_code) {
            continue;
        }
        // The LLT must be current in the version in use, with the PT the proposal names.
        let llt: Option<(String, u32, bool)> = tx
            .query_row(
                "SELECT l.name, l.pt_code, l.current FROM llt l JOIN release r ON r.id = l.release_id WHERE r.version = ?1 AND l.code = ?2",
                params![set.meddra_version, top.llt_code],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((llt_name, pt_code, true)) = llt else { continue };
        if pt_code != top.pt_code {
            continue;
        }
        let pt_name: Option<String> = tx
            .query_row(
                "SELECT p.name FROM pt p JOIN release r ON r.id = p.release_id WHERE r.version = ?1 AND p.code = ?2",
                params![set.meddra_version, pt_code],
                |r| r.get(0),
            )
            .optional()?;
        let now = super::now();
        let who = proposer(&set.model_version);
        tx.execute(
            "UPDATE item SET state = 'proposed', llt_code = ?1, pt_code = ?2, meddra_version = ?3, source = ?4, proposer = ?5, proposed_at = ?6,
               confirmed_at = NULL, reviewer = NULL, revision = revision + 1, updated_at = ?6, updated_by = ?7 WHERE id = ?8",
            params![top.llt_code, pt_code, set.meddra_version, SOURCE, who, now, super::workflow::AUTOCODER, item_id],
        )?;
        // The proposals are in hand (just stored), so they are not read back as a person's
        // decision reads them.
        let e = Entry {
            llt_code: Some(top.llt_code),
            llt_name: Some(llt_name),
            pt_code: Some(pt_code),
            pt_name,
            meddra_version: Some(set.meddra_version.clone()),
            model_version: Some(set.model_version.clone()),
            proposals: Some(serde_json::to_string(&set.proposals)?),
            entropy: set.entropy,
            chosen_rank: Some(1),
            source: Some(SOURCE.into()),
            comment: Some(why(score, v, &runner)),
            ..super::workflow::entry_for(super::workflow::AUTOCODER, "autocode", &item, State::Proposed)
        };
        log::append(tx, &e)?;
        coded += 1;
    }
    Ok(coded)
}

/// How a model-first code's log comment names who ran the model.
const RUN_BY: &str = "; model run by ";

/// Whether a term or an LLT is on the do-not-autocode list: a person codes it, whatever rule or
/// model would.
pub fn is_excluded(list: &[Excluded], term: &str, llt: u32) -> bool {
    let term = crate::text::normalize(term);
    list.iter().any(|e| match e {
        Excluded::Term(t) => *t == term,
        Excluded::Llt(c) => *c == llt,
    })
}

/// The do-not-autocode list of a connection.
pub(crate) fn excluded_in(conn: &rusqlite::Connection) -> Result<Vec<Excluded>> {
    parse_list(super::setting_in(conn, EXCLUDE)?.as_deref())
}

/// The log's reason for a model-first code.
fn why(score: f64, v: &Validation, runner: &str) -> String {
    let t = v.threshold.expect("coded only above a validated threshold");
    format!(
        "model-first: PT score {:.3} >= validated threshold {:.3} ({}/{} right, lower bound {:.1}% >= target {:.1}%){RUN_BY}{runner}; awaits review",
        score,
        t.threshold,
        t.right,
        t.n,
        100.0 * t.lower,
        100.0 * v.target,
    )
}

/// Who ran the model that coded an item, from a model-first log comment.
pub fn runner_in(comment: &str) -> Option<&str> {
    if !comment.starts_with("model-first: ") {
        return None;
    }
    let rest = &comment[comment.find(RUN_BY)? + RUN_BY.len()..];
    let name = rest.split([' ', ';']).next().unwrap_or("");
    (!name.is_empty()).then_some(name)
}
