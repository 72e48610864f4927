//! Synonym governance on SQLite (issue #24): candidates approved or declined by a second pair of
//! eyes, and the admin's qualifier list that makes the synonym key. A team database runs the same
//! rules in `medcoder.decide_synonym` and `medcoder.set_synonym_qualifiers` (schema.sql).

use anyhow::{bail, Context, Result};
use rusqlite::{params, TransactionBehavior};

use super::log::{self, Entry};
use super::synonyms::{get, key_of, log_scope, scope_name, Synonym};
use super::users::Role;
use super::Store;
use crate::meddra::Dictionary;
use crate::text::{normalize, printable};

/// What a change of the qualifier list did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Items whose synonym key changed.
    pub items: usize,
    /// Synonyms moved to a new key.
    pub synonyms: usize,
    /// Synonyms dropped because a newer one of the same version now has their key.
    pub merged: usize,
}

impl Store {
    /// Approves (`why` None) or declines a pending synonym candidate of one list (`study`, "" for
    /// the global one). Only a reviewer or an admin decides, and never one who proposed or
    /// confirmed a code behind it (four-eye rule). Approving lets it autocode at once; both are
    /// logged.
    pub fn decide_synonym(&mut self, acting: &str, dict: &Dictionary, study: &str, term: &str, why: Option<&str>) -> Result<Synonym> {
        let user = self.user(acting)?;
        let verb = if why.is_some() { "declines" } else { "approves" };
        if !matches!(user.role, Role::Reviewer | Role::Admin) {
            bail!("{} is a {}; only a reviewer or an admin {verb} synonym candidates", user.name, user.role);
        }
        if let Some(w) = why {
            if w.trim().is_empty() {
                bail!("say why the candidate is declined (it is logged)");
            }
            if let Some(c) = crate::text::forbidden_char(w) {
                bail!("the reason contains the control or format character U+{:04X}", c as u32);
            }
            if w.chars().count() > crate::intake::queue::MAX_FIELD_CHARS {
                bail!("the reason has more than {} characters", crate::intake::queue::MAX_FIELD_CHARS);
            }
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = key_of(&tx, &normalize(term))?;
        let Some(s) = get(&tx, study, &key, &dict.version)? else {
            bail!("no synonym '{}' on the {} list in MedDRA {}: see `medcoder synonym list --candidates`", printable(&key), scope_name(study), dict.version)
        };
        if s.approval != "pending" {
            bail!("the synonym '{}' is not a candidate awaiting approval ({})", printable(&key), printable(&s.provenance()));
        }
        // Who chose this code for this key is read from the log, not from the items: an item
        // recoded or corrected since still had its code chosen by them.
        let own: Option<String> = tx
            .query_row(
                "SELECT coalesce(external_id, '-') FROM decision_log WHERE user = ?4 AND action IN ('propose', 'recode', 'confirm') AND llt_code = ?3
                   AND meddra_version = ?2 AND synonym_key(normalize(reported_term), (SELECT value FROM setting WHERE key = 'synonym_qualifiers')) = ?1 LIMIT 1",
                params![key, dict.version, s.llt_code, user.name],
                |r| r.get(0),
            )
            .ok();
        if let Some(id) = own {
            bail!("four-eye rule: you proposed or confirmed a code behind the candidate '{}' ({id}), so another reviewer or admin {verb} it", printable(&key));
        }
        let backing: i64 = tx.query_row(
            "SELECT count(*) FROM item WHERE syn_key = ?1 AND meddra_version = ?2 AND llt_code = ?3 AND state = 'confirmed' AND (?4 = '' OR study = ?4)",
            params![key, dict.version, s.llt_code, study],
            |r| r.get(0),
        )?;
        if why.is_none() && backing == 0 {
            bail!("no confirmed item backs the candidate '{}' any more (recoded or corrected since): it cannot be approved; a new confirmation makes it a candidate again", printable(&key));
        }
        let (approval, hold) = match why {
            None => ("approved", None),
            Some(w) => ("declined", Some(format!("declined by {}: {}", user.name, w.trim()))),
        };
        let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) + 1 FROM synonym", [], |r| r.get(0))?;
        tx.execute(
            "UPDATE synonym SET approval = ?1, hold = ?2, decided_by = ?3, updated_at = ?4, updated_by = ?3, seq = ?5 WHERE study = ?8 AND term = ?6 AND meddra_version = ?7",
            params![approval, hold, user.name, super::now(), seq, key, dict.version, study],
        )?;
        log::append(
            &tx,
            &Entry {
                user: user.name.clone(),
                action: if why.is_some() { "synonym-decline" } else { "synonym-approve" }.into(),
                reported_term: Some(key.clone()),
                llt_code: Some(s.llt_code),
                llt_name: dict.llt(s.llt_code).map(|l| l.name.clone()),
                meddra_version: Some(dict.version.clone()),
                source: log_scope(study),
                comment: why.map(|w| w.trim().to_string()),
                ..Default::default()
            },
        )?;
        if why.is_none() {
            super::workflow::autocode_open_items(&tx, &user.name, dict, &key)?;
        }
        let out = get(&tx, study, &key, &dict.version)?.context("the synonym just decided")?;
        tx.commit()?;
        Ok(out)
    }

