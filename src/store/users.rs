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
    /// The OS login this user acts from without a password.
    pub login: String,
    pub has_password: bool,
}

/// A short digest of a stored password hash (what the log records of it).
pub fn password_fingerprint(hash: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(hash.as_bytes())[..8])
}

/// The setting that marks a demo database (set once, at creation).
const DEMO: &str = "demo_mode";

impl Store {
    /// Adds a user bound to the OS login of the same name (see `add_user_with_login`).
    pub fn add_user(&mut self, acting: Option<&str>, name: &str, role: Role) -> Result<()> {
        self.add_user_with_login(acting, name, role, None)
    }

    /// Adds a user bound to `login` (default: the same name). The first user may be added by anyone
    /// (bootstrap); after that only an admin may.
    pub fn add_user_with_login(&mut self, acting: Option<&str>, name: &str, role: Role, login: Option<&str>) -> Result<()> {
        // Names are case-insensitive, so "Bob" is stored as bob; then the one rule of both stores.
        let folded = name.trim().to_ascii_lowercase();
        let name = folded.as_str();
        let login = login.map(str::trim).unwrap_or(name);
        if login.is_empty() || login.contains([':', ' ', '\n']) || crate::text::forbidden_char(login).is_some() {
            bail!("'{}' is not an OS login name", crate::text::printable(login));
        }
        crate::identity::check_name("user name", name)?;
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let count: i64 = tx.query_row("SELECT count(*) FROM user", [], |r| r.get(0))?;
        if count > 0 {
            let Some(acting) = acting else { bail!("adding users needs an admin: pass --user <admin> (or set MEDCODER_USER)") };
            let role: Option<String> = tx.query_row("SELECT role FROM user WHERE lower(name) = lower(?1)", [acting], |r| r.get(0)).optional()?;
            match role.as_deref() {
                Some("admin") => {}
                Some(r) => bail!("user {acting} is a {r}; only an admin can add users"),
                None => bail!("unknown user '{}'", crate::text::printable(acting)),
            }
        }
        let names: Vec<String> = tx.prepare("SELECT name FROM user")?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        crate::identity::check_look_alike(name, names.iter().map(String::as_str))?;
        // Names are case-insensitive: "Bob" is bob (the database's unique index says so too).
        let exists: Option<String> = tx.query_row("SELECT name FROM user WHERE lower(name) = lower(?1)", [name], |r| r.get(0)).optional()?;
        if let Some(existing) = exists {
            bail!("user {existing} already exists (user names are case-insensitive)");
        }
        let taken: Option<String> = tx.query_row("SELECT name FROM user WHERE lower(login) = lower(?1)", [login], |r| r.get(0)).optional()?;
        if let Some(other) = taken {
            bail!("the OS login {login} is already bound to user {other}");
        }
        tx.execute("INSERT INTO user(name, role, created_at, login) VALUES (?1, ?2, ?3, ?4)", params![name, role.as_str(), super::now(), login])?;
        super::log::append(
            &tx,
            &super::log::Entry {
                user: acting.unwrap_or(name).to_string(),
                action: "user-add".into(),
                comment: Some(format!("{name} as {role} (login {login})")),
                ..Default::default()
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn users(&self) -> Result<Vec<User>> {
        let mut st = self.conn.prepare("SELECT name, role, created_at, COALESCE(login, name), password_hash IS NOT NULL FROM user ORDER BY name")?;
        let rows =
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, bool>(4)?)))?;
        rows.map(|r| {
            let (name, role, created_at, login, has_password) = r?;
            Ok(User { name, role: Role::parse(&role)?, created_at, login, has_password })
        })
        .collect()
    }

    /// The named user (names are case-insensitive; the stored spelling is returned), or a clear
    /// error when there is none.
    pub fn user(&self, name: &str) -> Result<User> {
        match self.users()?.into_iter().find(|u| u.name.to_lowercase() == name.trim().to_lowercase()) {
            Some(u) => Ok(u),
            None if name.is_empty() => bail!("no user given: pass --user <name> or set MEDCODER_USER"),
            None => bail!("unknown user '{}': see `medcoder user list`", crate::text::printable(name)),
        }
    }
}

impl Store {
    /// The user bound to an OS login, if any.
    pub fn user_by_login(&self, login: &str) -> Result<Option<User>> {
        Ok(self.users()?.into_iter().find(|u| u.login.to_lowercase() == login.to_lowercase()))
    }

    /// The stored argon2id hash of a user's password, if one is set.
    pub fn password_hash(&self, name: &str) -> Result<Option<String>> {
        let name = self.user(name)?.name;
        Ok(self.conn.query_row("SELECT password_hash FROM user WHERE name = ?1", [name], |r| r.get(0))?)
    }

    /// Sets `name`'s password hash: the user themself, or an admin (a reset, logged as such).
    pub fn set_password(&mut self, acting: &str, name: &str, hash: &str) -> Result<()> {
        let target = self.user(name)?.name;
        let me = self.user(acting)?;
        if me.name != target && me.role != Role::Admin {
            bail!("{} is a {}; only an admin sets another user's password", me.name, me.role);
        }
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("UPDATE user SET password_hash = ?1 WHERE name = ?2", params![hash, target])?;
        let what = if me.name == target { "set their password".to_string() } else { format!("reset the password of {target}") };
        // The hash's fingerprint, so that `audit verify` notices a hash written behind medcoder's back.
        let what = format!("{what} (fingerprint {})", password_fingerprint(hash));
        super::log::append(&tx, &super::log::Entry { user: me.name.clone(), action: "user-passwd".into(), comment: Some(what), ..Default::default() })?;
        tx.commit()?;
        Ok(())
    }

