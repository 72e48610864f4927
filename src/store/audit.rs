//! Whole-state integrity and anchors. The hash chain proves the log was not edited; it says
//! nothing about the tables beside it, nor about a consistent rewrite of the whole chain. So:
//! - `state_findings` rebuilds what the log says every item, user and team setting should be and
//!   names each row of the tables that differs (an `UPDATE item SET llt_code = ...` behind
//!   medcoder's back);
//! - an anchor is a copy of the log head (seq, hash, time) kept outside the database; a head that
//!   was anchored must still be in the chain, so rewriting or truncating history before the newest
//!   anchor is found even when the rewritten chain is consistent.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rusqlite::OptionalExtension;

use super::log::LoggedEntry;
use super::synonyms::scope_of_log;
use super::workflow::AUTOCODER;
use super::Store;

/// The team settings medcoder changes only through a logged admin action.
pub const TEAM_SETTINGS: &[&str] = &["autocode_confirm", "anchor_file", "model_first", "model_first_target", "model_first_exclude"];

/// The newest log row: what an anchor records and an export carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub at: String,
}

impl Head {
    /// One anchor-file line: `seq hash at`.
    pub fn line(&self) -> String {
        format!("{} {} {}", self.seq, self.hash, self.at)
    }
}

/// An anchor that no longer matches the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorMismatch {
    pub line: usize,
    pub anchored: Head,
    pub reason: String,
}

/// What the log says one item is.
#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    external_id: String,
    state: Option<String>,
    llt: Option<u32>,
    pt: Option<u32>,
    proposer: Option<String>,
    reviewer: Option<String>,
    revision: i64,
    /// How the current code was found; None with `source_unknown` when a row that set the code
    /// predates logged sources.
    source: Option<String>,
    source_unknown: bool,
    /// The reported term: the import's, then each corrected verbatim's (issue #21).
    term: Option<String>,
}

fn replay_item(e: &mut Expected, row: &LoggedEntry) {
    let r = &row.entry;
    if r.action != "import" {
        e.revision += 1;
    }
    if matches!(r.action.as_str(), "import" | "supersede") {
        e.term = r.reported_term.clone();
    }
    if let Some(s) = &r.state_to {
        e.state = Some(s.clone());
    }
    if r.llt_code.is_some() {
        e.llt = r.llt_code;
        e.pt = r.pt_code;
    }
    // These take the code away (issue #21): a withdrawn proposal, a superseded verbatim, a split
    // (whose parts carry the codes) and a void part.
    if matches!(r.action.as_str(), "withdraw" | "supersede" | "split" | "void") {
        e.llt = None;
        e.pt = None;
        e.source = None;
        e.source_unknown = false;
        e.reviewer = None;
        e.proposer = (r.action == "split").then(|| r.user.clone());
    }
    if matches!(r.action.as_str(), "propose" | "recode" | "autocode") {
        e.source = r.source.clone();
        e.source_unknown = r.source.is_none();
    }
    match r.action.as_str() {
        "propose" | "recode" => {
            e.proposer = Some(r.user.clone());
            e.reviewer = None;
        }
        // The model proposed a model-first code itself; a reviewer always confirms it.
        "autocode" if r.source.as_deref() == Some(super::model_first::SOURCE) => {
            e.proposer = Some(super::model_first::proposer(r.model_version.as_deref().unwrap_or_default()));
            e.reviewer = None;
        }
        "autocode" => {
            e.proposer = Some(AUTOCODER.into());
            e.reviewer = (r.state_to.as_deref() == Some("confirmed")).then(|| AUTOCODER.into());
        }
        "confirm" | "return" => e.reviewer = Some(r.user.clone()),
        _ => {}
    }
}

/// An item row as the audit compares it with the log.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemState {
    pub id: i64,
    pub external_id: String,
    pub state: Option<String>,
    pub llt: Option<u32>,
    pub pt: Option<u32>,
    pub proposer: Option<String>,
    pub reviewer: Option<String>,
    pub revision: i64,
    /// How the code was found (the four-eye rule for imported synonyms reads it).
    pub source: Option<String>,
    /// What the code was given for: the synonym list and the training pairs read it.
    pub reported_term: String,
}