    /// Sets the qualifier list the synonym key drops (admin; logged as a setting). Every item's key
    /// is recomputed, and every synonym moves to its key under the new list; where two synonyms of
    /// a version now share a key, the newest change stays.
    pub fn set_synonym_qualifiers(&mut self, acting: &str, list: &[String]) -> Result<Rekeyed> {
        self.require_admin(acting, "changes the synonym qualifiers")?;
        let value = qualifier_setting(list)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![crate::qualifiers::SETTING, value],
        )?;
        let mut out = Rekeyed {
            items: tx.execute("UPDATE item SET syn_key = synonym_key(term_key, ?1) WHERE syn_key IS NOT synonym_key(term_key, ?1)", [&value])?,
            ..Default::default()
        };
        let rows: Vec<(String, String, i64, String, u32, String)> = {
            // From the term each synonym was made of (a confirmed item's verbatim, an imported
            // row's term), not its old key: a qualifier taken off the list comes back.
            let mut st = tx.prepare(
                "SELECT term, meddra_version, seq, synonym_key(coalesce(normalize(reported_term), term), ?1), llt_code, study FROM synonym ORDER BY seq DESC",
            )?;
            let rows = st.query_map([&value], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        // Keys are merged within one list of one version, never across lists.
        let mut kept: std::collections::HashMap<(String, String, String), (String, u32)> = std::collections::HashMap::new();
        let mut moves = Vec::new();
        let mut clashes = Vec::new();
        for (term, version, seq, key, llt, study) in rows {
            if let Some((first, first_llt)) = kept.get(&(study.clone(), version.clone(), key.clone())) {
                // Two synonyms that agree are one; two that code differently are never merged
                // silently (the older one's code would be lost): the admin resolves them first.
                if *first_llt != llt {
                    clashes.push(format!(
                        "'{}' (LLT {first_llt}) and '{}' (LLT {llt}) would share the key '{key}' on the {} list in MedDRA {version}",
                        printable(first),
                        printable(&term),
                        scope_name(&study)
                    ));
                }
                tx.execute("DELETE FROM synonym WHERE seq = ?1", [seq])?;
                out.merged += 1;
                continue;
            }
            kept.insert((study, version, key.clone()), (term.clone(), llt));
            if key != term {
                // Out of the way first: a key another row still holds is freed before it is taken.
                tx.execute("UPDATE synonym SET term = '#' || seq WHERE seq = ?1", [seq])?;
                moves.push((seq, key));
            }
        }
        if !clashes.is_empty() {
            bail!("the qualifier list was not changed: {}; retire one of each (`synonym retire`) or recode, then change the list", clashes.join("; "));
        }
        for (seq, key) in &moves {
            tx.execute("UPDATE synonym SET term = ?1 WHERE seq = ?2", params![key, seq])?;
        }
        out.synonyms = moves.len();
        // A key whose synonym was merged away under an earlier list is made again from its
        // confirmed items (under review: as a candidate).
        // Each on the list its items teach (synonym_scope), as medcoder.set_synonym_qualifiers.
        let by_study = super::setting_in(&tx, super::synonyms::SCOPE)?.as_deref() == Some("study");
        let orphans: Vec<(String, String, String)> = {
            let mut st = tx.prepare(
                "SELECT DISTINCT CASE WHEN ?1 THEN study ELSE '' END AS scope, syn_key, meddra_version FROM item i
                 WHERE state = 'confirmed' AND syn_key <> '' AND meddra_version IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM synonym s WHERE s.study = CASE WHEN ?1 THEN i.study ELSE '' END AND s.term = i.syn_key
                     AND s.meddra_version = i.meddra_version)
                 ORDER BY syn_key, scope",
            )?;
            let rows = st.query_map([by_study], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        for (scope, key, version) in &orphans {
            super::synonyms::revise(&tx, scope, key, version, acting, true, "no confirmed item left")?;
        }
        log::append(
            &tx,
            &Entry { user: acting.into(), action: "setting".into(), comment: Some(format!("{} = {value}", crate::qualifiers::SETTING)), ..Default::default() },
        )?;
        tx.commit()?;
        Ok(out)
    }
}

/// The setting's value for a list of phrases: each made canonical, duplicates dropped.
pub fn qualifier_setting(list: &[String]) -> Result<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for q in list {
        let c = crate::qualifiers::canonical(q)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(serde_json::to_string(&out)?)
}
