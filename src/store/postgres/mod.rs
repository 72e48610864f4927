//! Team mode: the store on a PostgreSQL server, where the database itself enforces the rules.
//!
//! The acting user is the connection's authenticated role (peer authentication over the local
//! socket maps the OS login; a SCRAM password over TCP for remote desks), so there is no `--user`
//! to claim. Users' roles may read the tables and write none of them: every change is a call of a
//! SECURITY DEFINER function in `schema.sql` that checks the four-eye rule, the role, the revision
//! and the LLT's currency against `session_user` and appends the hash-chained log row in the same
//! transaction. Whoever opens psql with their own credentials is held to the same rules.

mod desk;
pub use desk::{Refused, TeamDesk};
mod audit;
mod copy;
mod datasets;
mod dictionary;
mod items;
mod log;
mod proposals;
mod schema;
mod synonyms;
mod users;
mod worklist;
pub use copy::{copy_from_sqlite, CopyReport};
use items::item_from_row;
pub use log::{anchor_file, LogRow, LogVerdict};
use log::{logged_entry, verify_in, IMPORTED_COLUMNS};
use schema::check_schema;
pub use schema::{create_database, init, upgrade};
pub use users::add_user;
use users::check_user_role;

use anyhow::{anyhow, bail, Context, Result};
use postgres::{Client, Config, NoTls, Row};
use sha2::{Digest, Sha256};

use super::audit::{item_findings, ItemState};
use super::item::{Item, Report, State, ITEM_COLUMNS};
use super::log::{Entry, LoggedEntry, Verdict};
use super::proposals::ProposalSet;
use super::workflow::Action;
use crate::intake::queue::NewItem;
use crate::meddra::Dictionary;

const SCHEMA: &str = include_str!("schema.sql");
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The functions users may call; everything else in the schema is the owner's.
/// The triggers that keep both logs append-only (schema.sql).
const LOG_TRIGGERS: &[&str] = &["decision_log_append_only", "decision_log_no_truncate", "imported_log_append_only", "imported_log_no_truncate"];

const GRANTED: &[&str] = &[
    "me()",
    "import_item(text, text, text, text, text, text, text, text)",
    "act(text, text, integer, text, text, bigint)",
    "answer_query(text, text, text, bigint)",
    "split_item(text, text[], bigint)",
    "assign_work(text, text, text, text)",
    "set_due_date(text, text)",
    "keep_dataset(text, text, text, text, text[], text[])",
    "add_llts(text, integer[], text[], integer[], text[], boolean[])",
    "add_release_file(text, text, bytea)",
    "set_proposals(bigint, text, text, double precision, text, text)",
    "retire_synonym(text, text)",
    "decide_synonym(text, text, text)",
    "set_synonym_qualifiers(text)",
    "import_synonym(text, integer, text, text)",
    "set_autocode_confirm(boolean)",
    "set_team_setting(text, text)",
    "use_version(text)",
];

/// `--db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Whether a URL carries a password (in its authority or as `?password=`): refused, since a
/// signature must be typed.
pub fn url_has_password(url: &str) -> Result<bool> {
    let config: Config = url.parse().with_context(|| format!("{}: not a PostgreSQL connection URL", redact(url)))?;
    Ok(config.get_password().is_some())
}

/// Connects as the role the URL (or libpq's defaults: the OS login) names. When the server asks
/// for a password that the URL does not carry, `password` is asked for it once.
pub fn connect(url: &str, password: &mut dyn FnMut(&str) -> Result<String>) -> Result<Client> {
    let mut config: Config = url.parse().with_context(|| format!("{}: not a PostgreSQL connection URL", redact(url)))?;
    if config.get_user().is_none() {
        config.user(&crate::identity::os_login()?);
    }
    // libpq's default for a URL without a host: the local socket, where peer authentication maps
    // the OS login to the role of the same name (Debian's socket folder).
    if config.get_hosts().is_empty() {
        config.host_path(DEFAULT_SOCKET_DIR);
    }
    match config.connect(NoTls) {
        Ok(c) => Ok(c),
        Err(e) if config.get_password().is_none() && chain(&e).contains("password missing") => {
            let user = config.get_user().unwrap_or_default().to_string();
            let pw = password(&format!("Database password for {user}: "))?;
            config.password(pw);
            config.connect(NoTls).with_context(|| format!("connecting to {} as {user}", redact(url)))
        }
        Err(e) => Err(anyhow!(e)).with_context(|| format!("connecting to {}", redact(url))),
    }
}

