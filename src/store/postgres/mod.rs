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
    "add_llts(text, integer[], text[], integer[], text[], boolean[])",
    "add_release_file(text, text, bytea)",
    "set_proposals(bigint, text, text, double precision, text, text)",
    "retire_synonym(text)",
    "import_synonym(text, integer, text)",
    "set_autocode_confirm(boolean)",
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

/// A login role may become a medcoder user only if it is an ordinary login: never one of the
/// database's own group roles, a NOLOGIN role, or a role with powers over the server (a
/// superuser, or one that can create roles or databases, replicate or bypass row security).
fn check_user_role(client: &mut impl postgres::GenericClient, name: &str) -> Result<()> {
    check_name("user name", name)?;
    if name.ends_with("_owner") || name.ends_with("_members") {
        bail!("'{name}': names ending in _owner or _members are the team databases' own roles");
    }
    let row = client.query_opt(
        "SELECT rolcanlogin, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = $1",
        &[&name],
    )?;
    if let Some(r) = row {
        let (login, powers): (bool, bool) = (r.get(0), r.get(1));
        if powers {
            bail!("'{name}' is a role with powers over the server (superuser, create role or database, replication): it cannot be a medcoder user");
        }
        if !login {
            bail!("'{name}' is an existing group role (NOLOGIN), not a person's login: choose another name");
        }
    }
    Ok(())
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

/// `medcoder team init`: creates the database named by the URL (if missing), its owner and member
/// roles, the schema and the grants. Run by the server's administrator (a superuser, e.g. the
/// `postgres` role over the local socket). Refuses a database that already has the schema.
pub fn init(client: &mut Client, db: &str) -> Result<()> {
    check_name("database", db)?;
    let (owner, members) = (owner_role(db), member_role(db));
    let encoding: String = client.query_one("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()", &[])?.get(0);
    if encoding != "UTF8" {
        bail!("database {db} is encoded {encoding}: a team database must be UTF8 (let `team init` create it, or CREATE DATABASE {db} ENCODING 'UTF8' TEMPLATE template0)");
    }
    let exists: bool = client.query_one("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'medcoder')", &[])?.get(0);
    if exists {
        bail!("database {db} already holds a medcoder schema");
    }
    for role in [&owner, &members] {
        match client.query_opt("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", &[role])? {
            None => client.batch_execute(&format!("CREATE ROLE {role} NOLOGIN"))?,
            // Whoever could sign in as the owner would own every table and bypass every rule.
            Some(r) if r.get::<_, bool>(0) => {
                bail!("the role {role} exists and can log in: it must be a NOLOGIN role (ALTER ROLE {role} NOLOGIN) before team init")
            }
            Some(_) => {}
        }
    }
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "REVOKE ALL ON DATABASE {db} FROM PUBLIC;
         GRANT CONNECT ON DATABASE {db} TO {members};
         ALTER DATABASE {db} SET idle_in_transaction_session_timeout = '60s';
         CREATE SCHEMA medcoder AUTHORIZATION {owner};
         SET LOCAL ROLE {owner};
         SET LOCAL search_path = medcoder, pg_temp;"
    ))?;
    tx.batch_execute(SCHEMA).context("creating the medcoder schema")?;
    let grants = GRANTED.iter().map(|f| format!("GRANT EXECUTE ON FUNCTION medcoder.{f} TO {members};")).collect::<String>();
    tx.batch_execute(&format!(
        "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA medcoder FROM PUBLIC;
         GRANT USAGE ON SCHEMA medcoder TO {members};
         GRANT SELECT ON ALL TABLES IN SCHEMA medcoder TO {members};
         GRANT EXECUTE ON FUNCTION medcoder.release_digest(text) TO {members};
         {grants}"
    ))?;
    tx.commit()?;
    Ok(())
}

/// `medcoder team user add`: a login role for NAME (with a SCRAM password when one is given, else
/// peer authentication only), member of the database's member role, and its medcoder role; logged.
/// Run by the server's administrator; run again it changes the role (and password).
pub fn add_user(client: &mut Client, db: &str, name: &str, role: &str, password: Option<&str>) -> Result<()> {
    check_user_role(client, name)?;
    if !["coder", "reviewer", "admin", "service"].contains(&role) {
        bail!("role must be coder, reviewer, admin or service (the proposal service's account)");
    }
    let names: Vec<String> = client.query("SELECT name FROM medcoder.app_user", &[])?.iter().map(|r| r.get(0)).collect();
    crate::identity::check_look_alike(name, names.iter().map(String::as_str))?;
    let members = member_role(db);
    let there: bool = client.query_one("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", &[&name])?.get(0);
    let verb = if there { "ALTER" } else { "CREATE" };
    // The server gets the SCRAM verifier, never the password itself (which a statement log would
    // keep); format(%L) quotes it as the server parses it.
    let sql: String = match password {
        Some(pw) => {
            let verifier = postgres_protocol::password::scram_sha_256(pw.as_bytes());
            client.query_one(&format!("SELECT format('{verb} ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)"), &[&name, &verifier])?.get(0)
        }
        None => format!("{verb} ROLE {name} LOGIN"),
    };
    let mut tx = client.transaction()?;
    tx.batch_execute(&sql)?;
    tx.batch_execute(&format!("GRANT {members} TO {name}"))?;
    tx.execute("SELECT medcoder.register_user($1, $2)", &[&name, &role])?;
    tx.commit()?;
    Ok(())
}

/// The schema version this medcoder writes and reads (setting `schema_version`). 2: the rules of
/// issue #19 (Cc/Cf text, the synonym importer read from the log, source `model` checked, copied
/// anchors).
const SCHEMA_VERSION: &str = "2";

