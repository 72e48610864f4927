//! The synonym list (verbatim term assignments). A confirmed decision makes its normalised
//! reported term a synonym of its LLT for that dictionary version; a proposal alone never does.
//! Identical terms then autocode by the rule `synonym` (still reviewed unless the team turns on
//! auto-confirm; the autocoding itself is a workflow transition, in `workflow`), and the engine's
//! memory learns every active synonym.

use anyhow::{bail, Context, Result};
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::Serialize;

use super::item::{item_from_row, ITEM_COLUMNS};
use super::log::{self, Entry};
use super::Store;
use crate::intake::labelled::Labelled;
use crate::meddra::Dictionary;
use crate::text::normalize;

/// The provenance of a code set by an imported synonym, followed by the importer's name: the
/// autocode log row keeps it, and the four-eye check reads the importer back from there.
pub const IMPORTED_BY: &str = "synonym imported by ";

/// The importer named in an autocode log comment ("synonym imported by NAME on DAY; ..." here,
/// "synonym: imported by NAME; ..." from a team database).
pub fn importer_in(comment: &str) -> Option<&str> {
    let rest = comment.strip_prefix(IMPORTED_BY).or_else(|| comment.strip_prefix("synonym: imported by "))?;
    let name = rest.split([' ', ';']).next().unwrap_or("");
    (!name.is_empty()).then_some(name)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Synonym {
    /// The list it is on: a study's, or the global list ("").
    pub study: String,
    /// The normalised reported term.
    pub term: String,
    pub meddra_version: String,
    pub llt_code: u32,
    /// confirmed, imported, or carried (over from an earlier MedDRA version).
    pub origin: String,
    /// Confirmed items of this term coded to this LLT.
    pub confirmations: i64,
    /// The newest confirmed item behind it.
    pub external_id: Option<String>,
    pub reported_term: Option<String>,
    pub proposer: Option<String>,
    pub reviewer: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
    /// Why it does not autocode (returned, retired, recoded away, MedDRA upgrade); None: active.
    pub hold: Option<String>,
    pub seq: i64,
    /// The admin whose import is behind it, until a confirmation by somebody else backs it (kept
    /// when it is carried into a new release): its codes are never auto-confirmed, and the
    /// importer never confirms them.
    pub imported_by: Option<String>,
    /// approved (autocodes unless held), pending (a candidate awaiting a reviewer or admin under
    /// the setting synonym_approval = review; held meanwhile) or declined (held).
    pub approval: String,
    /// Who approved or declined it.
    pub decided_by: Option<String>,
}

impl Synonym {
    /// The list it is on, as people read it.
    pub fn scope(&self) -> String {
        scope_name(&self.study)
    }

    /// Where it comes from, as the desk shows it.
    pub fn provenance(&self) -> String {
        let day = self.updated_at.get(..10).unwrap_or(&self.updated_at);
        let by = self.decided_by.as_deref().unwrap_or("?");
        match self.approval.as_str() {
            "pending" => return format!("synonym candidate: confirmed by {}, awaits approval", self.reviewer.as_deref().unwrap_or("?")),
            "declined" => return format!("synonym candidate declined by {by} on {day}"),
            _ => {}
        }
        if let Some(by) = &self.imported_by {
            return format!("{IMPORTED_BY}{by} on {day}");
        }
        match self.origin.as_str() {
            "confirmed" => format!(
                "synonym: confirmed {} time{}, last by {} on {day}",
                self.confirmations,
                if self.confirmations == 1 { "" } else { "s" },
                self.reviewer.as_deref().unwrap_or("?")
            ),
            "carried" => format!("synonym carried over from an earlier MedDRA version on {day}"),
            _ => format!("{IMPORTED_BY}{} on {day}", self.updated_by),
        }
    }
}

/// A term confirmed to more than one LLT: the newest confirmation wins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub term: String,
    pub meddra_version: String,
    /// (LLT, confirmed items, newest confirmation), newest first: the first one is the synonym.
    pub llts: Vec<(u32, i64, String)>,
}

