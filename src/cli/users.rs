//! `medcoder user ...`: who may act, on either store. Adding users and resetting others'
//! passwords differ by backend (a team's users are the server's login roles: `team user add`).

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

use super::session::Session;
use crate::store::api::{unsupported, Backend};
use crate::store::users::Role;
use crate::store::Store;
use crate::text::printable as p;

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add a user (the first user may be added by anyone; after that an admin must).
    Add {
        name: String,
        /// coder, reviewer or admin.
        #[arg(long)]
        role: String,
        /// The OS login this user acts from (default: the same name; for the first user, your own login).
        #[arg(long)]
        login: Option<String>,
    },
    /// Set your password (or, as an admin, reset another user's); read from the terminal or --password-stdin.
    Passwd { name: Option<String> },
    /// List users, their roles and OS logins.
    List,
    /// Lift the lock on a user's signatures after repeated wrong passwords (admin; logged).
    Unlock { name: String },
}

const TEAM_USERS: &str = "a team's users are the server's login roles: its administrator adds them and sets their passwords with `medcoder --db postgres://... team user add NAME --role ROLE [--set-password]`";

pub fn run(cmd: UserCmd, s: &mut Session) -> Result<ExitCode> {
    match cmd {
        UserCmd::List => {
            for u in s.store()?.users()? {
                println!(
                    "{:<16} {:<9} login {:<12} {} added {}",
                    p(&u.name),
                    u.role,
                    p(&u.login),
                    if u.has_password { "password set" } else { "no password " },
                    u.created_at
                );
            }
        }
        UserCmd::Add { name, role, login } => {
            let mut store = Store::open(s.sqlite("user add", TEAM_USERS)?)?;
            for (what, v) in [("user name", Some(&name)), ("OS login", login.as_ref())] {
                if let Some(c) = v.and_then(|v| crate::text::forbidden_char(v)) {
                    bail!("the {what} contains the control character U+{:04X}", c as u32);
                }
            }
            // The first user is whoever sets medcoder up: bound to their own OS login by default.
            let login = match login {
                Some(l) => Some(l),
                None if store.users()?.is_empty() && !store.is_demo()? => Some(crate::identity::os_login()?),
                None => None,
            };
            store.add_user_with_login(s.user_if_any()?.as_deref(), &name, Role::parse(&role)?, login.as_deref())?;
            let u = store.user(&name)?;
            println!("Added user {} ({role}), OS login {}; set a password with `medcoder user passwd {}`", u.name, u.login, u.name);
        }
        UserCmd::Passwd { name } => match s.backend() {
            Backend::Sqlite => sqlite_passwd(s, name)?,
            Backend::Team => team_passwd(s, name)?,
        },
        UserCmd::Unlock { name } => {
            let mut store = Store::open(s.sqlite("user unlock", "the server's own authentication keeps no medcoder signature lock")?)?;
            let me = s.user()?;
            let failed = store.unlock_signatures(&me, &name)?;
            println!("{} unlocked ({failed} wrong password(s) since their last signature); logged.", p(&name));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One's own password needs the current one (an unlocked terminal must not be enough to take
/// over somebody's signature); an admin resets another user's.
fn sqlite_passwd(s: &mut Session, name: Option<String>) -> Result<()> {
    let me = s.user()?;
    let mut store = Store::open(s.sqlite("user passwd", TEAM_USERS)?)?;
    let target = store.user(name.as_deref().unwrap_or(&me))?.name;
    let passwords = s.passwords();
    if target == me && store.user(&me)?.has_password && !store.is_demo()? {
        let current = passwords.read(&format!("Current password for {me}"))?;
        crate::identity::check_password(&store, &me, &current, "password change")?;
    }
    let pw = passwords.read(&format!("New password for {target}"))?;
    if !passwords.from_stdin() && passwords.read(&format!("New password for {target}, again"))? != pw {
        bail!("the two passwords differ; nothing changed");
    }
    store.set_password(&me, &target, &crate::identity::hash_password(&pw)?)?;
    println!("Password of {target} set.");
    Ok(())
}

/// One's own password on a team database: the current one first, checked by the server; the
/// server then gets only the new SCRAM verifier.
fn team_passwd(s: &mut Session, name: Option<String>) -> Result<()> {
    let me = s.user()?;
    if name.as_deref().is_some_and(|n| n != me) {
        return Err(unsupported(Backend::Team, "user passwd NAME (another user's password)", TEAM_USERS));
    }
    let url = s.team_url("user passwd", "")?.to_string();
    let current = s.passwords().read(&format!("Current password for {me}: "))?;
    s.store()?.check_signature(&me, &current)?;
    let new = s.passwords().read(&format!("New password for {me}: "))?;
    if new.chars().count() < 8 {
        bail!("a password needs at least 8 characters");
    }
    if s.passwords().read("Repeat the new password: ")? != new {
        bail!("the two new passwords differ; nothing was changed");
    }
    crate::store::postgres::TeamStore::open(&url, &mut |_| Ok(current.clone()))?.set_own_password(&new)?;
    println!("Password changed for {me}.");
    Ok(())
}