/// The functions schema 2 changed or added, replaced in place by `team upgrade`.
const UPGRADED_FUNCTIONS: &[&str] = &["check_text", "code_importer", "act", "release_digest", "use_version"];

/// `CREATE FUNCTION name(...) ... $$;` of schema.sql, as CREATE OR REPLACE.
fn function_definition(name: &str) -> Result<String> {
    let start = SCHEMA.find(&format!("CREATE FUNCTION {name}(")).with_context(|| format!("schema.sql has no function {name}"))?;
    let body = &SCHEMA[start..];
    let open = body.find("$$").context("function without a body")?;
    let close = body[open + 2..].find("$$;").context("function without an end")? + open + 2 + 3;
    Ok(body[..close].replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
}

/// Brings a team database of schema 1 to schema 2 (the server's administrator, once): replaces the
/// rule functions in place and adds the copied-anchor table; data is untouched.
pub fn upgrade(client: &mut Client, db: &str) -> Result<String> {
    check_name("database", db)?;
    let v: Option<String> = client
        .query_opt("SELECT value FROM medcoder.setting WHERE key = 'schema_version'", &[])
        .map_err(|e| db_error(e).context("this database has no medcoder schema: run `medcoder team init` instead"))?
        .map(|r| r.get(0));
    match v.as_deref() {
        Some(SCHEMA_VERSION) => return Ok(format!("Team database {db} already has schema {SCHEMA_VERSION}.")),
        Some("1") => {}
        other => bail!("team schema version {} here: this medcoder upgrades schema 1 only", other.unwrap_or("none")),
    }
    let owner = owner_role(db);
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!("SET LOCAL ROLE {owner}; SET LOCAL search_path = medcoder, pg_temp;"))?;
    for f in UPGRADED_FUNCTIONS {
        tx.batch_execute(&function_definition(f)?).with_context(|| format!("replacing medcoder.{f}"))?;
    }
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS copied_anchor (line bigint PRIMARY KEY, seq bigint NOT NULL, hash text NOT NULL, at text NOT NULL);
         REVOKE ALL ON FUNCTION medcoder.code_importer(bigint), medcoder.release_digest(text) FROM PUBLIC;
         GRANT EXECUTE ON FUNCTION medcoder.release_digest(text) TO {members};
         GRANT SELECT ON medcoder.copied_anchor TO {members};
         UPDATE setting SET value = '{SCHEMA_VERSION}' WHERE key = 'schema_version';",
        members = member_role(db)
    ))?;
    tx.commit()?;
    Ok(format!("Team database {db} upgraded to schema {SCHEMA_VERSION} (rule functions replaced; data untouched)."))
}