/// Terms confirmed to more than one LLT in a version, from the confirmed items (the team
/// database's reading of what `Store::synonym_conflicts` selects): by normalised term, each
/// term's LLTs newest confirmation first.
pub fn conflicts(confirmed: &[crate::store::item::Item], version: &str, qualifiers: &[String]) -> Vec<Conflict> {
    let mut by_term: std::collections::BTreeMap<String, std::collections::HashMap<u32, (i64, String)>> = Default::default();
    for it in confirmed.iter().filter(|i| i.state == crate::store::item::State::Confirmed && i.meddra_version.as_deref() == Some(version)) {
        let Some(llt) = it.llt_code else { continue };
        let at = it.confirmed_at.clone().unwrap_or_default();
        let e = by_term.entry(crate::qualifiers::key(&normalize(&it.reported_term), qualifiers)).or_default().entry(llt).or_insert((0, String::new()));
        e.0 += 1;
        if at > e.1 {
            e.1 = at;
        }
    }
    by_term
        .into_iter()
        .filter(|(_, llts)| llts.len() > 1)
        .map(|(term, llts)| {
            let mut llts: Vec<(u32, i64, String)> = llts.into_iter().map(|(l, (n, at))| (l, n, at)).collect();
            llts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            Conflict { term, meddra_version: version.to_string(), llts }
        })
        .collect()
}

/// The list a study's synonyms are on, as people read it ("" is the global list).
pub fn scope_name(study: &str) -> String {
    if study.is_empty() {
        "global".into()
    } else {
        format!("study {}", crate::text::printable(study))
    }
}

/// The team setting synonym_scope: confirmations teach the global list ("global", the default)
/// or the item's study's list ("study").
pub const SCOPE: &str = "synonym_scope";

pub fn check_scope(value: &str) -> Result<()> {
    if !matches!(value, "global" | "study") {
        bail!("synonym scope is global or study, not '{}'", crate::text::printable(value));
    }
    Ok(())
}

/// The `source` of a synonym's own log rows (import, retire, approve, decline): None for the
/// global list, `study:S` for study S's. Written by medcoder, never typed, so a reason cannot
/// pose as another list's.
pub fn log_scope(study: &str) -> Option<String> {
    (!study.is_empty()).then(|| format!("study:{study}"))
}

/// The list a synonym log row is about, from its `source` (either store's spelling).
pub fn scope_of_log(source: Option<&str>) -> String {
    source.and_then(|s| s.strip_prefix("study:")).unwrap_or("").to_string()
}

/// Checks the study a list is named for ("" is the global list): text a colleague's terminal
/// shows, so no control or format characters, no blanks around it, at most a field's length.
pub fn check_study(study: &str) -> Result<()> {
    if let Some(c) = crate::text::forbidden_char(study) {
        bail!("the study contains the control or format character U+{:04X}", c as u32);
    }
    if study.trim() != study {
        bail!("the study '{}' has blanks around it", crate::text::printable(study));
    }
    if study.chars().count() > crate::intake::queue::MAX_FIELD_CHARS {
        bail!("the study has more than {} characters", crate::intake::queue::MAX_FIELD_CHARS);
    }
    Ok(())
}

/// The list a confirmation of an item of `study` teaches under the store's setting.
pub(crate) fn scope_for(conn: &rusqlite::Connection, study: &str) -> Result<String> {
    Ok(if super::setting_in(conn, SCOPE)?.as_deref() == Some("study") { study.to_string() } else { String::new() })
}

const COLUMNS: &str =
    "term, meddra_version, llt_code, origin, confirmations, external_id, reported_term, proposer, reviewer, updated_at, updated_by, hold, seq, imported_by, approval, decided_by, study";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Synonym> {
    Ok(Synonym {
        study: r.get(16)?,
        term: r.get(0)?,
        meddra_version: r.get(1)?,
        llt_code: r.get(2)?,
        origin: r.get(3)?,
        confirmations: r.get(4)?,
        external_id: r.get(5)?,
        reported_term: r.get(6)?,
        proposer: r.get(7)?,
        reviewer: r.get(8)?,
        updated_at: r.get(9)?,
        updated_by: r.get(10)?,
        hold: r.get(11)?,
        seq: r.get(12)?,
        imported_by: r.get(13)?,
        approval: r.get(14)?,
        decided_by: r.get(15)?,
    })
}

