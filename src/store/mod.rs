//! The SQLite store: one database file holding dictionary releases, the coding queue and the
//! decision log. Schema changes are numbered migrations applied in order (PRAGMA user_version).

pub mod api;
pub mod audit;
pub mod bulk;
pub mod datasets;
pub mod dict;
pub mod governance;
pub mod item;
pub mod lifecycle;
pub mod log;
pub mod model_first;
pub mod pin;
pub mod postgres;
pub mod proposals;
pub mod queue;
pub mod reports;
mod sqlite;
pub mod synonyms;
pub mod target;
pub mod users;
pub mod workflow;
pub mod worklist;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rusqlite::Connection;

/// Each entry moves the schema from version i to i + 1. Never edit a released entry: add one.
const MIGRATIONS: &[&str] = &[
    include_str!("sql/001_dictionary.sql"),
    include_str!("sql/002_workflow.sql"),
    include_str!("sql/003_queue_filters.sql"),
    include_str!("sql/004_synonyms.sql"),
    include_str!("sql/005_user_nocase.sql"),
    include_str!("sql/006_identity.sql"),
    include_str!("sql/007_trust.sql"),
    include_str!("sql/008_lifecycle.sql"),
    include_str!("sql/009_datasets.sql"),
    include_str!("sql/010_confidence.sql"),
    include_str!("sql/011_governance.sql"),
    include_str!("sql/012_synonym_scope.sql"),
];

pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Who runs the model through this connection (the session's user): model-first codes record
    /// them, and they may not confirm those codes. None: the user of this OS login, if any.
    runner: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date. A database whose
    /// file or folder is not writable is opened read-only: reading commands work, and a write
    /// fails naming the file and what to do.
    pub fn open(path: &Path) -> Result<Store> {
        // The connection the acting user was resolved on serves the command (see `adopt`).
        if let Some(store) = pin::take_adopted(path) {
            return Ok(store);
        }
        let before = pin::open_files();
        let store = Self::open_unpinned(path)?;
        pin::check(path, &before)?;
        Ok(store)
    }

    /// The connection identity was resolved on becomes the one the command's first `open` of the
    /// same path returns, and the file it opened is pinned: a later open in this process that
    /// reaches another file (a symlink or folder swapped meanwhile) fails. Identity is never
    /// checked on one file and acted on in another.
    pub fn adopt(self, opened_before: &pin::OpenFiles) -> Result<()> {
        pin::adopt(self, opened_before)
    }

    fn open_unpinned(path: &Path) -> Result<Store> {
        match Self::open_writable(path) {
            Ok(s) => Ok(s),
            Err(e) => match not_writable(path) {
                Some(why) => Self::open_read_only(path, &why).map_err(|ro| e.context(format!("{ro:#}"))),
                None => Err(e),
            },
        }
    }

    fn open_read_only(path: &Path, why: &str) -> Result<Store> {
        use rusqlite::OpenFlags;
        // Without a writable folder SQLite cannot make the WAL index: read the file as unchanging.
        let dir_writable = folder_writable(path);
        // An immutable read ignores a -wal file: with recent writes in one, it would show stale data.
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        if !dir_writable && std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            anyhow::bail!(
                "{} ({why}) has recent changes in {} that a reader cannot apply: ask its owner to close medcoder, or make the folder writable",
                path.display(),
                wal.display()
            );
        }
        // The path percent-encoded: a '?' or '#' in a file name must not become URI parameters.
        let encoded = path.display().to_string().replace('%', "%25").replace('?', "%3f").replace('#', "%23");
        let uri = format!("file:{encoded}?{}", if dir_writable { "mode=ro" } else { "immutable=1" });
        let conn = Connection::open_with_flags(&uri, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)
            .with_context(|| format!("opening database {} read-only", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        register_functions(&conn)?;
        let store = Store { conn, path: path.to_path_buf(), runner: None };
        let v = store.schema_version().with_context(|| format!("{} is not a medcoder database", path.display()))?;
        if v != MIGRATIONS.len() {
            anyhow::bail!(
                "{} ({why}) has schema version {v}, this medcoder needs {}: open it once with write access to upgrade it",
                path.display(),
                MIGRATIONS.len()
            );
        }
        Ok(store)
    }

    fn open_writable(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
        }
        // No SQLITE_OPEN_URI: a path is a path, never a `file:` URI naming some other file.
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).with_context(|| format!("opening database {}", path.display()))?;
        // WAL lets a reviewer read while a proposer writes; busy_timeout makes concurrent writers
        // wait for each other instead of failing at once.
        conn.pragma_update(None, "journal_mode", "WAL").with_context(|| format!("{} is not a medcoder database (or is damaged)", path.display()))?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Reads of a large queue come from memory-mapped pages instead of a read() copy of each
        // page per query (the desk's full reload at 50,000 items: see BENCHMARKS.md).
        conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
        register_functions(&conn)?;
        let mut store = Store { conn, path: path.to_path_buf(), runner: None };
        store.migrate().with_context(|| format!("upgrading the schema of {}", path.display()))?;
        Ok(store)
    }

    /// Why this store cannot be written, when it was opened read-only.
    pub fn read_only_reason(&self) -> Option<String> {
        self.conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false).then(|| not_writable(&self.path).unwrap_or_else(|| "opened read-only".into()))
    }

    /// An in-memory store for tests.
    pub fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        register_functions(&conn)?;
        let mut store = Store { conn, path: PathBuf::from(":memory:"), runner: None };
        store.migrate()?;
        Ok(store)
    }

    /// Reads everything until the guard drops from one snapshot of the database (a read
    /// transaction: colleagues' commits meanwhile are not seen), as `db copy` needs.
    pub fn snapshot(&self) -> Result<Snapshot<'_>> {
        self.conn.execute_batch("BEGIN DEFERRED").context("starting a read snapshot")?;
        // The snapshot starts with the first read.
        self.conn.query_row("SELECT count(*) FROM decision_log", [], |r| r.get::<_, i64>(0)).context("starting a read snapshot")?;
        Ok(Snapshot { conn: &self.conn })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Changes whenever another connection (a colleague's desk, the proposal service) commits:
    /// SQLite's data_version, which costs no read of the data.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    pub fn schema_version(&self) -> Result<usize> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize)
    }

    fn migrate(&mut self) -> Result<()> {
        let current = self.schema_version()?;
        if current > MIGRATIONS.len() {
            anyhow::bail!("database schema version {current} is newer than this medcoder understands ({}); upgrade medcoder", MIGRATIONS.len());
        }
        if current == MIGRATIONS.len() {
            return Ok(());
        }
        // A migration may rebuild a table (SQLite cannot widen a CHECK in place), which needs
        // foreign keys off; they are checked before they are turned back on.
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql).with_context(|| format!("applying migration {}", i + 1))?;
            let broken: Option<String> =
                rusqlite::OptionalExtension::optional(tx.query_row("SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1", [], |r| r.get(0)))?;
            if let Some(table) = broken {
                anyhow::bail!("migration {} would leave a row of {table} pointing nowhere; the database is unchanged", i + 1);
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        setting_in(&self.conn, key)
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute("INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])?;
        Ok(())
    }
}