/// Each difference between the item rows and what the log (in order) says they are, one line
/// each. Both stores call it: SQLite's own log, and a team database's copied and own logs.
pub fn item_findings(log: &[LoggedEntry], table: &[ItemState]) -> Vec<String> {
    let mut findings = Vec::new();
    let mut items: BTreeMap<i64, Expected> = BTreeMap::new();
    for row in log.iter().filter(|r| r.entry.item_id.is_some()) {
        let id = row.entry.item_id.expect("filtered");
        let e = items.entry(id).or_default();
        if row.entry.action == "import" {
            e.external_id = row.entry.external_id.clone().unwrap_or_default();
        }
        replay_item(e, row);
    }
    let mut seen = HashSet::new();
    for table in table {
        let id = table.id;
        seen.insert(id);
        let name = format!("item {} (id {id})", table.external_id);
        let Some(log) = items.get(&id) else {
            findings.push(format!("{name} is not in the decision log"));
            continue;
        };
        let mut diff = |what: &str, got: String, want: String| {
            if got != want {
                findings.push(format!("{name}: {what} is {got}, the log says {want}"));
            }
        };
        diff("the external id", table.external_id.clone(), log.external_id.clone());
        diff("the state", shown(&table.state), shown(&log.state));
        diff("the LLT", shown(&table.llt), shown(&log.llt));
        diff("the PT", shown(&table.pt), shown(&log.pt));
        diff("the proposer", shown(&table.proposer), shown(&log.proposer));
        diff("the reviewer", shown(&table.reviewer), shown(&log.reviewer));
        diff("the revision", table.revision.to_string(), log.revision.to_string());
        if !log.source_unknown {
            diff("the source", shown(&table.source), shown(&log.source));
        }
        // A `db copy` escapes text an older store let in with control characters; the log keeps it raw.
        if let Some(want) = &log.term {
            if table.reported_term != *want && table.reported_term != crate::text::printable(want) {
                let (got, want) = (crate::text::printable(&table.reported_term), crate::text::printable(want));
                findings.push(format!("{name}: the reported term is '{got}', the log says '{want}'"));
            }
        }
    }
    for (id, e) in &items {
        if !seen.contains(id) {
            findings.push(format!("item {} (id {id}) is in the decision log but not in the queue", e.external_id));
        }
    }
    findings
}

impl Store {
    /// The newest log row, or None for an empty log.
    pub fn log_head(&self) -> Result<Option<Head>> {
        Ok(self
            .conn
            .query_row("SELECT seq, hash, at FROM decision_log ORDER BY seq DESC LIMIT 1", [], |r| Ok(Head { seq: r.get(0)?, hash: r.get(1)?, at: r.get(2)? }))
            .optional()?)
    }

