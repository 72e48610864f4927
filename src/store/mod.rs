//! The SQLite store: one database file holding dictionary releases, the coding queue and the
//! decision log. Schema changes are numbered migrations applied in order (PRAGMA user_version).

pub mod audit;
pub mod dict;
pub mod item;
pub mod log;
pub mod proposals;
pub mod queue;
pub mod reports;
pub mod synonyms;
pub mod users;
pub mod workflow;

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
];

pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating the data directory {}", dir.display()))?;
        }
        let conn = Connection::open(path).with_context(|| format!("opening database {}", path.display()))?;
        // WAL lets a reviewer read while a proposer writes; busy_timeout makes concurrent writers
        // wait for each other instead of failing at once.
        conn.pragma_update(None, "journal_mode", "WAL").context("enabling WAL mode")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Reads of a large queue come from memory-mapped pages instead of a read() copy of each
        // page per query (the desk's full reload at 50,000 items: see BENCHMARKS.md).
        conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
        register_functions(&conn)?;
        let mut store = Store { conn, path: path.to_path_buf() };
        store.migrate().with_context(|| format!("upgrading the schema of {}", path.display()))?;
        Ok(store)
    }

    /// An in-memory store for tests.
    pub fn in_memory() -> Result<Store> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        register_functions(&conn)?;
        let mut store = Store { conn, path: PathBuf::from(":memory:") };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<usize> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize)
    }

    fn migrate(&mut self) -> Result<()> {
        let current = self.schema_version()?;
        if current > MIGRATIONS.len() {
            anyhow::bail!("database schema version {current} is newer than this medcoder understands ({}); upgrade medcoder", MIGRATIONS.len());
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql).with_context(|| format!("applying migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
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

/// A team setting, read on any connection or inside a transaction.
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
