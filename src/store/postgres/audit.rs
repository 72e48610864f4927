//! `audit verify` on a team database: the tables rebuilt from the logs, the guards, the anchors.

use super::*;

impl TeamStore {
    /// Every difference between the tables and what the logs (the copied one, then this
    /// database's) say they are: items, users' roles and the active MedDRA version. Finds what
    /// whoever administers the server changed in the tables behind the rules.
    pub fn state_findings(&mut self) -> Result<Vec<String>> {
        let mut log: Vec<LoggedEntry> =
            self.client.query(&format!("SELECT {IMPORTED_COLUMNS} FROM medcoder.imported_log ORDER BY seq"), &[])?.iter().map(logged_entry).collect();
        let own = self.log(None)?;
        log.extend(own.iter().map(LogRow::as_logged));
        let table: Vec<ItemState> = self
            .client
            .query("SELECT id, external_id, state, llt_code, pt_code, proposer, reviewer, revision, source, reported_term FROM medcoder.item ORDER BY id", &[])?
            .iter()
            .map(|r| ItemState {
                id: r.get(0),
                external_id: r.get(1),
                state: r.get(2),
                llt: r.get::<_, Option<i32>>(3).map(|c| c as u32),
                pt: r.get::<_, Option<i32>>(4).map(|c| c as u32),
                proposer: r.get(5),
                reviewer: r.get(6),
                revision: r.get(7),
                source: r.get(8),
                reported_term: r.get(9),
            })
            .collect();
        let mut findings = item_findings(&log, &table);
        findings.extend(crate::store::audit::autocode_findings(&log));
        findings.extend(self.dataset_findings(&log)?);
        // Roles: each `team user add` is logged as "user ROLE" naming the user; users a `db copy`
        // brought are checked against the copied log's own user rows by the SQLite audit before
        // the copy.
        let mut logged_roles: std::collections::HashMap<String, String> = Default::default();
        for r in &own {
            if let (Some(role), Some(name)) = (r.action.strip_prefix("user "), &r.comment) {
                logged_roles.insert(name.clone(), role.to_string());
            }
        }
        for u in self.client.query("SELECT name, role, created_by FROM medcoder.app_user ORDER BY name", &[])? {
            let (name, role, by): (String, String, String) = (u.get(0), u.get(1), u.get(2));
            match logged_roles.get(&name) {
                Some(r) if *r != role => findings.push(format!("user {name}: the role is {role}, the log says {r}")),
                None if by != "db copy" => findings.push(format!("user {name} is not in the decision log")),
                _ => {}
            }
        }
        // The auto-confirm setting is what its last logged change says (off when never set).
        let logged_setting = own
            .iter()
            .rev()
            .find_map(|r| r.comment.as_deref().filter(|_| r.action == "setting").and_then(|c| c.strip_prefix("autocode_confirm = ")))
            .unwrap_or("off")
            .to_string();
        let setting = self.setting("autocode_confirm")?.unwrap_or_else(|| "off".into());
        if setting != logged_setting {
            findings.push(format!("the team setting autocode_confirm is {setting}, the log says {logged_setting}"));
        }
        // Every synonym that autocodes must be backed: by a confirmed item of its term and LLT, or by a
        // logged import (held ones code nothing).
        let confirmed: std::collections::HashSet<(String, u32)> = self
            .client
            .query("SELECT syn_key, llt_code FROM medcoder.item WHERE state = 'confirmed' AND llt_code IS NOT NULL", &[])?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1) as u32))
            .collect();
        let qualifiers = crate::qualifiers::from_setting(self.setting(crate::qualifiers::SETTING)?.as_deref())?;
        let imported = crate::store::audit::logged_imports(&log, &qualifiers);
        let all = self.synonyms_where("TRUE ORDER BY meddra_version, term", &[])?;
        for y in all.iter().filter(|y| y.hold.is_none()) {
            if !confirmed.contains(&(y.term.clone(), y.llt_code)) && !imported.contains_key(&(y.study.clone(), y.term.clone(), y.llt_code)) {
                findings.push(format!("synonym '{}' -> {} (MedDRA {}) is backed by no confirmed item or logged import", y.term, y.llt_code, y.meddra_version));
            }
        }
        // Each release's content as logged when it was sealed (or copied in).
        for r in &own {
            let logged = match r.action.as_str() {
                "dict seal" => r.comment.clone(),
                "db copy" => r.comment.as_deref().and_then(|c| c.split_once("; release digest ")).map(|(_, d)| d.to_string()),
                _ => None,
            };
            if let (Some(v), Some(logged)) = (&r.meddra_version, logged) {
                let now: String = self.client.query_one("SELECT medcoder.release_digest($1)", &[v])?.get(0);
                if now != logged {
                    findings.push(format!("MedDRA {v}: the dictionary tables differ from the release as it was loaded (digest {logged})"));
                }
            }
        }
        findings.extend(crate::store::audit::importer_findings(&log, &all, &confirmed, &qualifiers));
        findings.extend(crate::store::audit::retire_findings(&log, &all, &qualifiers));
        let studies: std::collections::HashMap<String, String> =
            self.client.query("SELECT external_id, study FROM medcoder.item", &[])?.iter().map(|r| (r.get(0), r.get(1))).collect();
        findings.extend(crate::store::audit::approval_findings(&log, &all, &qualifiers, &studies));
        // The rules' guards: the log's triggers, and the rule functions members call.
        let triggers: Vec<(String, bool)> = self
            .client
            .query(
                "SELECT tgname, tgenabled <> 'D' FROM pg_trigger WHERE tgrelid IN ('medcoder.decision_log'::regclass, 'medcoder.imported_log'::regclass) AND NOT tgisinternal",
                &[],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        for name in LOG_TRIGGERS {
            match triggers.iter().find(|(n, _)| n == name) {
                None => findings.push(format!("the decision log's trigger {name} is missing: the log can be changed through SQL")),
                Some((_, false)) => findings.push(format!("the decision log's trigger {name} is disabled")),
                Some(_) => {}
            }
        }
        for f in GRANTED {
            let name = f.split('(').next().unwrap_or(f);
            let found: i64 = self
                .client
                .query_one("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'medcoder' AND p.proname = $1 AND p.prosecdef", &[&name])?
                .get(0);
            if found == 0 {
                findings.push(format!("the rule function medcoder.{name} is missing or no longer SECURITY DEFINER"));
            }
        }
        let logged_version = own.iter().rev().find(|r| r.action == "dict use" || r.action == "db copy").and_then(|r| r.meddra_version.clone());
        let version = self.active_version()?;
        if version != logged_version {
            findings.push(format!(
                "the active MedDRA version is {}, the log says {}",
                version.as_deref().unwrap_or("none"),
                logged_version.as_deref().unwrap_or("none")
            ));
        }
        Ok(findings)
    }
}