/// An error with its causes, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text = format!("{text}: {c}");
        cause = c.source();
    }
    text
}

/// The URL without its password (in the authority or a `password=` parameter), for messages.
pub fn redact(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> =
                query.split('&').map(|p| if p.to_ascii_lowercase().starts_with("password=") { "password=***".to_string() } else { p.to_string() }).collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url.to_string(),
    };
    let url = url.as_str();
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let auth = &url[s + 3..at];
            match auth.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &auth[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A name usable as a role or database (the one user-name rule of both stores, `identity`).
fn check_name(what: &str, name: &str) -> Result<()> {
    crate::identity::check_name(what, name)
}

fn owner_role(db: &str) -> String {
    format!("{db}_owner")
}

fn member_role(db: &str) -> String {
    format!("{db}_members")
}

/// One user's connection to a team database.
pub struct TeamStore {
    client: Client,
    pub user: String,
    pub role: String,
}

impl TeamStore {
    pub fn open(url: &str, password: &mut dyn FnMut(&str) -> Result<String>) -> Result<TeamStore> {
        let mut client = connect(url, password)?;
        check_schema(&mut client)?;
        let row = client.query_one("SELECT name, role FROM medcoder.me()", &[]).map_err(db_error)?;
        Ok(TeamStore { user: row.get(0), role: row.get(1), client })
    }

    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The server's own sentence for a refused action (the rule's message), without the driver's
/// wrapping; other errors as they are.
pub fn db_error(e: postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(d) if *d.code() == postgres::error::SqlState::LOCK_NOT_AVAILABLE => {
            anyhow!("the decision log is held by another session's open transaction; try again (an administrator sees who in pg_stat_activity)")
        }
        Some(d) => anyhow!("{}", d.message()),
        None => anyhow!(e),
    }
}

#[cfg(test)]
mod tests {
    use super::log::verify_chain;
    use super::*;

    fn row(seq: i64, prev: &str) -> LogRow {
        let mut r = LogRow {
            seq,
            at: "2026-11-26T10:00:00.000Z".into(),
            user: "alice".into(),
            action: "propose".into(),
            item_id: Some(1),
            external_id: Some("AE-1".into()),
            reported_term: Some("héadache | 2:x".into()),
            state_from: Some("new".into()),
            state_to: Some("proposed".into()),
            llt_code: Some(10019211),
            pt_code: Some(10019211),
            meddra_version: Some("0.1".into()),
            source: Some("search".into()),
            comment: None,
            model_version: None,
            proposals: None,
            entropy: Some("0.25".into()),
            chosen_rank: Some(2),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        r.hash = hex::encode(Sha256::digest(r.body().as_bytes()));
        r
    }

    #[test]
    fn body_counts_characters_and_marks_null() {
        let r = row(1, GENESIS);
        assert!(r.body().starts_with("1:1|24:2026-11-26T10:00:00.000Z|5:alice|7:propose|1:1|4:AE-1|14:héadache | 2:x|"), "{}", r.body());
        assert!(r.body().contains("|6:search|~|~|~|4:0.25|1:2|64:0000"), "{}", r.body());
    }

    #[test]
    fn chain_finds_edits_gaps_and_truncation() {
        let a = row(1, GENESIS);
        let b = row(2, &a.hash);
        assert_eq!(verify_chain(&[a.clone(), b.clone()], 2, &b.hash, GENESIS), Verdict::Intact { rows: 2 });
        let mut edited = b.clone();
        edited.llt_code = Some(1);
        assert!(matches!(verify_chain(&[a.clone(), edited], 2, &b.hash, GENESIS), Verdict::Broken { seq: 2, .. }));
        assert!(matches!(verify_chain(std::slice::from_ref(&b), 2, &b.hash, GENESIS), Verdict::Broken { seq: 2, .. }));
        assert!(matches!(verify_chain(std::slice::from_ref(&a), 2, &b.hash, GENESIS), Verdict::Broken { seq: 1, .. }));
    }

    #[test]
    fn urls_and_names() {
        assert!(is_url("postgres://bob@host/db") && is_url("postgresql:///db") && !is_url("team.db"));
        assert_eq!(redact("postgres://bob:secret@host/db"), "postgres://bob:***@host/db");
        assert_eq!(redact("postgres://bob@host/db"), "postgres://bob@host/db");
        assert!(check_name("user", "bob_2").is_ok());
        for bad in ["Bob", "2bob", "bob;drop", "", "bob smith"] {
            assert!(check_name("user", bad).is_err(), "{bad}");
        }
    }
}
