//! What `--db` (or `MEDCODER_DB`) may name: a SQLite file path or a PostgreSQL URL, nothing else.
//!
//! SQLite would also take `file:` URIs and `:memory:`; a URI names the same file under another
//! spelling, and identity was once checked only when the spelling existed as a path (issue #19), so
//! every other form is refused before anything is opened. A password inside a URL is refused too:
//! it would sign confirmations without anybody typing it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// Parses `--db`: a PostgreSQL URL (`postgres://` or `postgresql://`, without a password), or a
    /// path to a SQLite file.
    pub fn parse(db: &Path) -> Result<Target> {
        let Some(text) = db.to_str() else {
            return Ok(Target::Sqlite(db.to_path_buf()));
        };
        if super::postgres::is_url(text) {
            if super::postgres::url_has_password(text)? {
                bail!(
                    "--db {}: a password in the URL is refused (it would sign without being typed); leave it out and medcoder asks for it, or use --password-stdin",
                    super::postgres::redact(text)
                );
            }
            return Ok(Target::Postgres(text.to_string()));
        }
        let lower = text.to_ascii_lowercase();
        if text.trim().is_empty() {
            bail!("--db is empty: give a database file path or a postgres:// URL");
        }
        if lower.starts_with("file:") || lower.starts_with("sqlite:") || text.starts_with(":memory") || lower.contains("://") {
            bail!(
                "--db {}: give a database file path (e.g. ./medcoder.db) or a postgres:// URL; SQLite URIs (file:...), :memory: and other schemes are refused",
                crate::text::printable(text)
            );
        }
        Ok(Target::Sqlite(db.to_path_buf()))
    }

    /// `db copy --from`: `sqlite:FILE` or a plain path.
    pub fn sqlite_source(from: &str) -> Result<PathBuf> {
        let file = from.strip_prefix("sqlite:").unwrap_or(from);
        match Target::parse(Path::new(file))? {
            Target::Sqlite(p) => Ok(p),
            Target::Postgres(_) => bail!("--from must be a SQLite file (sqlite:FILE)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_and_postgres_urls_without_passwords() {
        assert_eq!(Target::parse(Path::new("medcoder.db")).unwrap(), Target::Sqlite("medcoder.db".into()));
        assert_eq!(Target::parse(Path::new("/a/b.db")).unwrap(), Target::Sqlite("/a/b.db".into()));
        assert_eq!(Target::parse(Path::new("postgresql:///coding")).unwrap(), Target::Postgres("postgresql:///coding".into()));
        assert!(matches!(Target::parse(Path::new("postgres://rita@h/coding")).unwrap(), Target::Postgres(_)));
        for bad in [
            "file:medcoder.db",
            "FILE:/abs/medcoder.db",
            ":memory:",
            "sqlite:x.db",
            "mysql://h/x",
            "",
            "postgres://rita:pw@h/coding",
            "postgresql:///coding?password=pw",
        ] {
            assert!(Target::parse(Path::new(bad)).is_err(), "{bad}");
        }
        assert_eq!(Target::sqlite_source("sqlite:/a/b.db").unwrap(), PathBuf::from("/a/b.db"));
        assert!(Target::sqlite_source("sqlite:file:/a/b.db").is_err());
    }
}