    /// Every difference between the tables and the state the log describes, one line each.
    pub fn state_findings(&self) -> Result<Vec<String>> {
        let log = self.log_entries(None)?;
        let mut findings = Vec::new();

        let mut st =
            self.conn.prepare("SELECT id, external_id, state, llt_code, pt_code, proposer, reviewer, revision, source, reported_term FROM item ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(ItemState {
                id: r.get(0)?,
                external_id: r.get(1)?,
                state: r.get(2)?,
                llt: r.get(3)?,
                pt: r.get(4)?,
                proposer: r.get(5)?,
                reviewer: r.get(6)?,
                revision: r.get(7)?,
                source: r.get(8)?,
                reported_term: r.get(9)?,
            })
        })?;
        let table = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        findings.extend(item_findings(&log, &table));
        findings.extend(autocode_findings(&log));

        // Users: added by logged admin actions (role and OS login), passwords set by logged actions.
        let mut logged_users: HashMap<String, (String, Option<String>)> = HashMap::new();
        let mut fingerprints: HashMap<String, String> = HashMap::new();
        for r in &log {
            let Some(c) = r.entry.comment.as_deref() else { continue };
            match r.entry.action.as_str() {
                "user-add" => {
                    if let Some((name, rest)) = c.split_once(" as ") {
                        let (role, login) = match rest.split_once(" (login ") {
                            Some((role, login)) => (role.to_string(), Some(login.trim_end_matches(')').to_string())),
                            None => (rest.to_string(), None),
                        };
                        logged_users.insert(name.to_lowercase(), (role, login));
                    }
                }
                "user-passwd" => {
                    let target = c.strip_prefix("reset the password of ").and_then(|t| t.split(' ').next()).unwrap_or(&r.entry.user);
                    if let Some(fp) = c.split_once("(fingerprint ").map(|(_, f)| f.trim_end_matches(')')) {
                        fingerprints.insert(target.to_lowercase(), fp.to_string());
                    }
                }
                _ => {}
            }
        }
        let hashes: HashMap<String, Option<String>> = {
            let mut st = self.conn.prepare("SELECT name, password_hash FROM user")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for u in self.users()? {
            let key = u.name.to_lowercase();
            match logged_users.remove(&key) {
                None => findings.push(format!("user {} is not in the decision log", u.name)),
                Some((role, login)) => {
                    if role != u.role.as_str() {
                        findings.push(format!("user {}: the role is {}, the log says {role}", u.name, u.role));
                    }
                    // Users logged before logins existed are bound to their own name.
                    let login = login.unwrap_or_else(|| u.name.clone());
                    if login.to_lowercase() != u.login.to_lowercase() {
                        findings.push(format!("user {}: the OS login is {}, the log says {login}", u.name, u.login));
                    }
                }
            }
            let stored = hashes.get(&u.name).cloned().flatten().map(|h| super::users::password_fingerprint(&h));
            if stored != fingerprints.get(&key).cloned() {
                findings.push(format!("user {}: the password was set without a log row", u.name));
            }
        }
        for name in logged_users.keys() {
            findings.push(format!("user {name} is in the decision log but not in the user table"));
        }
        let demo_logged = log.iter().any(|r| r.entry.action == "demo-mode");
        if self.is_demo()? != demo_logged {
            findings.push(format!("demo mode is {}, the log says {}", if self.is_demo()? { "on" } else { "off" }, if demo_logged { "on" } else { "off" }));
        }

        // The dictionary: loaded releases and the active version, since their changes are logged.
        if let Some(last_use) = log.iter().rev().find(|r| r.entry.action == "dict-use") {
            let logged = last_use.entry.meddra_version.clone();
            let active = self.active_version()?;
            if active != logged {
                findings.push(format!(
                    "the active MedDRA version is {}, the log says {}",
                    active.unwrap_or_else(|| "unset".into()),
                    logged.unwrap_or_else(|| "unset".into())
                ));
            }
            let imported: HashSet<String> = log.iter().filter(|r| r.entry.action == "dict-import").filter_map(|r| r.entry.meddra_version.clone()).collect();
            // Releases loaded before dictionary changes were logged have no import row.
            let logged_since = log.iter().find(|r| r.entry.action == "dict-use").map_or("", |u| u.at.as_str());
            for r in self.releases()? {
                if !imported.contains(&r.version) && r.imported_at.as_str() > logged_since {
                    findings.push(format!("MedDRA {} is loaded but its import is not in the log", r.version));
                }
            }
        }

        // Each release's content as its logged import recorded it (LLT names, PTs, currency,
        // hierarchy): an edited table could make a non-current LLT proposable unseen.
        for r in log.iter().filter(|r| r.entry.action == "dict-import") {
            let (Some(version), Some(logged)) = (&r.entry.meddra_version, r.entry.comment.as_deref().and_then(|c| c.split_once("; digest ")).map(|(_, d)| d))
            else {
                continue;
            };
            match self.dictionary(version) {
                Ok(d) if d.digest() == logged => {}
                Ok(_) => findings.push(format!("MedDRA {version}: the dictionary tables differ from the release its import logged (digest {logged})")),
                Err(e) => findings.push(format!("MedDRA {version}: its import is logged but it cannot be read back ({e:#})")),
            }
        }

        // The log's own guards: without its triggers the log could be changed through SQL.
        let triggers: Vec<(String, String)> = {
            let mut st = self.conn.prepare("SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'decision_log'")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for name in LOG_TRIGGERS {
            match triggers.iter().find(|(n, _)| n == name) {
                None => findings.push(format!("the decision log's trigger {name} is missing: the log can be changed through SQL")),
                Some((_, sql)) if !sql.contains("RAISE(ABORT") => {
                    findings.push(format!("the decision log's trigger {name} was altered: it no longer refuses the change"))
                }
                Some(_) => {}
            }
        }

        // An imported synonym that no confirmation backs stays its importer's: the table must say
        // who, as the log does (a cleared importer could confirm their own codes).
        let confirmed: HashSet<(String, u32)> = {
            let mut st = self.conn.prepare("SELECT syn_key, llt_code FROM item WHERE state = 'confirmed' AND llt_code IS NOT NULL AND syn_key IS NOT NULL")?;
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut all = Vec::new();
        for r in self.releases()? {
            all.extend(self.synonyms(&r.version)?);
        }
        let qualifiers = super::api::DeskStore::synonym_qualifiers(self)?;
        findings.extend(importer_findings(&log, &all, &confirmed, &qualifiers));
        findings.extend(retire_findings(&log, &all, &qualifiers));
        let studies: HashMap<String, String> = {
            let mut st = self.conn.prepare("SELECT external_id, study FROM item")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        findings.extend(approval_findings(&log, &all, &qualifiers, &studies));

        // Synonyms autocode and may auto-confirm: each must come from a logged confirmation of its
        // term and LLT, a logged import, or a synonym of another version it was carried from.
        let mut st = self.conn.prepare(
            "SELECT s.term, s.meddra_version, s.llt_code, s.origin FROM synonym s WHERE NOT (
                (s.origin = 'confirmed' AND EXISTS (SELECT 1 FROM decision_log l WHERE l.state_to = 'confirmed' AND l.llt_code = s.llt_code AND synonym_key(normalize(l.reported_term), ?1) = s.term))
             OR (s.origin = 'imported' AND EXISTS (SELECT 1 FROM decision_log l WHERE l.action = 'synonym-import' AND l.llt_code = s.llt_code AND synonym_key(normalize(l.reported_term), ?1) = s.term))
             OR (s.origin = 'carried' AND EXISTS (SELECT 1 FROM synonym o WHERE o.study = s.study AND o.term = s.term AND o.meddra_version <> s.meddra_version AND o.llt_code = s.llt_code)))",
        )?;
        let unbacked = st.query_map([self.setting(crate::qualifiers::SETTING)?], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, u32>(2)?, r.get::<_, String>(3)?))
        })?;
        for row in unbacked {
            let (term, version, llt, origin) = row?;
            findings.push(format!("synonym '{term}' (MedDRA {version}) -> LLT {llt} says it was {origin}, but the log has no such decision"));
        }

        // Team settings: the last logged value of each.
        let mut logged: HashMap<String, String> = HashMap::new();
        for r in log.iter().filter(|r| r.entry.action == "setting") {
            if let Some((k, v)) = r.entry.comment.as_deref().and_then(|c| c.split_once(" = ")) {
                logged.insert(k.to_string(), v.to_string());
            }
        }
        for key in TEAM_SETTINGS {
            let table = self.setting(key)?;
            let want = logged.get(*key).cloned();
            if table != want {
                findings.push(format!(
                    "setting {key}: the value is {}, the log says {}",
                    table.unwrap_or_else(|| "unset".into()),
                    want.unwrap_or_else(|| "unset".into())
                ));
            }
        }
        Ok(findings)
    }

    /// Anchors that no longer match the chain: a head anchored earlier whose row is gone or has
    /// another hash. Lines that are not anchors are refused with their number.
    pub fn check_anchors(&self, file: &Path) -> Result<Vec<AnchorMismatch>> {
        let anchors = read_anchors(file)?;
        let mut out = Vec::new();
        for (line, a) in anchors {
            let row: Option<(String, String)> =
                self.conn.query_row("SELECT hash, at FROM decision_log WHERE seq = ?1", [a.seq], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
            let reason = match row {
                None => Some(format!("row {} is gone: the log was truncated", a.seq)),
                Some((hash, _)) if hash != a.hash => Some(format!("row {} has another hash: the history up to it was rewritten", a.seq)),
                Some((_, at)) if at != a.at => Some(format!("row {} has another time", a.seq)),
                Some(_) => None,
            };
            if let Some(reason) = reason {
                out.push(AnchorMismatch { line, anchored: a, reason });
            }
        }
        Ok(out)
    }

    /// Appends the current head to `file` (created with its folder when missing); returns it.
    /// None for an empty log (nothing to anchor).
    pub fn anchor(&self, file: &Path) -> Result<Option<Head>> {
        let Some(head) = self.log_head()? else { return Ok(None) };
        append_anchor(file, &head)?;
        Ok(Some(head))
    }

    /// The anchor file: the team setting `anchor_file`, else `<database>.anchors` beside it.
    pub fn anchor_file(&self) -> Result<PathBuf> {
        Ok(match self.setting("anchor_file")? {
            Some(p) => PathBuf::from(p),
            None => self.path().with_file_name(format!("{}.anchors", self.path().file_name().and_then(|n| n.to_str()).unwrap_or("medcoder.db"))),
        })
    }
}