    /// Whether this is a demo database (users picked from a list, no passwords).
    pub fn is_demo(&self) -> Result<bool> {
        Ok(self.setting(DEMO)?.as_deref() == Some("on"))
    }

    /// Marks a new database as a demo. Refused once anything was logged: a real database can
    /// never be switched into demo mode.
    pub fn mark_demo(&mut self) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows: i64 = tx.query_row("SELECT count(*) FROM decision_log", [], |r| r.get(0))?;
        if rows > 0 {
            bail!("this database already has a history: only a new database can be a demo");
        }
        tx.execute("INSERT INTO setting(key, value) VALUES (?1, 'on')", [DEMO])?;
        super::log::append(
            &tx,
            &super::log::Entry {
                user: "medcoder".into(),
                action: "demo-mode".into(),
                comment: Some("demo database: users are picked, not signed in".into()),
                ..Default::default()
            },
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Store {
    /// Who may change what every coder works with (the dictionary): an admin, or anyone before the
    /// first user exists (setting up) and in a demo database. Returns the name to log.
    pub(crate) fn require_admin_or_setup(&self, acting: Option<&str>, what: &str) -> Result<String> {
        if self.users()?.is_empty() || self.is_demo()? {
            return Ok(acting.unwrap_or("medcoder").to_string());
        }
        let Some(acting) = acting else { bail!("only an admin {what}: act as an admin (--user NAME)") };
        self.require_admin(acting, what)?;
        Ok(self.user(acting)?.name)
    }

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
        super::model_first::check_setting(key, value)?;
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

/// What a counted password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    Right,
    /// Wrong; how many more are allowed before the lock (None: not counted, read-only store).
    Wrong {
        left: Option<i64>,
    },
    NoPassword,
    Locked(i64),
}

/// Consecutive wrong passwords after which a user's signatures are locked until an admin unlocks
/// them (`user unlock NAME`) or resets the password.
pub const MAX_FAILED_SIGNATURES: i64 = 5;

impl Store {
    /// Wrong passwords given for `name` since their last signature, unlock or password change.
    pub fn failed_signatures(&self, name: &str) -> Result<i64> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM decision_log WHERE action = 'signature-refused' AND user = ?1 AND seq > coalesce((SELECT max(seq) FROM decision_log
               WHERE (action = 'signature-unlock' AND comment = 'unlocked ' || ?1)
                  OR (action = 'user-passwd' AND (user = ?1 OR substr(comment, 1, length('reset the password of ' || ?1 || ' (')) = 'reset the password of ' || ?1 || ' ('))
                  OR (action IN ('confirm', 'return') AND user = ?1)), 0)",
            [name],
            |r| r.get(0),
        )?)
    }

    /// Checks `name`'s password with `matches` under the database's write lock, so that parallel
    /// guesses are counted one after another: refused without a check once `MAX_FAILED_SIGNATURES`
    /// wrong ones are logged in a row, and a wrong one is logged (with the OS login and `what` it
    /// was for) before the answer. A store that cannot be written (read-only) checks without
    /// counting: it cannot sign anything either.
    pub fn check_password_counted(&self, name: &str, what: &str, matches: impl FnOnce(&str) -> bool) -> Result<PasswordCheck> {
        let writable = self.read_only_reason().is_none();
        // A store that can be written but whose lock cannot be had now is not checked at all: an
        // uncounted check is what a guesser holding the lock would want.
        let behavior = if writable { rusqlite::TransactionBehavior::Immediate } else { rusqlite::TransactionBehavior::Deferred };
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, behavior)
            .map_err(|e| anyhow::anyhow!("the database is busy (another command holds its write lock): the password was not checked; try again ({e})"))?;
        let failed = self.failed_signatures(name)?;
        if writable && failed >= MAX_FAILED_SIGNATURES {
            return Ok(PasswordCheck::Locked(failed));
        }
        let Some(hash) = self.password_hash(name)? else { return Ok(PasswordCheck::NoPassword) };
        if matches(&hash) {
            return Ok(PasswordCheck::Right);
        }
        if !writable {
            return Ok(PasswordCheck::Wrong { left: None });
        }
        let login = crate::identity::os_login().unwrap_or_else(|_| "?".into());
        super::log::append(
            &tx,
            &super::log::Entry {
                user: name.into(),
                action: "signature-refused".into(),
                comment: Some(format!("{what}: wrong password, from OS login {login}")),
                ..Default::default()
            },
        )?;
        tx.commit().map_err(|e| anyhow::anyhow!("logging a wrong password: {e}"))?;
        Ok(PasswordCheck::Wrong { left: Some(MAX_FAILED_SIGNATURES - failed - 1) })
    }

    /// Lifts a signature lock (admin, logged).
    pub fn unlock_signatures(&mut self, acting: &str, name: &str) -> Result<i64> {
        self.require_admin(acting, "unlocks users")?;
        let target = self.user(name)?.name;
        let failed = self.failed_signatures(&target)?;
        let admin = self.user(acting)?.name;
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        super::log::append(
            &tx,
            &super::log::Entry { user: admin, action: "signature-unlock".into(), comment: Some(format!("unlocked {target}")), ..Default::default() },
        )?;
        tx.commit()?;
        Ok(failed)
    }
}