fn check_schema(client: &mut Client) -> Result<()> {
    let v: Option<String> = client
        .query_opt("SELECT value FROM medcoder.setting WHERE key = 'schema_version'", &[])
        .map_err(|e| db_error(e).context("this database has no medcoder schema: its administrator runs `medcoder team init` first"))?
        .map(|r| r.get(0));
    match v.as_deref() {
        Some(SCHEMA_VERSION) => Ok(()),
        Some("1") => bail!(
            "team schema version 1 here, which lacks rules this medcoder enforces (issue #19): the server's administrator runs `medcoder --db URL team upgrade` once"
        ),
        other => bail!("team schema version {} here; this medcoder needs {SCHEMA_VERSION}", other.unwrap_or("none")),
    }
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

    pub fn active_version(&mut self) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT value FROM medcoder.setting WHERE key = 'meddra_version'", &[])?.map(|r| r.get(0)))
    }

    /// Loads a release (admin): its files as imported, from which every client rebuilds the
    /// dictionary, and its LLTs for the rules; then makes it the active version. One transaction.
    pub fn import_dictionary(&mut self, dict: &Dictionary, files: &[(String, Vec<u8>)]) -> Result<usize> {
        let mut tx = self.client.transaction()?;
        for (name, content) in files {
            tx.execute("SELECT medcoder.add_release_file($1, $2, $3)", &[&dict.version, name, content]).map_err(db_error)?;
        }
        let mut n = 0;
        for chunk in dict.llts.chunks(5_000) {
            let codes: Vec<i32> = chunk.iter().map(|l| l.code as i32).collect();
            let names: Vec<&str> = chunk.iter().map(|l| l.name.as_str()).collect();
            let pts: Vec<i32> = chunk.iter().map(|l| l.pt_code as i32).collect();
            let pt_names: Vec<&str> = chunk.iter().map(|l| dict.pt(l.pt_code).map_or("", |p| p.name.as_str())).collect();
            let current: Vec<bool> = chunk.iter().map(|l| l.current).collect();
            let added: i32 = tx
                .query_one("SELECT medcoder.add_llts($1, $2, $3, $4, $5, $6)", &[&dict.version, &codes, &names, &pts, &pt_names, &current])
                .map_err(db_error)?
                .get(0);
            n += added as usize;
        }
        tx.execute("SELECT medcoder.use_version($1)", &[&dict.version]).map_err(db_error)?;
        tx.commit()?;
        Ok(n)
    }

    /// Queues the rows (one transaction); returns (imported, already queued).
    pub fn import_items(&mut self, items: &[NewItem], file: &str) -> Result<(usize, usize)> {
        let mut tx = self.client.transaction()?;
        let (mut imported, mut skipped) = (0, 0);
        for it in items {
            let origin = format!("{file}, line {}", it.line);
            let added: bool = tx
                .query_one(
                    "SELECT medcoder.import_item($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[&it.external_id, &it.study, &it.subject, &it.reported_term, &it.onset_date, &it.seriousness, &it.investigator, &origin],
                )
                .map_err(db_error)
                .with_context(|| format!("{file}, line {}", it.line))?
                .get(0);
            if added {
                imported += 1;
            } else {
                skipped += 1;
            }
        }
        tx.commit()?;
        Ok((imported, skipped))
    }

    /// The releases here, oldest first, with the active one marked.
    pub fn versions(&mut self) -> Result<Vec<(String, bool)>> {
        let active = self.active_version()?;
        let rows = self.client.query("SELECT DISTINCT version FROM medcoder.release_file ORDER BY version", &[])?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).map(|v| (v.clone(), Some(&v) == active.as_ref())).collect())
    }

    /// A whole release (the active one by default), rebuilt from its imported files exactly as
    /// `dict import` read them.
    pub fn dictionary(&mut self, version: Option<&str>) -> Result<Dictionary> {
        let version = match version {
            Some(v) => v.to_string(),
            None => self.active_version()?.ok_or_else(|| anyhow!("no active MedDRA version: an admin imports one (medcoder dict import)"))?,
        };
        let rows = self.client.query("SELECT name, content FROM medcoder.release_file WHERE version = $1", &[&version])?;
        if rows.is_empty() {
            bail!("MedDRA {version} is not in this team database (`dict versions` lists those that are)");
        }
        let dir = tempfile::tempdir()?;
        for r in &rows {
            let (name, content): (String, Vec<u8>) = (r.get(0), r.get(1));
            std::fs::write(dir.path().join(&name), content).with_context(|| format!("writing {name} of MedDRA {version}"))?;
        }
        let (rel, _) = crate::meddra::Release::read(dir.path())
            .map_err(anyhow::Error::from)
            .with_context(|| format!("reading MedDRA {version} from the team database"))?;
        Ok(Dictionary::new(&rel))
    }

    /// Synonyms matching a condition on the synonym table (`medcoder.synonym`).
    pub fn synonyms_where(&mut self, condition: &str, args: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<super::synonyms::Synonym>> {
        let rows = self.client.query(
            &format!("SELECT term, meddra_version, llt_code, origin, confirmations, external_id, reported_term, proposer, reviewer, updated_at, updated_by, hold, seq, imported_by FROM medcoder.synonym WHERE {condition}"),
            args,
        )?;
        Ok(rows
            .iter()
            .map(|r| super::synonyms::Synonym {
                term: r.get(0),
                meddra_version: r.get(1),
                llt_code: r.get::<_, i32>(2) as u32,
                origin: r.get(3),
                confirmations: i64::from(r.get::<_, i32>(4)),
                external_id: r.get(5),
                reported_term: r.get(6),
                proposer: r.get(7),
                reviewer: r.get(8),
                updated_at: r.get(9),
                updated_by: r.get(10),
                hold: r.get(11),
                seq: r.get(12),
                imported_by: r.get(13),
            })
            .collect())
    }

    /// Makes a loaded release the active version again (admin; logged), carrying the synonym list.
    pub fn use_version(&mut self, version: &str) -> Result<()> {
        self.client.execute("SELECT medcoder.use_version($1)", &[&version]).map_err(db_error)?;
        Ok(())
    }

    /// Imports a checked synonym list (admin) in one transaction, one log row per synonym.
    pub fn import_synonyms(&mut self, rows: &[crate::intake::labelled::Labelled], file: &str) -> Result<usize> {
        let mut tx = self.client.transaction()?;
        for r in rows {
            tx.execute("SELECT medcoder.import_synonym($1, $2, $3)", &[&r.term, &(r.llt as i32), &format!("{file}, line {}", r.line)])
                .map_err(db_error)
                .with_context(|| format!("{file}, line {}", r.line))?;
        }
        tx.commit()?;
        Ok(rows.len())
    }

    pub fn set_autocode_confirm(&mut self, on: bool) -> Result<()> {
        self.client.execute("SELECT medcoder.set_autocode_confirm($1)", &[&on]).map_err(db_error)?;
        Ok(())
    }

    pub fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT value FROM medcoder.setting WHERE key = $1", &[&key])?.map(|r| r.get(0)))
    }

    /// Holds a synonym so that it autocodes no more (admin; logged).
    pub fn retire_synonym(&mut self, term: &str) -> Result<super::synonyms::Synonym> {
        let key: String = self.client.query_one("SELECT term FROM medcoder.retire_synonym($1)", &[&term]).map_err(db_error)?.get(0);
        let version = self.active_version()?.unwrap_or_default();
        self.synonyms_where("term = $1 AND meddra_version = $2", &[&key, &version])?.into_iter().next().ok_or_else(|| anyhow!("the synonym '{key}' is gone"))
    }

    /// Changes the connection's own login password (PostgreSQL lets a role do so); the server gets
    /// the SCRAM verifier only.
    pub fn set_own_password(&mut self, password: &str) -> Result<()> {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let sql: String = self.client.query_one("SELECT format('ALTER ROLE %I PASSWORD %L', session_user, $1::text)", &[&verifier])?.get(0);
        self.client.batch_execute(&sql).map_err(db_error)
    }

    /// The users of this team database.
    pub fn users(&mut self) -> Result<Vec<(String, String, String)>> {
        let rows = self.client.query("SELECT name, role, created_at FROM medcoder.app_user ORDER BY name", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    pub fn llt_name(&mut self, version: &str, code: u32) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT name FROM medcoder.llt WHERE version = $1 AND code = $2", &[&version, &(code as i32)])?.map(|r| r.get(0)))
    }

    /// The proposals stored for an item.
    pub fn proposals(&mut self, item_id: i64) -> Result<Option<ProposalSet>> {
        let row = self
            .client
            .query_opt("SELECT model_version, meddra_version, entropy, proposals, computed_at FROM medcoder.item_proposals WHERE item_id = $1", &[&item_id])?;
        row.map(|r| {
            let json: String = r.get(3);
            Ok(ProposalSet {
                model_version: r.get(0),
                meddra_version: r.get(1),
                entropy: r.get(2),
                proposals: serde_json::from_str(&json)?,
                computed_at: r.get(4),
            })
        })
        .transpose()
    }

    pub fn items(&mut self, state: Option<State>) -> Result<Vec<Item>> {
        let rows = self
            .client
            .query(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE $1::text IS NULL OR state = $1 ORDER BY id"), &[&state.map(State::as_str)])?;
        rows.iter().map(item_from_row).collect()
    }

    pub fn item(&mut self, external_id: &str) -> Result<Item> {
        let row = self
            .client
            .query_opt(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE external_id = $1"), &[&external_id])?
            .ok_or_else(|| anyhow!("no queue item with id '{}'", crate::text::printable(external_id)))?;
        item_from_row(&row)
    }

    /// The newest row of this database's log (what an export is made at).
    pub fn log_head(&mut self) -> Result<Option<super::audit::Head>> {
        let row = self.client.query_opt("SELECT seq, hash, at FROM medcoder.decision_log ORDER BY seq DESC LIMIT 1", &[])?;
        Ok(row.map(|r| super::audit::Head { seq: r.get(0), hash: r.get(1), at: r.get(2) }))
    }

    /// One coding decision, checked and logged by the database (`medcoder.act`).
    pub fn act(&mut self, external_id: &str, expected_revision: Option<i64>, action: &Action) -> Result<Item> {
        let (name, llt, source, text): (&str, Option<i32>, Option<&str>, Option<&str>) = match action {
            Action::Propose { llt, source } => ("propose", Some(*llt as i32), Some(source.as_str()), None),
            Action::Confirm => ("confirm", None, None, None),
            Action::Return { comment } => ("return", None, None, Some(comment)),
            Action::Query { note } => ("query", None, None, Some(note)),
            Action::Recode { llt, source, comment } => ("recode", Some(*llt as i32), Some(source.as_str()), comment.as_deref()),
        };
        let row = self
            .client
            .query_one(
                &format!("SELECT {ITEM_COLUMNS} FROM medcoder.act($1, $2, $3, $4, $5, $6)"),
                &[&external_id, &name, &llt, &source, &text, &expected_revision],
            )
            .map_err(desk::refused)?;
        item_from_row(&row)
    }

    pub fn log(&mut self, external_id: Option<&str>) -> Result<Vec<LogRow>> {
        let rows = self
            .client
            .query(&format!("SELECT {LOG_COLUMNS} FROM medcoder.decision_log WHERE $1::text IS NULL OR external_id = $1 ORDER BY seq"), &[&external_id])?;
        Ok(rows.iter().map(LogRow::from_row).collect())
    }

    /// Recomputes the hash chain in Rust (not with the server's functions, which whoever
    /// administers the server could change) and checks it ends at the recorded head: first the
    /// log a `db copy` brought from SQLite, with SQLite's hashes, then this database's own rows,
    /// whose chain starts from the copied log's last hash.
    pub fn verify_log(&mut self) -> Result<LogVerdict> {
        verify(&mut self.client)
    }
}

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
            .query("SELECT id, external_id, state, llt_code, pt_code, proposer, reviewer, revision, source FROM medcoder.item ORDER BY id", &[])?
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
            })
            .collect();
        let mut findings = item_findings(&log, &table);
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
            .query("SELECT term_key, llt_code FROM medcoder.item WHERE state = 'confirmed' AND llt_code IS NOT NULL", &[])?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1) as u32))
            .collect();
        let imported: std::collections::HashSet<(String, u32)> = log
            .iter()
            .filter(|r| r.entry.action.contains("synonym") && r.entry.action.contains("import"))
            .filter_map(|r| Some((crate::text::normalize(r.entry.reported_term.as_deref()?), r.entry.llt_code?)))
            .collect();
        for y in self.synonyms_where("hold IS NULL ORDER BY meddra_version, term", &[])? {
            let key = (y.term.clone(), y.llt_code);
            if !confirmed.contains(&key) && !imported.contains(&key) {
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
        let all = self.synonyms_where("TRUE ORDER BY meddra_version, term", &[])?;
        findings.extend(super::audit::importer_findings(&log, &all, &confirmed));
        findings.extend(super::audit::retire_findings(&log, &all));
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

/// The proposal engine's view of a team database, with the synonym list as its coded-term memory.
impl super::ProposalStore for TeamStore {
    fn active_meddra_version(&mut self) -> Result<Option<String>> {
        self.active_version()
    }
    fn release_of(&mut self, version: Option<&str>) -> Result<Dictionary> {
        self.dictionary(version)
    }
    fn confirmed_pairs(&mut self) -> Result<Vec<super::reports::TrainingPair>> {
        let rows = self.client.query(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE state = 'confirmed' ORDER BY confirmed_at, id"), &[])?;
        Ok(super::reports::training_pairs(rows.iter().map(item_from_row).collect::<Result<Vec<_>>>()?))
    }
    fn needing_proposals(&mut self, model_version: &str, meddra_version: &str, all: bool) -> Result<Vec<(i64, String)>> {
        let rows = self.client.query(
            "SELECT i.id, i.reported_term FROM medcoder.item i LEFT JOIN medcoder.item_proposals p ON p.item_id = i.id
             WHERE i.state IN ('new', 'proposed', 'returned', 'query')
               AND ($3 OR p.item_id IS NULL OR p.model_version <> $1 OR p.meddra_version <> $2)
             ORDER BY i.id",
            &[&model_version, &meddra_version, &all],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
    fn store_proposals(&mut self, sets: &[(i64, ProposalSet)]) -> Result<()> {
        for (item_id, set) in sets {
            set.check(*item_id)?;
        }
        let mut tx = self.client.transaction()?;
        for (item_id, set) in sets {
            tx.execute(
                "SELECT medcoder.set_proposals($1, $2, $3, $4, $5, $6)",
                &[item_id, &set.model_version, &set.meddra_version, &set.entropy, &serde_json::to_string(&set.proposals)?, &set.computed_at],
            )
            .map_err(db_error)?;
        }
        tx.commit()?;
        Ok(())
    }
    fn synonym_seq_of(&mut self, version: &str) -> Result<i64> {
        Ok(self.client.query_one("SELECT coalesce(max(seq), 0) FROM medcoder.synonym WHERE meddra_version = $1", &[&version])?.get(0))
    }
    fn synonym_changes(&mut self, version: &str, seq: i64) -> Result<Vec<super::synonyms::Synonym>> {
        self.synonyms_where("meddra_version = $1 AND seq > $2 ORDER BY seq", &[&version, &seq])
    }
    fn answers(&mut self) -> bool {
        self.client.simple_query("SELECT 1").is_ok()
    }
}

impl TeamStore {
    /// Each anchored head (seq, hash) that this database's log no longer holds: a rewrite or
    /// truncation of the team log after it was anchored, even when the rewritten chain is
    /// consistent.
    /// A head anchored from the SQLite store a `db copy` brought (its anchor file) is checked
    /// against the copied log: an anchor matches when either log holds that row with that hash.
    pub fn check_anchors(&mut self, file: &std::path::Path) -> Result<Vec<String>> {
        let heads = super::audit::read_anchors(file)?;
        self.anchor_mismatches(&file.display().to_string(), heads)
    }

    /// The anchors `db copy` recorded from the copied store, checked against the copied log.
    pub fn check_copied_anchors(&mut self) -> Result<Vec<String>> {
        let heads = self
            .client
            .query("SELECT line, seq, hash, at FROM medcoder.copied_anchor ORDER BY line", &[])?
            .iter()
            .map(|r| (r.get::<_, i64>(0) as usize, super::audit::Head { seq: r.get(1), hash: r.get(2), at: r.get(3) }))
            .collect();
        self.anchor_mismatches("the copied store's anchors", heads)
    }

    fn anchor_mismatches(&mut self, source: &str, heads: Vec<(usize, super::audit::Head)>) -> Result<Vec<String>> {
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

/// Where this machine's desks anchor a team database's log: in the local data directory, outside
/// the database server.
pub fn anchor_file(url: &str) -> Result<std::path::PathBuf> {
    let config: Config = url.parse()?;
    Ok(crate::paths::data_dir()?.join(format!("{}.team.anchors", config.get_dbname().unwrap_or("team"))))
}

/// What `audit verify` found in a team database's two logs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogVerdict {
    /// The log copied from a SQLite store, when there is one.
    pub imported: Option<Verdict>,
    pub own: Verdict,
}

fn verify(client: &mut Client) -> Result<LogVerdict> {
    let mut tx = client.transaction()?;
    verify_in(&mut tx)
}

/// Both chains, read in one transaction (a consistent snapshot while others append).
fn verify_in(client: &mut postgres::Transaction<'_>) -> Result<LogVerdict> {
    let mut chain = super::log::Chain::default();
    let mut imported = None;
    for r in client.query(&format!("SELECT {IMPORTED_COLUMNS} FROM medcoder.imported_log ORDER BY seq"), &[])? {
        if let Some(broken) = chain.push(&logged_entry(&r)) {
            imported = Some(broken);
            break;
        }
    }
    let start = match (&imported, chain.head()) {
        (Some(_), _) => None,
        (None, Some((rows, hash))) => {
            imported = Some(Verdict::Intact { rows });
            Some(hash.to_string())
        }
        (None, None) => Some(GENESIS.to_string()),
    };
    let rows: Vec<LogRow> = client.query(&format!("SELECT {LOG_COLUMNS} FROM medcoder.decision_log ORDER BY seq"), &[])?.iter().map(LogRow::from_row).collect();
    let head = client.query_one("SELECT seq, hash FROM medcoder.log_head", &[])?;
    let own = match start {
        Some(start) => verify_chain(&rows, head.get(0), &head.get::<_, String>(1), &start),
        None => Verdict::Broken { seq: 1, reason: "the copied SQLite log it continues is broken".into() },
    };
    Ok(LogVerdict { imported, own })
}

const IMPORTED_COLUMNS: &str = "seq, at, username, action, item_id, external_id, reported_term, state_from, state_to, llt_code, llt_name, pt_code, pt_name, meddra_version, model_version, proposals, entropy, chosen_rank, source, comment, prev_hash, hash";

fn logged_entry(r: &Row) -> LoggedEntry {
    let code = |i: usize| r.get::<_, Option<i64>>(i).map(|c| c as u32);
    LoggedEntry {
        seq: r.get(0),
        at: r.get(1),
        entry: Entry {
            user: r.get(2),
            action: r.get(3),
            item_id: r.get(4),
            external_id: r.get(5),
            reported_term: r.get(6),
            state_from: r.get(7),
            state_to: r.get(8),
            llt_code: code(9),
            llt_name: r.get(10),
            pt_code: code(11),
            pt_name: r.get(12),
            meddra_version: r.get(13),
            model_version: r.get(14),
            proposals: r.get(15),
            entropy: r.get(16),
            chosen_rank: r.get(17),
            source: r.get(18),
            comment: r.get(19),
        },
        prev_hash: r.get(20),
        hash: r.get(21),
    }
}

/// What `db copy` moved.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyReport {
    pub users: usize,
    pub items: usize,
    pub log_rows: usize,
    pub llts: usize,
    pub synonyms: usize,
    pub version: Option<String>,
    /// Item fields copied escaped (control or format characters an older store let in).
    pub escaped: usize,
    /// Anchors of the copied store recorded for `audit verify`.
    pub anchors: usize,
}

/// `medcoder db copy`: moves a single-user SQLite store into a new team database (after `team
/// init`, before any user acts): its users (login roles without a password: each sets one with
/// `team user add --set-password`, or signs in by peer authentication), the active MedDRA
/// version's LLTs, every item as it stands, and its decision log row for row; the team log then
/// chains on from the copied log's last hash. One transaction; the SQLite chain is checked first
/// and both chains after. Run by the server's administrator.
pub fn copy_from_sqlite(client: &mut Client, db: &str, store: &super::Store, origin: &str) -> Result<CopyReport> {
    // One snapshot of the store: a colleague coding during the copy changes nothing of it.
    let _snapshot = store.snapshot()?;
    // A store whose own anchors fail has a rewritten history: it is never moved.
    let anchor_file = store.anchor_file()?;
    let anchors = if anchor_file.exists() { super::audit::read_anchors(&anchor_file)? } else { Vec::new() };
    if let Some(bad) = store.check_anchors(&anchor_file).ok().filter(|_| anchor_file.exists()).and_then(|b| b.into_iter().next()) {
        bail!(
            "{origin}: its anchor file {} does not match its log (line {}, row {}: {}); run `medcoder --db {origin} audit verify` and resolve it before moving it",
            anchor_file.display(),
            bad.line,
            bad.anchored.seq,
            bad.reason
        );
    }
    let mut chain = super::log::Chain::default();
    let entries = store.log_entries(None)?;
    for e in &entries {
        if let Some(Verdict::Broken { seq, reason }) = chain.push(e) {
            bail!("{origin}: its decision log is broken at row {seq} ({reason}); run `medcoder --db {origin} audit verify` and resolve it before moving it");
        }
    }
    if let Verdict::Broken { seq, reason } = store.verify_log()? {
        bail!("{origin}: its decision log is broken at row {seq} ({reason})");
    }
    // The tables must be what the log says: a copy never launders a change made behind the rules.
    let findings = store.state_findings()?;
    if !findings.is_empty() {
        bail!(
            "{origin}: {} table row(s) differ from its decision log (first: {}); run `medcoder --db {origin} audit verify` and resolve them before moving it",
            findings.len(),
            crate::text::printable(&findings[0])
        );
    }
    let mut tx = client.transaction()?;
    let busy: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM medcoder.item) OR EXISTS (SELECT 1 FROM medcoder.imported_log) OR EXISTS (SELECT 1 FROM medcoder.llt)
                 OR (SELECT seq FROM medcoder.log_head) > 0",
            &[],
        )
        .context("is the target a team database? (run `team init` first)")?
        .get(0);
    if busy {
        bail!("the team database {db} is not new (it has items, a log or a dictionary): copy into a database just made by `team init`");
    }
    let users = store.users()?;
    for u in &users {
        check_user_role(&mut tx, &u.name).with_context(|| format!("{origin}: user '{}' cannot become a database role", crate::text::printable(&u.name)))?;
        // An existing login is somebody's already: the copy would hand them this store's role.
        let taken: bool = tx.query_one("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", &[&u.name])?.get(0);
        if taken {
            bail!("{origin}: user '{}' is already a role on this server; the copy makes only new roles (rename the user in the SQLite store, or add them to the team with `team user add` after the copy)", u.name);
        }
    }
    let members = member_role(db);
    for u in &users {
        tx.batch_execute(&format!("CREATE ROLE {} LOGIN", u.name))?;
        tx.batch_execute(&format!("GRANT {members} TO {}", u.name))?;
        tx.execute("INSERT INTO medcoder.app_user VALUES ($1, $2, $3, $4)", &[&u.name, &u.role.as_str(), &u.created_at, &"db copy"])?;
    }
    let mut llts = 0;
    let version = store.active_version()?;
    if version.is_some() {
        let dict = store.active_dictionary()?;
        for l in &dict.llts {
            let pt = dict.pt(l.pt_code).map_or("", |p| p.name.as_str());
            tx.execute(
                "INSERT INTO medcoder.llt VALUES ($1, $2, $3, $4, $5, $6, medcoder.normalize_term($3))",
                &[&dict.version, &(l.code as i32), &l.name, &(l.pt_code as i32), &pt, &l.current],
            )?;
            llts += 1;
        }
        tx.execute("INSERT INTO medcoder.setting VALUES ('meddra_version', $1), ('sealed:' || $1, medcoder.now_text())", &[&dict.version])?;
    }
    // Text that an older store let in with control or format characters is copied escaped (the
    // team database refuses it raw), and the report says how many fields; the copied log keeps the
    // exact text its hashes cover.
    let mut items = store.items(&super::item::ItemFilter::default())?;
    let mut escaped = 0;
    let mut escape = |v: &mut String| {
        if crate::text::forbidden_char(v).is_some() {
            *v = crate::text::printable(v).into_owned();
            escaped += 1;
        }
    };
    for it in &mut items {
        let r = &mut it.report;
        for v in [&mut r.external_id, &mut r.study, &mut r.subject, &mut r.reported_term] {
            escape(v);
        }
        for v in [&mut r.onset_date, &mut r.seriousness, &mut r.investigator].into_iter().flatten() {
            escape(v);
        }
        if let Some(v) = it.comment.as_mut() {
            escape(v);
        }
    }
    for it in &items {
        tx.execute(
            &format!("INSERT INTO medcoder.item({ITEM_COLUMNS}, term_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, medcoder.normalize_term($5))"),
            &[
                &it.id,
                &it.external_id,
                &it.study,
                &it.subject,
                &it.reported_term,
                &it.onset_date,
                &it.seriousness,
                &it.investigator,
                &it.state.as_str(),
                &it.llt_code.map(|c| c as i32),
                &it.pt_code.map(|c| c as i32),
                &it.meddra_version,
                &it.source,
                &it.proposer,
                &it.reviewer,
                &it.comment,
                &it.revision,
                &it.imported_at,
                &it.updated_at,
                &it.updated_by,
                &it.proposed_at,
                &it.confirmed_at,
            ],
        )?;
    }
    tx.batch_execute("SELECT setval(pg_get_serial_sequence('medcoder.item', 'id'), GREATEST((SELECT max(id) FROM medcoder.item), 1))")?;
    // The synonym list of the active version, as the SQLite audit found it backed by its log.
    let mut synonyms = 0;
    if let Some(v) = &version {
        for y in store.synonyms(v)? {
            tx.execute(
                "INSERT INTO medcoder.synonym VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10, $11, $12, nextval('medcoder.synonym_seq'),
                   $13)",
                &[
                    &y.term,
                    &y.meddra_version,
                    &(y.llt_code as i32),
                    &y.origin,
                    &(y.confirmations as i32),
                    &y.external_id,
                    &y.reported_term,
                    &y.proposer,
                    &y.reviewer,
                    &y.updated_at,
                    &y.updated_by,
                    &y.hold,
                    &y.imported_by,
                ],
            )?;
            synonyms += 1;
        }
    }
    for e in &entries {
        let x = &e.entry;
        tx.execute(
            &format!("INSERT INTO medcoder.imported_log({IMPORTED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"),
            &[
                &e.seq,
                &e.at,
                &x.user,
                &x.action,
                &x.item_id,
                &x.external_id,
                &x.reported_term,
                &x.state_from,
                &x.state_to,
                &x.llt_code.map(i64::from),
                &x.llt_name,
                &x.pt_code.map(i64::from),
                &x.pt_name,
                &x.meddra_version,
                &x.model_version,
                &x.proposals,
                &x.entropy,
                &x.chosen_rank,
                &x.source,
                &x.comment,
                &e.prev_hash,
                &e.hash,
            ],
        )?;
    }
    let head = chain.head().map(|(seq, hash)| (seq, hash.to_string()));
    if let Some((_, hash)) = &head {
        tx.execute("UPDATE medcoder.log_head SET hash = $1", &[hash])?;
    }
    // The copied history's anchors come along, so `audit verify` keeps checking the copied log
    // against them; their count and newest head are in the hash-chained 'db copy' row.
    for (line, a) in &anchors {
        tx.execute("INSERT INTO medcoder.copied_anchor VALUES ($1, $2, $3, $4)", &[&(*line as i64), &a.seq, &a.hash, &a.at])?;
    }
    let anchored = match anchors.last() {
        Some((_, a)) => format!("; {} anchor(s) from {}, newest row {} {}", anchors.len(), anchor_file.display(), a.seq, a.hash),
        None => "; no anchors".to_string(),
    };
    let digest = match &version {
        Some(v) => {
            let d: String = tx.query_one("SELECT medcoder.release_digest($1)", &[v])?.get(0);
            format!("; release digest {d}")
        }
        None => String::new(),
    };
    let note = match &head {
        Some((seq, hash)) => format!("from {origin}: {} items, {} users, log rows 1-{seq} (head {hash}){anchored}{digest}", items.len(), users.len()),
        None => format!("from {origin}: {} items, {} users, no log rows{anchored}{digest}", items.len(), users.len()),
    };
    tx.execute("SELECT medcoder.append_log('db copy', NULL, NULL, NULL, NULL, NULL, NULL, NULL, $1::text, NULL, $2::text)", &[&version, &note])?;
    let verdict = verify_in(&mut tx)?;
    if let Some(Verdict::Broken { seq, reason }) = verdict.imported.clone().filter(|v| matches!(v, Verdict::Broken { .. })) {
        bail!("after the copy the copied log does not verify at row {seq} ({reason}); nothing was copied");
    }
    if let Verdict::Broken { seq, reason } = verdict.own {
        bail!("after the copy the team log does not verify at row {seq} ({reason}); nothing was copied");
    }
    tx.commit()?;
    Ok(CopyReport { users: users.len(), items: items.len(), log_rows: entries.len(), llts, synonyms, version, escaped, anchors: anchors.len() })
}

const LOG_COLUMNS: &str = "seq, at, username, action, item_id, external_id, reported_term, state_from, state_to, llt_code, pt_code, meddra_version, source, comment, model_version, proposals, entropy, chosen_rank, prev_hash, hash";

/// A row of the team database's decision log.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LogRow {
    pub seq: i64,
    pub at: String,
    pub user: String,
    pub action: String,
    pub item_id: Option<i64>,
    pub external_id: Option<String>,
    pub reported_term: Option<String>,
    pub state_from: Option<String>,
    pub state_to: Option<String>,
    pub llt_code: Option<i32>,
    pub pt_code: Option<i32>,
    pub meddra_version: Option<String>,
    pub source: Option<String>,
    pub comment: Option<String>,
    pub model_version: Option<String>,
    pub proposals: Option<String>,
    /// As the server wrote it (hashed as text).
    pub entropy: Option<String>,
    pub chosen_rank: Option<i32>,
    pub prev_hash: String,
    pub hash: String,
}

impl LogRow {
    fn from_row(r: &Row) -> LogRow {
        LogRow {
            seq: r.get(0),
            at: r.get(1),
            user: r.get(2),
            action: r.get(3),
            item_id: r.get(4),
            external_id: r.get(5),
            reported_term: r.get(6),
            state_from: r.get(7),
            state_to: r.get(8),
            llt_code: r.get(9),
            pt_code: r.get(10),
            meddra_version: r.get(11),
            source: r.get(12),
            comment: r.get(13),
            model_version: r.get(14),
            proposals: r.get(15),
            entropy: r.get(16),
            chosen_rank: r.get(17),
            prev_hash: r.get(18),
            hash: r.get(19),
        }
    }

    /// As the audit's state rebuild reads a row (the fields both logs have).
    fn as_logged(&self) -> LoggedEntry {
        LoggedEntry {
            seq: self.seq,
            at: self.at.clone(),
            entry: Entry {
                user: self.user.clone(),
                action: self.action.clone(),
                item_id: self.item_id,
                external_id: self.external_id.clone(),
                reported_term: self.reported_term.clone(),
                state_from: self.state_from.clone(),
                state_to: self.state_to.clone(),
                llt_code: self.llt_code.map(|c| c as u32),
                pt_code: self.pt_code.map(|c| c as u32),
                meddra_version: self.meddra_version.clone(),
                source: self.source.clone(),
                comment: self.comment.clone(),
                model_version: self.model_version.clone(),
                proposals: self.proposals.clone(),
                entropy: self.entropy.as_deref().and_then(|e| e.parse().ok()),
                chosen_rank: self.chosen_rank.map(i64::from),
                ..Default::default()
            },
            prev_hash: self.prev_hash.clone(),
            hash: self.hash.clone(),
        }
    }

    /// The text the server hashed (`medcoder.log_body` in schema.sql).
    fn body(&self) -> String {
        let num = |v: Option<i64>| v.map(|n| n.to_string());
        let fields = [
            Some(self.seq.to_string()),
            Some(self.at.clone()),
            Some(self.user.clone()),
            Some(self.action.clone()),
            num(self.item_id),
            self.external_id.clone(),
            self.reported_term.clone(),
            self.state_from.clone(),
            self.state_to.clone(),
            num(self.llt_code.map(i64::from)),
            num(self.pt_code.map(i64::from)),
            self.meddra_version.clone(),
            self.source.clone(),
            self.comment.clone(),
            self.model_version.clone(),
            self.proposals.clone(),
            self.entropy.clone(),
            num(self.chosen_rank.map(i64::from)),
            Some(self.prev_hash.clone()),
        ];
        fields.iter().map(|f| f.as_ref().map_or_else(|| "~".to_string(), |s| format!("{}:{s}", s.chars().count()))).collect::<Vec<_>>().join("|")
    }
}

fn verify_chain(rows: &[LogRow], head_seq: i64, head_hash: &str, start: &str) -> Verdict {
    let mut prev = start.to_string();
    for (i, r) in rows.iter().enumerate() {
        let broken = |reason: String| Verdict::Broken { seq: r.seq, reason };
        if r.seq != i as i64 + 1 {
            return broken(format!("expected row {} here: rows are missing", i + 1));
        }
        if r.prev_hash != prev {
            return broken("its previous-hash does not match the row before it".into());
        }
        if hex::encode(Sha256::digest(r.body().as_bytes())) != r.hash {
            return broken("its content does not match its hash (the row was changed)".into());
        }
        prev = r.hash.clone();
    }
    let last = rows.last().map_or(0, |r| r.seq);
    if head_seq != last || head_hash != prev {
        return Verdict::Broken { seq: last, reason: format!("the recorded head is row {head_seq}: rows after {last} were removed") };
    }
    Verdict::Intact { rows: rows.len() }
}

fn item_from_row(r: &Row) -> Result<Item> {
    let state: String = r.get(8);
    let code = |i: usize| r.get::<_, Option<i32>>(i).map(|c| c as u32);
    Ok(Item {
        id: r.get(0),
        report: Report {
            external_id: r.get(1),
            study: r.get(2),
            subject: r.get(3),
            reported_term: r.get(4),
            onset_date: r.get(5),
            seriousness: r.get(6),
            investigator: r.get(7),
        },
        state: State::parse(&state)?,
        llt_code: code(9),
        pt_code: code(10),
        meddra_version: r.get(11),
        source: r.get(12),
        proposer: r.get(13),
        reviewer: r.get(14),
        comment: r.get(15),
        revision: r.get(16),
        imported_at: r.get(17),
        updated_at: r.get(18),
        updated_by: r.get(19),
        proposed_at: r.get(20),
        confirmed_at: r.get(21),
    })
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