/// An optional column as `audit verify` prints it.
fn shown<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "empty".to_string(), ToString::to_string)
}

/// The anchors of a file with their line numbers; blank lines and `#` comments are skipped.
/// Appends `head` to the anchor file (created with its folder when missing), unless the newest
/// anchor already says it (the desk anchors on every exit).
pub fn append_anchor(file: &Path, head: &Head) -> Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if read_anchors(file).ok().and_then(|a| a.last().map(|(_, h)| h.clone())).as_ref() == Some(head) {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(file).with_context(|| format!("opening the anchor file {}", file.display()))?;
    writeln!(f, "{}", head.line()).with_context(|| format!("writing the anchor file {}", file.display()))?;
    f.sync_all().with_context(|| format!("writing the anchor file {}", file.display()))?;
    Ok(())
}

/// The decision log's guard triggers (002_workflow.sql).
const LOG_TRIGGERS: &[&str] = &["decision_log_no_update", "decision_log_no_delete"];

/// Active synonyms that a logged import backs and no confirmed item does, whose importer in the
/// table is not the one the log names (both stores: a cleared `imported_by` would let the
/// importer confirm their own codes, and their codes be auto-confirmed).
/// Autocodes the team's settings did not allow when they were made, from the log alone: a
/// model-first code while model-first coding was off or under another target, an auto-confirmation
/// while autocode-confirm was off, and any rule or model code of a term or LLT on the
/// do-not-autocode list. Settings changed behind the log, used,
/// and put back are found this way.
pub fn autocode_findings(log: &[LoggedEntry]) -> Vec<String> {
    use super::model_first::{self as mf, Excluded};
    let mut model_first = false;
    let mut auto_confirm = false;
    let mut target = 100.0 * crate::calibration::DEFAULT_TARGET;
    let mut excluded: Vec<Excluded> = Vec::new();
    let mut findings = Vec::new();
    for r in log {
        let e = &r.entry;
        if e.action == "setting" {
            match e.comment.as_deref().and_then(|c| c.split_once(" = ")) {
                Some((mf::SETTING, v)) => model_first = v == "on",
                Some((mf::TARGET, v)) => target = v.parse().unwrap_or(target),
                Some((mf::EXCLUDE, v)) => excluded = mf::parse_list(Some(v)).unwrap_or_default(),
                Some(("autocode_confirm", v)) => auto_confirm = v == "on",
                _ => {}
            }
            continue;
        }
        if e.action != "autocode" {
            continue;
        }
        let id = e.external_id.as_deref().map(crate::text::printable).unwrap_or_default();
        let (term, llt) = (e.reported_term.as_deref().unwrap_or_default(), e.llt_code.unwrap_or_default());
        if mf::is_excluded(&excluded, term, llt) {
            findings.push(format!("log row {}: item {id} was autocoded although its term or LLT {llt} was on the do-not-autocode list", r.seq));
        }
        if e.state_to.as_deref() == Some("confirmed") && !auto_confirm {
            findings.push(format!("log row {}: item {id} was auto-confirmed while the log says autocode-confirm was off", r.seq));
        }
        if e.source.as_deref() != Some(mf::SOURCE) {
            continue;
        }
        if !model_first {
            findings.push(format!("log row {}: item {id} was coded model-first while the log says model-first coding was off", r.seq));
        }
        let logged = e.comment.as_deref().and_then(|c| c.split("target ").nth(1)).and_then(|t| t.split('%').next()).and_then(|t| t.parse::<f64>().ok());
        if logged.is_none_or(|t| (t - target).abs() > 0.05) {
            findings.push(format!("log row {}: item {id} was coded model-first at a target the log does not have ({target}%)", r.seq));
        }
    }
    findings
}