impl TeamStore {
    /// Every check of `audit verify`: both chains, the tables against the logs, the anchors in
    /// `file` and those `db copy` recorded.
    pub fn audit(&mut self, file: Option<std::path::PathBuf>) -> Result<crate::store::api::AuditReport> {
        let verdict = self.verify_log()?;
        let mut report = crate::store::api::AuditReport::default();
        if let Some(v) = verdict.imported {
            report.chains.push(("Log copied from SQLite", v));
        }
        report.chains.push(("Decision log", verdict.own));
        report.findings = self.state_findings()?;
        if let Some(f) = file {
            let n = crate::store::audit::read_anchors(&f)?.len();
            report.anchor_mismatches = self.check_anchors(&f)?;
            report.anchors = Some((f, n));
        }
        report.anchor_mismatches.extend(self.check_copied_anchors()?);
        Ok(report)
    }

    /// Each anchored head (seq, hash) that this database's log no longer holds: a rewrite or
    /// truncation of the team log after it was anchored, even when the rewritten chain is
    /// consistent.
    /// A head anchored from the SQLite store a `db copy` brought (its anchor file) is checked
    /// against the copied log: an anchor matches when either log holds that row with that hash.
    pub fn check_anchors(&mut self, file: &std::path::Path) -> Result<Vec<String>> {
        let heads = crate::store::audit::read_anchors(file)?;
        self.anchor_mismatches(&file.display().to_string(), heads)
    }

    /// The anchors `db copy` recorded from the copied store, checked against the copied log.
    pub fn check_copied_anchors(&mut self) -> Result<Vec<String>> {
        let heads = self
            .client
            .query("SELECT line, seq, hash, at FROM medcoder.copied_anchor ORDER BY line", &[])?
            .iter()
            .map(|r| (r.get::<_, i64>(0) as usize, crate::store::audit::Head { seq: r.get(1), hash: r.get(2), at: r.get(3) }))
            .collect();
        self.anchor_mismatches("the copied store's anchors", heads)
    }

    fn anchor_mismatches(&mut self, source: &str, heads: Vec<(usize, crate::store::audit::Head)>) -> Result<Vec<String>> {
        let mut bad = Vec::new();
        for (line, head) in heads {
            let own = self.client.query_opt("SELECT hash FROM medcoder.decision_log WHERE seq = $1", &[&head.seq])?.map(|r| r.get::<_, String>(0));
            let copied = self.client.query_opt("SELECT hash FROM medcoder.imported_log WHERE seq = $1", &[&head.seq])?.map(|r| r.get::<_, String>(0));
            if own.as_deref() == Some(head.hash.as_str()) || copied.as_deref() == Some(head.hash.as_str()) {
                continue;
            }
            bad.push(match (own, copied) {
                (None, None) => format!("{source}, line {line}: row {} anchored at {} is in neither this database's log nor the copied one", head.seq, head.at),
                _ => format!(
                    "{source}, line {line}: row {} has another hash than when it was anchored at {} (in this database's log and in the copied one)",
                    head.seq, head.at
                ),
            });
        }
        Ok(bad)
    }
}
