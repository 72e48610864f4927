//! The store `--db` names and who acts on it, for every command: on SQLite the user bound to the
//! OS login or named with their password (identity.rs), on a team database the connection's own
//! role (the server authenticates it and its rules check every decision). Commands then run on
//! `store()`, the one store API, and never ask which backend is behind it; the few that only one
//! backend has go through `sqlite()` or `team_url()`, which say so otherwise.

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::{Cli, Command};
use crate::identity::Passwords;
use crate::model::precision::Precision;
use crate::store::api::{unsupported, Backend, DeskStore};
use crate::store::postgres::{TeamDesk, TeamStore};
use crate::store::target::Target;
use crate::store::{ProposalStore, Store};

pub struct Session {
    target: Target,
    /// The acting user: on SQLite None when no user is bound to this OS login (reading commands
    /// still run); on a team database the connection's role, known once connected.
    user: Option<String>,
    passwords: Passwords,
    store: Option<Box<dyn DeskStore>>,
}

impl Session {
    /// Opens the store and resolves the acting user. On SQLite the store is opened (created when
    /// new) before anything else and the command then acts on this very connection (store::pin):
    /// the identity checked is the identity of the file acted on. Confirming and returning are
    /// electronic signatures: the signer's own password, every time.
    pub fn open(cli: &Cli, target: Target) -> Result<Session> {
        let mut passwords = Passwords::new(cli.password_stdin);
        match &target {
            Target::Postgres(_) => {
                if cli.user.is_some() {
                    bail!(
                        "in team mode you act as the database role you connect as (the URL's user, else your OS login); --user and MEDCODER_USER are not used"
                    );
                }
                Ok(Session { target, user: None, passwords, store: None })
            }
            Target::Sqlite(path) => {
                let opened_before = crate::store::pin::open_files();
                let store = Store::open(path)?;
                let user = crate::identity::resolve(&store, cli.user.as_deref(), &mut passwords)?;
                if store.is_demo()? {
                    eprintln!("DEMO database: users are picked from a list and sign nothing. Never use it for real coding.");
                }
                if let (Some(u), Some(command)) = (&user, &cli.command) {
                    if signs(command) {
                        crate::identity::sign(&store, u, &mut passwords)?;
                    }
                }
                store.adopt(&opened_before)?;
                Ok(Session { target, user, passwords, store: None })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self.target {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Team,
        }
    }

    /// The store, through the one API (a team database is connected on first use).
    pub fn store(&mut self) -> Result<&mut dyn DeskStore> {
        if self.store.is_none() {
            let store: Box<dyn DeskStore> = match &self.target {
                Target::Sqlite(path) => Box::new(Store::open(path)?),
                Target::Postgres(url) => {
                    let passwords = &mut self.passwords;
                    let desk = TeamDesk::connect(url, &mut |prompt| passwords.read(prompt))?;
                    self.user = Some(desk.user_name());
                    Box::new(desk)
                }
            };
            self.store = Some(store);
        }
        Ok(self.store.as_deref_mut().expect("opened above"))
    }

    /// The acting user's name, for a command that is done as somebody.
    pub fn user(&mut self) -> Result<String> {
        self.user_if_any()?.filter(|u| !u.is_empty()).context(
            "this action is done as a user, and no medcoder user is bound to your OS login: pass --user NAME (it asks for NAME's password), or ask an admin to bind your login (`user add NAME --login LOGIN`)",
        )
    }

    /// The acting user when there is one (SQLite: bound to the OS login or named).
    pub fn user_if_any(&mut self) -> Result<Option<String>> {
        if self.backend() == Backend::Team {
            self.store()?;
        }
        Ok(self.user.clone())
    }

    pub fn passwords(&mut self) -> &mut Passwords {
        &mut self.passwords
    }

    /// The SQLite file, for what only a single-user store has.
    pub fn sqlite(&self, what: &str, instead: &str) -> Result<&Path> {
        match &self.target {
            Target::Sqlite(path) => Ok(path),
            Target::Postgres(_) => Err(unsupported(Backend::Team, what, instead)),
        }
    }

    /// The team database's URL, for what only a team database has.
    pub fn team_url(&self, what: &str, instead: &str) -> Result<&str> {
        match &self.target {
            Target::Postgres(url) => Ok(url),
            Target::Sqlite(_) => Err(unsupported(Backend::Sqlite, what, instead)),
        }
    }

    /// The store as the engine, training and the proposal service use it. On a team database
    /// this connection may be the proposal service's role, which has no coding desk.
    pub fn proposal_store(&mut self) -> Result<Box<dyn ProposalStore>> {
        let passwords = &mut self.passwords;
        let mut store = open_proposals(&self.target, &mut |prompt| passwords.read(prompt))?;
        store.run_as(self.user.as_deref());
        Ok(store)
    }

    /// Opens the store again for each round of a long-running service: a team database is
    /// reconnected after a restart, with the password asked once.
    pub fn proposal_opener(&mut self) -> impl Fn() -> Result<Box<dyn ProposalStore>> + '_ {
        let cached = std::cell::RefCell::new(None::<String>);
        let target = self.target.clone();
        let user = self.user.clone();
        let passwords = std::cell::RefCell::new(&mut self.passwords);
        move || -> Result<Box<dyn ProposalStore>> {
            let mut once = |prompt: &str| -> Result<String> {
                if let Some(pw) = cached.borrow().clone() {
                    return Ok(pw);
                }
                let pw = passwords.borrow_mut().read(prompt)?;
                *cached.borrow_mut() = Some(pw.clone());
                Ok(pw)
            };
            let mut store = open_proposals(&target, &mut once)?;
            store.run_as(user.as_deref());
            Ok(store)
        }
    }

    /// The coding desk on this store.
    pub fn run_desk(&mut self, precision: Precision, no_model: bool) -> Result<()> {
        match &self.target {
            Target::Sqlite(path) => crate::tui::run(path, self.user.as_deref(), None, precision, no_model),
            Target::Postgres(url) => {
                let passwords = &mut self.passwords;
                crate::tui::run_team(url, &mut |prompt| passwords.read(prompt), None, precision, no_model)
            }
        }
    }
}

/// The store as the engine uses it; a team database may be opened as the proposal service's role.
fn open_proposals(target: &Target, ask: &mut dyn FnMut(&str) -> Result<String>) -> Result<Box<dyn ProposalStore>> {
    Ok(match target {
        Target::Sqlite(path) => Box::new(Store::open(path)?),
        Target::Postgres(url) => Box::new(TeamStore::open(url, ask)?),
    })
}

/// The commands that are a signature (the password is asked even for the OS login's own user):
/// confirming, returning, and deciding a synonym candidate. A bulk listing without --yes changes
/// nothing and signs nothing.
fn signs(command: &Command) -> bool {
    use super::synonym::SynonymCmd;
    match command {
        Command::Confirm { .. } | Command::Return { .. } | Command::ConfirmGroup { .. } => true,
        Command::ConfirmBulk(args) => args.yes,
        Command::Synonym(SynonymCmd::Approve { .. } | SynonymCmd::Decline { .. }) => true,
        _ => false,
    }
}