fn next_seq(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM synonym", [], |r| r.get(0))?)
}

/// The synonym key of a normalised term under this store's qualifier list.
pub(crate) fn key_of(conn: &rusqlite::Connection, term_key: &str) -> Result<String> {
    Ok(conn.query_row("SELECT synonym_key(?1, (SELECT value FROM setting WHERE key = 'synonym_qualifiers'))", [term_key], |r| r.get(0))?)
}

/// The setting synonym_approval: confirmations become synonyms at once ("immediate", the
/// default) or candidates a reviewer or admin approves ("review").
pub const APPROVAL: &str = "synonym_approval";

pub fn check_approval(value: &str) -> Result<()> {
    if !matches!(value, "immediate" | "review") {
        bail!("synonym approval is immediate or review, not '{}'", crate::text::printable(value));
    }
    Ok(())
}

/// The synonym of a key on one list (`study`, "" for the global one), held or not.
pub(crate) fn get(conn: &rusqlite::Connection, study: &str, term: &str, version: &str) -> Result<Option<Synonym>> {
    Ok(conn
        .query_row(&format!("SELECT {COLUMNS} FROM synonym WHERE study = ?1 AND term = ?2 AND meddra_version = ?3"), params![study, term, version], from_row)
        .optional()?)
}

/// The synonym that decides a key for the items of `study`: the study's own entry, active or
/// held (a study that retired or declined a code does not fall back to the global list), unless
/// it is a candidate still awaiting approval; else the global list's.
pub(crate) fn governing(conn: &rusqlite::Connection, study: &str, term: &str, version: &str) -> Result<Option<Synonym>> {
    if !study.is_empty() {
        if let Some(s) = get(conn, study, term, version)?.filter(|s| s.approval != "pending") {
            return Ok(Some(s));
        }
    }
    get(conn, "", term, version)
}

/// The synonym that autocodes a normalised term for an item of `study`: the governing entry of
/// its key, not held (so approved), its LLT current.
pub(crate) fn active<'d>(conn: &rusqlite::Connection, dict: &'d Dictionary, study: &str, term: &str) -> Result<Option<(Synonym, &'d crate::meddra::Llt)>> {
    if term.is_empty() {
        return Ok(None);
    }
    active_for_key(conn, dict, study, &key_of(conn, term)?)
}

/// The same, for a synonym key already made.
pub(crate) fn active_for_key<'d>(
    conn: &rusqlite::Connection,
    dict: &'d Dictionary,
    study: &str,
    key: &str,
) -> Result<Option<(Synonym, &'d crate::meddra::Llt)>> {
    let Some(s) = governing(conn, study, key, &dict.version)?.filter(|s| s.hold.is_none()) else { return Ok(None) };
    Ok(dict.llt(s.llt_code).filter(|l| l.current).map(|l| (s, l)))
}