pub(crate) fn importer_findings(
    log: &[LoggedEntry],
    synonyms: &[super::synonyms::Synonym],
    confirmed: &HashSet<(String, u32)>,
    qualifiers: &[String],
) -> Vec<String> {
    let importer = logged_imports(log, qualifiers);
    let mut out = Vec::new();
    for y in synonyms.iter().filter(|y| y.hold.is_none()) {
        if confirmed.contains(&(y.term.clone(), y.llt_code)) {
            continue;
        }
        if let Some(by) = importer.get(&(y.study.clone(), y.term.clone(), y.llt_code)) {
            if y.imported_by.as_deref() != Some(*by) {
                out.push(format!(
                    "synonym '{}' (MedDRA {}) -> LLT {}: the log says {by} imported it and no confirmation backs it, the table says {}",
                    y.term,
                    y.meddra_version,
                    y.llt_code,
                    y.imported_by.as_deref().map_or("nobody".to_string(), |b| format!("imported by {b}"))
                ));
            }
        }
    }
    out
}

/// A synonym import's log row, on either store ("synonym-import" here, "synonym import" in a team
/// database).
fn is_synonym_import(action: &str) -> bool {
    action.contains("synonym") && action.contains("import")
}

/// The synonym key of a logged term under the store's qualifier list.
fn key_of(text: &str, qualifiers: &[String]) -> String {
    crate::qualifiers::key(&crate::text::normalize(text), qualifiers)
}

