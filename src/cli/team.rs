//! What only a team database has on the command line: setting it up (`team init`, `team
//! upgrade`, `team user add`) and `db copy` from a SQLite store. Every workflow command runs on
//! it through the one store API like on SQLite; the database checks every rule (store/postgres).

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use crate::store::postgres;

#[derive(Subcommand, Debug)]
pub enum TeamCmd {
    /// Create the team database named by --db (postgres://...), its roles, schema and grants. Run it as
    /// the server's administrator (e.g. `sudo -u postgres medcoder --db postgresql:///coding team init`).
    Init,
    /// Bring a team database made by an older medcoder to this one's schema (the rules are replaced
    /// in place; data untouched). Run it as the server's administrator, once.
    Upgrade,
    /// Team users (login roles of the database server).
    #[command(subcommand)]
    User(TeamUserCmd),
}

#[derive(Subcommand, Debug)]
pub enum TeamUserCmd {
    /// Add a user, or change their role: a login role NAME with medcoder role coder, reviewer or admin.
    /// Without --set-password NAME signs in by peer authentication only (the OS login NAME on the
    /// server's machine); with it, also by password over TCP (remote desks).
    Add {
        name: String,
        #[arg(long)]
        role: String,
        /// Ask for NAME's password (terminal, or one line of standard input with --password-stdin).
        #[arg(long)]
        set_password: bool,
    },
}

/// `team init`, `team upgrade`, `team user add`: run as the server's administrator.
pub fn run(cmd: TeamCmd, url: &str, password_stdin: bool) -> Result<ExitCode> {
    let mut passwords = crate::identity::Passwords::new(password_stdin);
    let mut ask = |prompt: &str| passwords.read(prompt);
    let db = database_of(url)?;
    match cmd {
        TeamCmd::Init => {
            let mut admin = postgres::connect(&maintenance_url(url), &mut ask)?;
            postgres::create_database(&mut admin, &db)?;
            drop(admin);
            let mut client = postgres::connect(url, &mut ask)?;
            postgres::init(&mut client, &db)?;
            println!("Team database {db} is ready. Add users with `medcoder --db {} team user add NAME --role coder|reviewer|admin`.", postgres::redact(url));
        }
        TeamCmd::Upgrade => {
            let mut client = postgres::connect(url, &mut ask)?;
            println!("{}", postgres::upgrade(&mut client, &db)?);
        }
        TeamCmd::User(TeamUserCmd::Add { name, role, set_password }) => {
            let mut client = postgres::connect(url, &mut ask)?;
            let password = if set_password {
                let pw = ask(&format!("New password for {name}: "))?;
                if pw.chars().count() < 8 {
                    bail!("a password needs at least 8 characters");
                }
                Some(pw)
            } else {
                None
            };
            postgres::add_user(&mut client, &db, &name, &role, password.as_deref())?;
            println!("{name} is now {} {role} of team database {db}.", if role == "admin" { "an" } else { "a" });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `medcoder db copy --from sqlite:FILE --to postgres://...`, as the server's administrator.
pub fn copy(from: &str, to: &str, password_stdin: bool) -> Result<ExitCode> {
    let path = crate::store::target::Target::sqlite_source(from)?;
    let file = path.to_str().unwrap_or(from);
    if !matches!(crate::store::target::Target::parse(std::path::Path::new(to))?, crate::store::target::Target::Postgres(_)) {
        bail!("--to must be a team database: postgres://... (made by `team init`)");
    }
    if !std::path::Path::new(file).exists() {
        bail!("{file}: no such SQLite database");
    }
    let store = crate::store::Store::open(std::path::Path::new(file))?;
    // A demo database lets anyone act as anyone: its log is nobody's signature.
    if store.is_demo()? {
        bail!("{file} is a demo database (users picked from a list, nothing signed): it cannot become a team's store");
    }
    let mut passwords = crate::identity::Passwords::new(password_stdin);
    let mut client = postgres::connect(to, &mut |prompt| passwords.read(prompt))?;
    let db = database_of(to)?;
    let r = postgres::copy_from_sqlite(&mut client, &db, &store, file)?;
    println!(
        "Copied {file} into team database {db}: {} users, {} items, {} log rows (chain verified before and after), {} synonyms, {} LLTs of MedDRA {}.",
        r.users,
        r.items,
        r.log_rows,
        r.synonyms,
        r.llts,
        r.version.as_deref().unwrap_or("(none)")
    );
    println!("{} anchor(s) of the SQLite store were checked and recorded: `audit verify` keeps checking the copied log against them.", r.anchors);
    if r.escaped > 0 {
        println!(
            "{} item field(s) held control or format characters (an older medcoder let them in): they were copied escaped (\\x.., \\u{{..}}); the copied log keeps the exact text.",
            r.escaped
        );
    }
    println!(
        "Users sign in by peer authentication; for remote desks give each a password: `medcoder --db {} team user add NAME --role ROLE --set-password`.",
        postgres::redact(to)
    );
    Ok(ExitCode::SUCCESS)
}

/// The database a URL names (its path, else libpq's default: the user's name).
fn database_of(url: &str) -> Result<String> {
    let config: ::postgres::Config = url.parse().with_context(|| format!("{}: not a PostgreSQL connection URL", postgres::redact(url)))?;
    match config.get_dbname().or(config.get_user()) {
        Some(db) => Ok(db.to_string()),
        None => bail!("{}: name the database (postgres://host/DATABASE)", postgres::redact(url)),
    }
}

/// The same server's maintenance database `postgres`, where CREATE DATABASE runs.
fn maintenance_url(url: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let root = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/postgres?{q}"),
        None => format!("{root}/postgres"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_url_keeps_host_and_options() {
        assert_eq!(maintenance_url("postgres://admin@db.example:5433/coding?host=/run/pg"), "postgres://admin@db.example:5433/postgres?host=/run/pg");
        assert_eq!(maintenance_url("postgresql:///coding"), "postgresql:///postgres");
        assert_eq!(database_of("postgresql:///coding?host=/tmp").unwrap(), "coding");
    }
}