/// Rebuilds the synonym of a key on one list (`scope`: a study, or "" for the global list) from
/// the items confirmed for it in `version` (a study's items for a study's list, every item for
/// the global one): the newest confirmed item's LLT wins, counted over the confirmed items with
/// that LLT. With none left, a confirmed synonym is held (an imported one stays as imported).
/// Under synonym_approval = review a new code (a new key, another LLT, or one declined or retired
/// before) becomes a pending candidate instead; the same approved code is only strengthened.
pub(crate) fn revise(tx: &Transaction<'_>, scope: &str, term: &str, version: &str, by: &str, reactivate: bool, why_if_none: &str) -> Result<()> {
    let newest = tx
        .query_row(
            &format!(
                "SELECT {ITEM_COLUMNS} FROM item WHERE syn_key = ?1 AND state = 'confirmed' AND meddra_version = ?2 AND (?3 = '' OR study = ?3)
                 ORDER BY confirmed_at DESC, id DESC LIMIT 1"
            ),
            params![term, version, scope],
            item_from_row,
        )
        .optional()?;
    let existing = get(tx, scope, term, version)?;
    let now = super::now();
    let seq = next_seq(tx)?;
    match newest {
        Some(it) => {
            let llt = it.llt_code.context("confirmed item without an LLT")?;
            let n: i64 = tx.query_row(
                "SELECT count(*) FROM item WHERE syn_key = ?1 AND state = 'confirmed' AND meddra_version = ?2 AND llt_code = ?3 AND (?4 = '' OR study = ?4)",
                params![term, version, llt, scope],
                |r| r.get(0),
            )?;
            let review = super::setting_in(tx, APPROVAL)?.as_deref() == Some("review");
            let (hold, approval, decided_by) = approval_state(tx, existing.as_ref(), scope, term, version, llt, review, reactivate)?;
            tx.execute(
                "INSERT INTO synonym(term, meddra_version, llt_code, origin, confirmations, item_id, external_id, reported_term, proposer, reviewer, updated_at, updated_by, hold, seq, approval, decided_by, study)
                 VALUES (?1, ?2, ?3, 'confirmed', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?14, ?12, ?15, ?16, ?17)
                 ON CONFLICT(study, term, meddra_version) DO UPDATE SET llt_code = excluded.llt_code, origin = 'confirmed', confirmations = excluded.confirmations,
                   item_id = excluded.item_id, external_id = excluded.external_id, reported_term = excluded.reported_term, proposer = excluded.proposer,
                   reviewer = excluded.reviewer, updated_at = excluded.updated_at, updated_by = excluded.updated_by, hold = excluded.hold, seq = excluded.seq,
                   imported_by = CASE WHEN ?13 THEN NULL ELSE synonym.imported_by END, approval = excluded.approval, decided_by = excluded.decided_by",
                params![term, version, llt, n, it.id, it.external_id, it.reported_term, it.proposer, it.reviewer, now, by, seq, reactivate, hold, approval, decided_by, scope],
            )?;
        }
        None => {
            if existing.as_ref().is_some_and(|s| s.origin == "confirmed" && s.hold.is_none()) {
                hold(tx, scope, term, version, by, why_if_none)?;
            }
        }
    }
    Ok(())
}

/// What a pending candidate's hold says.
pub const PENDING_HOLD: &str = "candidate: awaits approval";