/// Each (list, synonym key, LLT) a logged synonym import gave, with its newest importer.
pub(crate) fn logged_imports<'l>(log: &'l [LoggedEntry], qualifiers: &[String]) -> HashMap<(String, String, u32), &'l str> {
    let mut importer = HashMap::new();
    for r in log.iter().filter(|r| is_synonym_import(&r.entry.action)) {
        if let (Some(t), Some(llt)) = (r.entry.reported_term.as_deref(), r.entry.llt_code) {
            importer.insert((scope_of_log(r.entry.source.as_deref()), key_of(t, qualifiers), llt), r.entry.user.as_str());
        }
    }
    importer
}

/// A logged event of a synonym key: (version or any, a retirement?, list or any).
type RetireEvent = (Option<String>, bool, Option<String>);

/// Active synonyms whose newest logged event is their retirement (no confirmation or import of the
/// term since): a retirement undone behind the log (both stores).
pub(crate) fn retire_findings(log: &[LoggedEntry], synonyms: &[super::synonyms::Synonym], qualifiers: &[String]) -> Vec<String> {
    // term -> (version or any, retired?, list or any) in log order: a confirmation backs every
    // list, an import or a retirement only its own.
    let mut events: HashMap<String, Vec<RetireEvent>> = HashMap::new();
    for r in log {
        let e = &r.entry;
        let retire = e.action.contains("synonym") && e.action.contains("retire");
        let backs = is_synonym_import(&e.action) || e.state_to.as_deref() == Some("confirmed");
        if !(retire || backs) {
            continue;
        }
        // A team database names the retired term in the comment (its reported term may be absent).
        let text = if e.action == "synonym retire" { e.comment.as_deref() } else { e.reported_term.as_deref() };
        let Some(text) = text else { continue };
        let list = (retire || is_synonym_import(&e.action)).then(|| scope_of_log(e.source.as_deref()));
        events.entry(key_of(text, qualifiers)).or_default().push((e.meddra_version.clone(), retire, list));
    }
    let mut out = Vec::new();
    for y in synonyms.iter().filter(|y| y.hold.is_none()) {
        let last = events.get(&y.term).and_then(|ev| {
            ev.iter().rev().find(|(v, _, list)| v.as_deref().is_none_or(|v| v == y.meddra_version) && list.as_deref().is_none_or(|l| l == y.study))
        });
        if last.is_some_and(|(_, retired, _)| *retired) {
            out.push(format!(
                "synonym '{}' ({}, MedDRA {}) autocodes, but the log says it was retired and nothing backed it since",
                y.term,
                y.scope(),
                y.meddra_version
            ));
        }
    }
    out
}

