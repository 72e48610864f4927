//! Worklists: who codes or reviews what (an item, a term or a study), and each study's due date.
//! A worklist orders and narrows the desk ("my work"); it never replaces the workflow's rules,
//! which still decide who may act. SQLite's side is here; the team's is `assign_work` and
//! `set_due_date` in schema.sql.

use std::fmt;

use anyhow::{bail, Result};
use rusqlite::params;
use serde::Serialize;

use super::item::{ItemSummary, State};
use super::log::{self, Entry};
use super::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Item,
    Term,
    Study,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Item => "item",
            Scope::Term => "term",
            Scope::Study => "study",
        }
    }
    pub fn parse(s: &str) -> Result<Scope> {
        Ok(match s {
            "item" => Scope::Item,
            "term" => Scope::Term,
            "study" => Scope::Study,
            other => bail!("unknown assignment scope '{other}': item, term or study"),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Duty {
    Code,
    Review,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Code => "code",
            Duty::Review => "review",
        }
    }
    pub fn parse(s: &str) -> Result<Duty> {
        Ok(match s {
            "code" => Duty::Code,
            "review" => Duty::Review,
            other => bail!("unknown duty '{other}': code or review"),
        })
    }
    /// What an item in this state waits for, if anything.
    pub fn of(state: State) -> Option<Duty> {
        match state {
            State::New | State::Returned | State::Answered => Some(Duty::Code),
            State::Proposed => Some(Duty::Review),
            State::Query | State::Split | State::Void | State::Confirmed => None,
        }
    }
}

impl fmt::Display for Duty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub scope: Scope,
    /// The item's external id, the normalised term, or the study.
    pub key: String,
    pub duty: Duty,
    pub user: String,
    pub assigned_by: String,
    pub assigned_at: String,
}

/// The key an assignment of `scope` is stored under: terms are normalised (so every spelling of
/// the term is one worklist), the rest trimmed.
pub fn key_of(scope: Scope, key: &str) -> String {
    match scope {
        Scope::Term => crate::text::normalize(key),
        _ => key.trim().to_string(),
    }
}

/// Who the item is assigned to for what it waits for: the item's own assignment, else its term's,
/// else its study's.
pub fn assignee<'a>(list: &'a [Assignment], it: &ItemSummary) -> Option<&'a str> {
    let duty = Duty::of(it.state)?;
    let term = crate::text::normalize(&it.reported_term);
    let find = |scope: Scope, key: &str| list.iter().find(|a| a.duty == duty && a.scope == scope && a.key == key).map(|a| a.user.as_str());
    find(Scope::Item, &it.external_id).or_else(|| find(Scope::Term, &term)).or_else(|| find(Scope::Study, &it.study))
}

/// What the log says of an assignment change ("code of study S to alice", "review of term x: cleared").
pub fn describe(scope: Scope, key: &str, duty: Duty, to: Option<&str>) -> String {
    match to {
        Some(u) => format!("{duty} of {} {key} assigned to {u}", scope.as_str()),
        None => format!("{duty} of {} {key}: assignment cleared", scope.as_str()),
    }
}

/// A due date as the team writes it: YYYY-MM-DD, a real day.
pub fn check_date(d: &str) -> Result<String> {
    let num = |r: std::ops::Range<usize>| d.get(r).filter(|s| s.bytes().all(|b| b.is_ascii_digit())).and_then(|s| s.parse::<u32>().ok());
    let shape = d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-';
    let ok = match (shape, num(0..4), num(5..7), num(8..10)) {
        (true, Some(y @ 1..), Some(m @ 1..=12), Some(day)) => {
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
            (1..=days).contains(&day)
        }
        _ => false,
    };
    if !ok {
        bail!("due date '{d}' is not a date written YYYY-MM-DD");
    }
    Ok(d.to_string())
}