/// The hold, approval and decider a key's synonym gets when its newest confirmed code is `llt`.
/// Without review: a confirmation (`reactivate`) makes it active and approved; a recode keeps what
/// it was. Under review: the same approved code is only strengthened; anything else is a pending
/// candidate. In either mode a code a reviewer declined for this key (the log says so) stays
/// declined, whatever was confirmed in between.
#[allow(clippy::too_many_arguments)]
fn approval_state(
    tx: &Transaction<'_>,
    existing: Option<&Synonym>,
    scope: &str,
    term: &str,
    version: &str,
    llt: u32,
    review: bool,
    reactivate: bool,
) -> Result<(Option<String>, &'static str, Option<String>)> {
    let kept = |s: &Synonym| -> &'static str {
        match s.approval.as_str() {
            "pending" => "pending",
            "declined" => "declined",
            _ => "approved",
        }
    };
    // A code a reviewer declined for this key on this list stays declined, whatever the mode is now.
    let declined: Option<(String, String)> = tx
        .query_row(
            "SELECT user, coalesce(comment, '') FROM decision_log WHERE action = 'synonym-decline' AND reported_term = ?1 AND llt_code = ?2 AND meddra_version = ?3
               AND coalesce(source, '') = coalesce(?4, '') ORDER BY seq DESC LIMIT 1",
            params![term, llt, version, log_scope(scope)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((by, why)) = declined {
        return Ok((Some(format!("declined by {by}: {why}")), "declined", Some(by)));
    }
    if !review {
        return Ok(match existing {
            Some(s) if !reactivate => (s.hold.clone(), kept(s), s.decided_by.clone()),
            Some(s) => (None, "approved", s.decided_by.clone()),
            None => (None, "approved", None),
        });
    }
    Ok(match existing {
        Some(s) if s.llt_code == llt && s.approval == "approved" && (s.hold.is_none() || !reactivate) => {
            (if reactivate { None } else { s.hold.clone() }, "approved", s.decided_by.clone())
        }
        _ => (Some(PENDING_HOLD.to_string()), "pending", None),
    })
}

/// Stops a synonym (of list `scope`) from autocoding, saying why.
pub(crate) fn hold(tx: &Transaction<'_>, scope: &str, term: &str, version: &str, by: &str, why: &str) -> Result<()> {
    let seq = next_seq(tx)?;
    tx.execute(
        "UPDATE synonym SET hold = ?1, updated_at = ?2, updated_by = ?3, seq = ?4 WHERE study = ?7 AND term = ?5 AND meddra_version = ?6",
        params![why, super::now(), by, seq, term, version, scope],
    )?;
    Ok(())
}

/// Checks every row of a synonym list against the dictionary: an empty term, or an unknown or
/// non-current LLT, fails the whole list naming its line and field.
/// Returns the rows to import: a row repeating an earlier one (same term, same LLT) is dropped, so
/// it counts once.
pub fn check_list(dict: &Dictionary, rows: &[Labelled], file: &str, qualifiers: &[String]) -> Result<Vec<Labelled>> {
    let mut seen: std::collections::HashMap<String, &Labelled> = std::collections::HashMap::new();
    let mut keep = Vec::with_capacity(rows.len());
    for r in rows {
        let chars = r.term.chars().count();
        if chars > crate::intake::queue::MAX_FIELD_CHARS {
            bail!("{file}, line {}, field reported_term: {chars} characters (at most {})", r.line, crate::intake::queue::MAX_FIELD_CHARS);
        }
        if let Some(c) = crate::text::forbidden_char(&r.term) {
            bail!("{file}, line {}, field reported_term: contains the control or format character U+{:04X}", r.line, c as u32);
        }
        let key = crate::qualifiers::key(&normalize(&r.term), qualifiers);
        match seen.get(&key) {
            Some(first) if first.llt != r.llt => {
                bail!("{file}, line {}, field llt_code: the term '{key}' is already given LLT {} on line {}", r.line, first.llt, first.line)
            }
            Some(_) => continue,
            None => {}
        }
        if key.is_empty() {
            bail!("{file}, line {}, field reported_term: empty", r.line);
        }
        match dict.llt(r.llt) {
            None => bail!("{file}, line {}, field llt_code: {} is not an LLT code in MedDRA {}", r.line, r.llt, dict.version),
            Some(l) if !l.current => bail!("{file}, line {}, field llt_code: LLT {} '{}' is non-current in MedDRA {}", r.line, r.llt, l.name, dict.version),
            Some(_) => {}
        }
        seen.insert(key, r);
        keep.push(r.clone());
    }
    Ok(keep)
}

/// Writes a checked synonym list as imported synonyms of one list (`study`, "" for the global
/// one), with one log row each, inside the caller's transaction; returns the normalised terms.
pub(crate) fn write_list(tx: &Transaction<'_>, acting: &str, dict: &Dictionary, study: &str, rows: &[Labelled], file: &str) -> Result<Vec<String>> {
    let file = &*crate::text::printable(file);
    let now = super::now();
    let first = next_seq(tx)?;
    let mut terms = Vec::with_capacity(rows.len());
    for (seq, r) in (first..).zip(rows) {
        let term = key_of(tx, &normalize(&r.term))?;
        tx.execute(
            "INSERT INTO synonym(term, meddra_version, llt_code, origin, confirmations, updated_at, updated_by, hold, seq, imported_by, reported_term, study) VALUES (?1, ?2, ?3, 'imported', 0, ?4, ?5, NULL, ?6, ?5, ?7, ?8)
             ON CONFLICT(study, term, meddra_version) DO UPDATE SET llt_code = excluded.llt_code, origin = 'imported', confirmations = 0, item_id = NULL, external_id = NULL,
               reported_term = excluded.reported_term, proposer = NULL, reviewer = NULL, updated_at = excluded.updated_at, updated_by = excluded.updated_by, hold = NULL, seq = excluded.seq,
               imported_by = excluded.imported_by, approval = 'approved', decided_by = NULL",
            params![term, dict.version, r.llt, now, acting, seq, r.term, study],
        )?;
        // One log row per synonym: what was imported can be read back from the log.
        log::append(
            tx,
            &Entry {
                user: acting.into(),
                action: "synonym-import".into(),
                reported_term: Some(term.clone()),
                llt_code: Some(r.llt),
                llt_name: dict.llt(r.llt).map(|l| l.name.clone()),
                meddra_version: Some(dict.version.clone()),
                source: log_scope(study),
                comment: Some(format!("{file}, line {}", r.line)),
                ..Default::default()
            },
        )?;
        terms.push(term);
    }
    Ok(terms)
}

impl Store {
    /// The synonym that decides a term for the items of `study` in a version, held or not.
    pub fn synonym(&self, study: &str, term: &str, version: &str) -> Result<Option<Synonym>> {
        governing(&self.conn, study, &key_of(&self.conn, &normalize(term))?, version)
    }

    /// The synonym key of a reported term under this store's qualifier list.
    pub fn synonym_key(&self, term: &str) -> Result<String> {
        key_of(&self.conn, &normalize(term))
    }

    /// Every synonym of a version, by term.
    pub fn synonyms(&self, version: &str) -> Result<Vec<Synonym>> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM synonym WHERE meddra_version = ?1 ORDER BY term, study"))?;
        let rows = st.query_map([version], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Synonyms of a version changed after `seq` (held ones too: the memory drops them).
    pub fn synonyms_since(&self, version: &str, seq: i64) -> Result<Vec<Synonym>> {
        let mut st = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM synonym WHERE meddra_version = ?1 AND seq > ?2 ORDER BY seq"))?;
        let rows = st.query_map(params![version, seq], from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest synonym change of a version (0 when none): a cheap check for the memory.
    pub fn synonym_seq(&self, version: &str) -> Result<i64> {
        Ok(self.conn.query_row("SELECT coalesce(max(seq), 0) FROM synonym WHERE meddra_version = ?1", [version], |r| r.get(0))?)
    }

    /// When the synonym list of a version last changed.
    pub fn synonym_changed_at(&self, version: &str) -> Result<Option<String>> {
        Ok(self.conn.query_row("SELECT updated_at FROM synonym WHERE meddra_version = ?1 ORDER BY seq DESC LIMIT 1", [version], |r| r.get(0)).optional()?)
    }

    /// Terms confirmed to more than one LLT in a version.
    pub fn synonym_conflicts(&self, version: &str) -> Result<Vec<Conflict>> {
        let mut st = self.conn.prepare_cached(
            "SELECT syn_key, llt_code, count(*), max(confirmed_at) FROM item
             WHERE state = 'confirmed' AND meddra_version = ?1 AND syn_key IN
               (SELECT syn_key FROM item WHERE state = 'confirmed' AND meddra_version = ?1 GROUP BY syn_key HAVING count(DISTINCT llt_code) > 1)
             GROUP BY syn_key, llt_code ORDER BY syn_key, max(confirmed_at) DESC",
        )?;
        let rows = st.query_map([version], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)))?;
        let mut out: Vec<Conflict> = Vec::new();
        for r in rows {
            let (term, llt, n, at) = r?;
            match out.last_mut().filter(|c| c.term == term) {
                Some(c) => c.llts.push((llt, n, at)),
                None => out.push(Conflict { term, meddra_version: version.to_string(), llts: vec![(llt, n, at)] }),
            }
        }
        Ok(out)
    }

    /// Retires a synonym of one list (`study`, "" for the global one; admin, logged): it stays
    /// listed, held, and autocodes no more until a new confirmation or import. A study's retired
    /// entry keeps the global one from coding there too.
    pub fn retire_synonym(&mut self, acting: &str, version: &str, study: &str, term: &str) -> Result<Synonym> {
        self.require_admin(acting, "retires synonyms")?;
        let key = key_of(&self.conn, &normalize(term))?;
        if key.is_empty() {
            bail!("give the reported term whose synonym to retire (see `medcoder synonym list`)");
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(s) = get(&tx, study, &key, version)? else {
            bail!("no synonym '{key}' on the {} list in MedDRA {version}: see `medcoder synonym list`", scope_name(study))
        };
        // Retired twice is refused; a synonym held for another reason (returned, a candidate) may
        // be retired for good (as on a team database).
        if let Some(h) = s.hold.as_deref().filter(|h| h.starts_with("retired by ")) {
            bail!("the synonym '{key}' ({}) is already retired ({h})", scope_name(study));
        }
        hold(&tx, study, &key, version, acting, &format!("retired by {acting}"))?;
        log::append(
            &tx,
            &Entry {
                user: acting.into(),
                action: "synonym-retire".into(),
                reported_term: Some(key.clone()),
                llt_code: Some(s.llt_code),
                meddra_version: Some(version.into()),
                source: log_scope(study),
                ..Default::default()
            },
        )?;
        let out = get(&tx, study, &key, version)?.context("the synonym just retired")?;
        tx.commit()?;
        Ok(out)
    }

    /// After a MedDRA version change: the previous version's active synonyms are carried over to
    /// `dict` when missing there. A synonym whose LLT is no longer current, or whose primary path
    /// changed, is carried held with the reason (nothing autocodes from it until resolved).
    pub fn carry_synonyms(&mut self, from: &Dictionary, to: &Dictionary, by: &str) -> Result<usize> {
        let old = self.synonyms(&from.version)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = carry_in(&tx, old, from, to, by)?;
        tx.commit()?;
        Ok(n)
    }
}

/// Carries `old` synonyms (of `from`) over to `to` inside the caller's transaction.
pub(crate) fn carry_in(tx: &Transaction<'_>, old: Vec<Synonym>, from: &Dictionary, to: &Dictionary, by: &str) -> Result<usize> {
    let mut n = 0;
    for s in old.into_iter().filter(|s| s.hold.is_none()) {
        if get(tx, &s.study, &s.term, &to.version)?.is_some() {
            continue;
        }
        let path = |d: &Dictionary| d.llt(s.llt_code).and_then(|l| d.primary_path(l.pt_code)).map(|p| (p.pt.code, p.soc.code));
        let hold = match to.llt(s.llt_code) {
            None => Some(format!("LLT {} is not in MedDRA {}", s.llt_code, to.version)),
            Some(l) if !l.current => Some(format!("LLT {} '{}' is non-current in MedDRA {}", l.code, l.name, to.version)),
            Some(l) if path(from) != path(to) => Some(format!("LLT {} '{}' has another primary path in MedDRA {}", l.code, l.name, to.version)),
            Some(_) => None,
        };
        let seq = next_seq(tx)?;
        tx.execute(
            "INSERT INTO synonym(term, meddra_version, llt_code, origin, confirmations, item_id, external_id, reported_term, proposer, reviewer, updated_at, updated_by, hold, seq, imported_by, study)
             VALUES (?1, ?2, ?3, 'carried', ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![s.term, to.version, s.llt_code, s.confirmations, s.external_id, s.reported_term, s.proposer, s.reviewer, super::now(), by, hold, seq, s.imported_by, s.study],
        )?;
        n += 1;
    }
    Ok(n)
}