/// Active synonyms the log says still await approval or were declined: under the logged setting
/// synonym_approval = review, a confirmation of a new code for a key makes a candidate on the
/// list it teaches (the logged synonym_scope; `studies` gives each item's study), and only a
/// logged approval (or an admin's import) lets it autocode (both stores).
pub(crate) fn approval_findings(
    log: &[LoggedEntry],
    synonyms: &[super::synonyms::Synonym],
    qualifiers: &[String],
    studies: &HashMap<String, String>,
) -> Vec<String> {
    let (mut review, mut by_study) = (false, false);
    // (list, key, version) -> (the LLT approved, whether a candidate waits or was declined)
    let mut state: HashMap<(String, String, String), (Option<u32>, bool)> = HashMap::new();
    for r in log {
        let e = &r.entry;
        if e.action == "setting" {
            if let Some(v) = e.comment.as_deref().and_then(|c| c.strip_prefix("synonym_approval = ")) {
                review = v == "review";
            }
            if let Some(v) = e.comment.as_deref().and_then(|c| c.strip_prefix("synonym_scope = ")) {
                by_study = v == "study";
            }
            continue;
        }
        let (Some(text), Some(llt), Some(version)) = (e.reported_term.as_deref(), e.llt_code, e.meddra_version.clone()) else { continue };
        let synonym_row = e.action.contains("synonym");
        let list = match (synonym_row, by_study) {
            (true, _) => scope_of_log(e.source.as_deref()),
            (false, true) => e.external_id.as_ref().and_then(|x| studies.get(x)).cloned().unwrap_or_default(),
            (false, false) => String::new(),
        };
        let slot = state.entry((list, key_of(text, qualifiers), version)).or_insert((None, false));
        let approve = synonym_row && e.action.contains("approve");
        let decline = synonym_row && e.action.contains("decline");
        if approve || is_synonym_import(&e.action) {
            *slot = (Some(llt), false);
        } else if decline {
            *slot = (None, true);
        } else if e.state_to.as_deref() == Some("confirmed") && e.action != "autocode" {
            if !review {
                *slot = (Some(llt), false);
            } else if slot.0 != Some(llt) {
                slot.1 = true;
            }
        }
    }
    synonyms
        .iter()
        .filter(|y| y.hold.is_none())
        .filter(|y| state.get(&(y.study.clone(), y.term.clone(), y.meddra_version.clone())).is_some_and(|(_, waiting)| *waiting))
        .map(|y| {
            format!(
                "synonym '{}' ({}, MedDRA {}) -> LLT {} autocodes, but the log shows no approval of it (synonym approval was review)",
                y.term,
                y.scope(),
                y.meddra_version,
                y.llt_code
            )
        })
        .collect()
}