/// What the proposal engine and training read and write, on either backend: releases, the open
/// items that lack a model's proposals, the proposals, the synonym list's changes (the coded-term
/// memory) and the confirmed decisions. The desk's worker, the proposal service, `train`, `predict`
/// and `eval` use only this.
pub trait ProposalStore {
    fn active_meddra_version(&mut self) -> Result<Option<String>>;
    /// A whole release (the active one by default), for the engine's labels.
    fn release_of(&mut self, version: Option<&str>) -> Result<crate::meddra::Dictionary>;
    fn active_release(&mut self) -> Result<crate::meddra::Dictionary> {
        self.release_of(None)
    }
    /// The team's confirmed decisions, newest per term: training data.
    fn confirmed_pairs(&mut self) -> Result<Vec<reports::TrainingPair>>;
    /// Open items (id, reported term) without proposals from this model for this version (every
    /// open item when `all`).
    fn needing_proposals(&mut self, model_version: &str, meddra_version: &str, all: bool) -> Result<Vec<(i64, String)>>;
    fn store_proposals(&mut self, sets: &[(i64, proposals::ProposalSet)]) -> Result<()>;
    /// The newest synonym change of a version (0: none) and the changes after `seq`.
    fn synonym_seq_of(&mut self, version: &str) -> Result<i64>;
    fn synonym_changes(&mut self, version: &str, seq: i64) -> Result<Vec<synonyms::Synonym>>;
    /// Whether the store still answers: after a failed write, tells a gone database from a bad item.
    fn answers(&mut self) -> bool;
    /// Who runs the model through this store (model-first codes record them). A team database
    /// knows its connection's user and ignores this.
    fn run_as(&mut self, _user: Option<&str>) {}
    /// The confirmed decisions with the proposals they were taken with: what the engine's
    /// calibration learns from.
    fn decided_cases(&mut self) -> Result<Vec<crate::backtest::Case>>;
}