impl Store {
    /// Assigns (or, with `to` None, clears) the duty of an item, term or study (admin), logged.
    pub fn assign(&mut self, acting: &str, scope: Scope, key: &str, duty: Duty, to: Option<&str>) -> Result<()> {
        self.require_admin(acting, "assigns work")?;
        let key = key_of(scope, key);
        if key.is_empty() {
            bail!("the {} to assign is empty", scope.as_str());
        }
        if let Some(c) = crate::text::forbidden_char(&key) {
            bail!("the {} contains the control or format character U+{:04X}", scope.as_str(), c as u32);
        }
        if scope == Scope::Item {
            self.item(&key)?;
        }
        let to = match to {
            Some(u) => {
                let user = self.user(u)?;
                if duty == Duty::Review && !user.role.can_review() {
                    bail!("{} is a {}: only reviewers and admins are assigned review", user.name, user.role);
                }
                Some(user.name)
            }
            None => None,
        };
        let acting = self.user(acting)?.name;
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        match &to {
            Some(u) => tx.execute(
                "INSERT INTO assignment(kind, key, duty, user, assigned_by, assigned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(kind, key, duty) DO UPDATE SET user = excluded.user, assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at",
                params![scope.as_str(), key, duty.as_str(), u, acting, super::now()],
            )?,
            None => {
                let n = tx.execute("DELETE FROM assignment WHERE kind = ?1 AND key = ?2 AND duty = ?3", params![scope.as_str(), key, duty.as_str()])?;
                if n == 0 {
                    bail!("no one is assigned the {duty} of {} {key}", scope.as_str());
                }
                n
            }
        };
        log::append(
            &tx,
            &Entry {
                user: acting,
                action: "assign".into(),
                external_id: (scope == Scope::Item).then(|| key.clone()),
                reported_term: (scope == Scope::Term).then(|| key.clone()),
                comment: Some(describe(scope, &key, duty, to.as_deref())),
                ..Default::default()
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn assignments(&self) -> Result<Vec<Assignment>> {
        let mut st = self.conn.prepare_cached("SELECT kind, key, duty, user, assigned_by, assigned_at FROM assignment ORDER BY kind, key, duty")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?;
        rows.map(|r| {
            let (scope, key, duty, user, assigned_by, assigned_at) = r?;
            Ok(Assignment { scope: Scope::parse(&scope)?, key, duty: Duty::parse(&duty)?, user, assigned_by, assigned_at })
        })
        .collect()
    }

    /// Sets (or clears) a study's due date (admin), logged.
    pub fn set_due_date(&mut self, acting: &str, study: &str, date: Option<&str>) -> Result<()> {
        self.require_admin(acting, "sets due dates")?;
        let date = date.map(check_date).transpose()?;
        let study = study.trim_matches(' ');
        if study.is_empty() {
            bail!("the study is empty");
        }
        if let Some(c) = crate::text::forbidden_char(study) {
            bail!("the study contains the control or format character U+{:04X}", c as u32);
        }
        let acting = self.user(acting)?.name;
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        match &date {
            Some(d) => tx.execute(
                "INSERT INTO study_due(study, due_date, set_by, set_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(study) DO UPDATE SET due_date = excluded.due_date, set_by = excluded.set_by, set_at = excluded.set_at",
                params![study, d, acting, super::now()],
            )?,
            None => tx.execute("DELETE FROM study_due WHERE study = ?1", [study])?,
        };
        let comment = match &date {
            Some(d) => format!("study {study} due {d}"),
            None => format!("study {study}: due date cleared"),
        };
        log::append(&tx, &Entry { user: acting, action: "due-date".into(), comment: Some(comment), ..Default::default() })?;
        tx.commit()?;
        Ok(())
    }

    /// Each study's due date, by study.
    pub fn due_dates(&self) -> Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare_cached("SELECT study, due_date FROM study_due ORDER BY study")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, study: &str, term: &str, state: State) -> ItemSummary {
        ItemSummary {
            id: 1,
            external_id: id.into(),
            study: study.into(),
            subject: "1".into(),
            reported_term: term.into(),
            state,
            llt_code: None,
            proposer: None,
            seriousness: None,
            imported_at: String::new(),
        }
    }

    fn a(scope: Scope, key: &str, duty: Duty, user: &str) -> Assignment {
        Assignment { scope, key: key.into(), duty, user: user.into(), assigned_by: "admin".into(), assigned_at: String::new() }
    }

    #[test]
    fn the_most_specific_assignment_for_the_duty_waiting_wins() {
        let list = vec![
            a(Scope::Study, "S1", Duty::Code, "alice"),
            a(Scope::Term, "dry mouth", Duty::Code, "dave"),
            a(Scope::Item, "AE-2", Duty::Code, "erin"),
            a(Scope::Study, "S1", Duty::Review, "bob"),
        ];
        assert_eq!(assignee(&list, &summary("AE-1", "S1", "nausea", State::New)), Some("alice"));
        assert_eq!(assignee(&list, &summary("AE-1", "S1", "Dry  mouth.", State::Returned)), Some("dave"));
        assert_eq!(assignee(&list, &summary("AE-2", "S1", "dry mouth", State::Answered)), Some("erin"));
        assert_eq!(assignee(&list, &summary("AE-2", "S1", "dry mouth", State::Proposed)), Some("bob"));
        assert_eq!(assignee(&list, &summary("AE-3", "S2", "nausea", State::New)), None);
        assert_eq!(assignee(&list, &summary("AE-1", "S1", "nausea", State::Confirmed)), None, "nothing waits on a confirmed item");
    }

    #[test]
    fn due_dates_are_real_days() {
        assert_eq!(check_date("2026-12-24").unwrap(), "2026-12-24");
        assert_eq!(check_date("2028-02-29").unwrap(), "2028-02-29");
        for bad in [" 2026-12-24", "0000-01-01", "2026-13-01", "24.12.2026", "2026-12-1", "soon", "2026-12-32", "2026-02-29", "2026-+1-01"] {
            assert!(check_date(bad).is_err(), "{bad}");
        }
    }
}