pub fn read_anchors(file: &Path) -> Result<Vec<(usize, Head)>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading the anchor file {}", file.display()))?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut parts = l.splitn(3, ' ');
        let (Some(seq), Some(hash), Some(at)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("{}, line {}: not an anchor (expected: seq hash time)", file.display(), i + 1);
        };
        let Ok(seq) = seq.parse::<i64>() else { bail!("{}, line {}, field seq: '{seq}' is not a number", file.display(), i + 1) };
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!("{}, line {}, field hash: not a SHA-256", file.display(), i + 1);
        }
        out.push((i + 1, Head { seq, hash: hash.to_string(), at: at.to_string() }));
    }
    Ok(out)
}

#[cfg(test)]
mod autocode_tests {
    use super::*;
    use crate::store::log::Entry;

    fn row(seq: i64, e: Entry) -> LoggedEntry {
        LoggedEntry { seq, at: "2026-12-02T00:00:00Z".into(), entry: e, prev_hash: String::new(), hash: String::new() }
    }

    fn setting(seq: i64, kv: &str) -> LoggedEntry {
        row(seq, Entry { action: "setting".into(), comment: Some(kv.into()), ..Default::default() })
    }

    fn autocode(seq: i64, term: &str, llt: u32, source: &str, comment: &str) -> LoggedEntry {
        row(
            seq,
            Entry {
                action: "autocode".into(),
                external_id: Some(format!("I{seq}")),
                reported_term: Some(term.into()),
                llt_code: Some(llt),
                source: Some(source.into()),
                comment: Some(comment.into()),
                ..Default::default()
            },
        )
    }

    const MF: &str =
        "model-first: PT score 0.990 >= validated threshold 0.900 (60/60 right, lower bound 95.6% >= target 95.0%); model run by ann; awaits review";

    #[test]
    fn autocodes_the_logged_settings_did_not_allow_are_found() {
        let log = vec![
            autocode(1, "sore leg", 7, "model-first", MF),
            setting(2, "model_first = on"),
            autocode(3, "sore leg", 7, "model-first", MF),
            setting(4, "model_first_exclude = [\"term:sore leg\", \"llt:9\"]"),
            autocode(5, "Sore  leg!", 7, "model-first", MF),
            autocode(6, "Headache", 9, "rule", "exact LLT name; awaits review"),
            setting(7, "model_first_target = 97.5"),
            autocode(8, "dizzy", 8, "model-first", MF),
            row(9, Entry { state_to: Some("confirmed".into()), ..autocode(9, "nausea", 3, "rule", "exact LLT name; auto-confirmed by team setting").entry }),
            setting(10, "autocode_confirm = on"),
            row(11, Entry { state_to: Some("confirmed".into()), ..autocode(11, "nausea", 3, "rule", "exact LLT name; auto-confirmed by team setting").entry }),
        ];
        let f = autocode_findings(&log);
        let rows: Vec<&str> = f.iter().map(|x| x.split(':').next().unwrap()).collect();
        assert_eq!(rows, ["log row 1", "log row 5", "log row 6", "log row 8", "log row 9"], "{f:#?}");
        assert!(f[4].contains("autocode-confirm was off"));
        assert!(f[0].contains("while the log says model-first coding was off"));
        assert!(f[1].contains("do-not-autocode") && f[2].contains("do-not-autocode"));
        assert!(f[3].contains("target the log does not have (97.5%)"), "{}", f[3]);
    }
}
