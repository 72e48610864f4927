//! Users and their roles. Every action is done as a named user.

use std::fmt;

use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};

use super::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Coder,
    Reviewer,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Result<Role> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "coder" => Role::Coder,
            "reviewer" => Role::Reviewer,
            "admin" => Role::Admin,
            other => bail!("unknown role '{other}': use coder, reviewer or admin"),
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Coder => "coder",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
    /// Reviewers and admins confirm and return; everyone may propose.
    pub fn can_review(self) -> bool {
        matches!(self, Role::Reviewer | Role::Admin)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub role: Role,
    pub created_at: String,
}

impl Store {
    /// Adds a user. The first user may be added by anyone (bootstrap); after that only an admin may.
    pub fn add_user(&mut self, acting: Option<&str>, name: &str, role: Role) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            bail!("user name '{name}' must be one word");
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let count: i64 = tx.query_row("SELECT count(*) FROM user", [], |r| r.get(0))?;
        if count > 0 {
            let Some(acting) = acting else { bail!("adding users needs an admin: pass --user <admin> (or set MEDCODER_USER)") };
            let role: Option<String> = tx.query_row("SELECT role FROM user WHERE lower(name) = lower(?1)", [acting], |r| r.get(0)).optional()?;
            match role.as_deref() {
                Some("admin") => {}
                Some(r) => bail!("user {acting} is a {r}; only an admin can add users"),
                None => bail!("unknown user '{acting}'"),
            }
        }
        // Names are case-insensitive: "Bob" is bob (the database's unique index says so too).
        let exists: Option<String> = tx.query_row("SELECT name FROM user WHERE lower(name) = lower(?1)", [name], |r| r.get(0)).optional()?;
        if let Some(existing) = exists {
            bail!("user {existing} already exists (user names are case-insensitive)");
        }
        tx.execute("INSERT INTO user(name, role, created_at) VALUES (?1, ?2, ?3)", params![name, role.as_str(), super::now()])?;
        super::log::append(
            &tx,
            &super::log::Entry {
                user: acting.unwrap_or(name).to_string(),
                action: "user-add".into(),
                comment: Some(format!("{name} as {role}")),
                ..Default::default()
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let mut st = self.conn.prepare("SELECT name, role, created_at FROM user ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        rows.map(|r| {
            let (name, role, created_at) = r?;
            Ok(User { name, role: Role::parse(&role)?, created_at })
        })
        .collect()
    }

    /// The named user (names are case-insensitive; the stored spelling is returned), or a clear
    /// error when there is none.
    pub fn user(&self, name: &str) -> Result<User> {
        match self.users()?.into_iter().find(|u| u.name.to_lowercase() == name.trim().to_lowercase()) {
            Some(u) => Ok(u),
            None if name.is_empty() => bail!("no user given: pass --user <name> or set MEDCODER_USER"),
            None => bail!("unknown user '{name}': see `medcoder user list`"),
        }
    }
}

impl Store {
    /// Refuses unless `acting` is an admin; `what` ends the message ("only an admin {what}").
    pub(crate) fn require_admin(&self, acting: &str, what: &str) -> Result<()> {
        let user = self.user(acting)?;
        if user.role != Role::Admin {
            bail!("{} is a {}; only an admin {what}", user.name, user.role);
        }
        Ok(())
    }

    /// Changes a team setting as an admin, logged like every other action.
    pub fn set_team_setting(&mut self, acting: &str, key: &str, value: &str) -> Result<()> {
        self.require_admin(acting, "changes team settings")?;
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", params![key, value])?;
        super::log::append(
            &tx,
            &super::log::Entry { user: acting.into(), action: "setting".into(), comment: Some(format!("{key} = {value}")), ..Default::default() },
        )?;
        tx.commit()?;
        Ok(())
    }
}