impl ProposalStore for Store {
    fn run_as(&mut self, user: Option<&str>) {
        self.runner = user.map(String::from);
    }
    fn decided_cases(&mut self) -> Result<Vec<crate::backtest::Case>> {
        self.backtest_cases(None)
    }
    fn active_meddra_version(&mut self) -> Result<Option<String>> {
        self.active_version()
    }
    fn release_of(&mut self, version: Option<&str>) -> Result<crate::meddra::Dictionary> {
        self.dictionary_or_active(version)
    }
    fn confirmed_pairs(&mut self) -> Result<Vec<reports::TrainingPair>> {
        self.training_pairs()
    }
    fn needing_proposals(&mut self, model_version: &str, meddra_version: &str, all: bool) -> Result<Vec<(i64, String)>> {
        Ok(self.items_needing_proposals(model_version, meddra_version, all)?.into_iter().map(|i| (i.id, i.report.reported_term)).collect())
    }
    fn store_proposals(&mut self, sets: &[(i64, proposals::ProposalSet)]) -> Result<()> {
        self.set_proposals(sets)
    }
    fn synonym_seq_of(&mut self, version: &str) -> Result<i64> {
        self.synonym_seq(version)
    }
    fn synonym_changes(&mut self, version: &str, seq: i64) -> Result<Vec<synonyms::Synonym>> {
        self.synonyms_since(version, seq)
    }
    fn answers(&mut self) -> bool {
        self.schema_version().is_ok()
    }
}

/// A read snapshot of a store (see `Store::snapshot`); ends when dropped.
pub struct Snapshot<'a> {
    conn: &'a Connection,
}

impl Drop for Snapshot<'_> {
    fn drop(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}

/// A team setting, read on any connection or inside a transaction.
/// Why `path` (an existing database) cannot be written: the file, or its folder (SQLite writes its
/// -wal and -shm files beside it). None when both are writable or the file does not exist.
pub fn not_writable(path: &Path) -> Option<String> {
    if !path.exists() {
        return None;
    }
    if std::fs::OpenOptions::new().append(true).open(path).is_err() {
        return Some(format!("the file {} is not writable", path.display()));
    }
    if !folder_writable(path) {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        return Some(format!("its folder {} is not writable", dir.display()));
    }
    None
}

fn folder_writable(path: &Path) -> bool {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    tempfile::NamedTempFile::new_in(dir).is_ok()
}

pub(crate) fn setting_in(conn: &Connection, key: &str) -> Result<Option<String>> {
    use rusqlite::OptionalExtension;
    Ok(conn.query_row("SELECT value FROM setting WHERE key = ?1", [key], |r| r.get(0)).optional()?)
}

/// SQL functions the queries use: `normalize(text)` is `crate::text::normalize`, so filters in
/// SQL match exactly as the rest of medcoder compares terms.
fn register_functions(conn: &Connection) -> Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function("normalize", 1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, |ctx| {
        Ok(ctx.get::<Option<String>>(0)?.map(|s| crate::text::normalize(&s)))
    })
    .context("registering SQL functions")?;
    // synonym_key(term_key, the setting synonym_qualifiers or NULL): what the triggers keep in
    // item.syn_key. The parsed list is kept for the text it came from.
    let parsed: std::sync::Mutex<Option<(Option<String>, Vec<String>)>> = std::sync::Mutex::new(None);
    conn.create_scalar_function("synonym_key", 2, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, move |ctx| {
        let Some(term) = ctx.get::<Option<String>>(0)? else { return Ok(None) };
        let setting = ctx.get::<Option<String>>(1)?;
        let mut cache = parsed.lock().map_err(|_| rusqlite::Error::UserFunctionError("synonym_key: poisoned".into()))?;
        if cache.as_ref().is_none_or(|(s, _)| *s != setting) {
            let list = crate::qualifiers::from_setting(setting.as_deref()).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))?;
            *cache = Some((setting, list));
        }
        Ok(Some(crate::qualifiers::key(&term, &cache.as_ref().expect("just set").1)))
    })
    .context("registering SQL functions")
}

/// Current time as RFC 3339 UTC with milliseconds: sortable as text.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/m.db");
        let s = Store::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len());
        s.set_setting("k", "v").unwrap();
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.setting("k").unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        drop(Store::open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
        drop(c);
        let err = format!("{:#}", Store::open(&path).err().unwrap());
        assert!(err.contains("newer than this medcoder"), "{err}");
    }
}
