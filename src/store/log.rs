//! The append-only decision log. Every row carries the SHA-256 of its content chained to the
//! previous row's hash, and the newest (seq, hash) is kept as the log head, so `audit verify` finds
//! any edit, deletion or truncation made behind medcoder's back (the triggers already refuse
//! UPDATE and DELETE through SQL; the chain catches whoever drops them).

use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Store;

const HEAD: &str = "log_head";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an action writes to the log; `at`, `seq` and the hashes are added on append.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entry {
    pub user: String,
    pub action: String,
    pub item_id: Option<i64>,
    pub external_id: Option<String>,
    pub reported_term: Option<String>,
    pub state_from: Option<String>,
    pub state_to: Option<String>,
    pub llt_code: Option<u32>,
    pub llt_name: Option<String>,
    pub pt_code: Option<u32>,
    pub pt_name: Option<String>,
    pub meddra_version: Option<String>,
    pub model_version: Option<String>,
    /// The engine's top-5 at the time (JSON), when there was one.
    pub proposals: Option<String>,
    pub entropy: Option<f64>,
    /// 1-based rank of the chosen LLT among the proposals; None when it was not among them.
    pub chosen_rank: Option<i64>,
    /// How the code was found: model, search, browse, rule, ...
    pub source: Option<String>,
    pub comment: Option<String>,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedEntry {
    pub seq: i64,
    pub at: String,
    #[serde(flatten)]
    pub entry: Entry,
    pub prev_hash: String,
    pub hash: String,
}

/// Outcome of `audit verify`.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Intact { rows: usize },
    Broken { seq: i64, reason: String },
}

fn hash_of(seq: i64, at: &str, e: &Entry, prev: &str) -> String {
    // serde_json writes fields in declaration order, so this is canonical.
    let body = serde_json::to_string(&(seq, at, e, prev)).expect("log entries serialise");
    hex::encode(Sha256::digest(body.as_bytes()))
}

const COLUMNS: &str = "seq, at, user, action, item_id, external_id, reported_term, state_from, state_to, llt_code, llt_name, pt_code, pt_name, meddra_version, model_version, proposals, entropy, chosen_rank, source, comment, prev_hash, hash";

fn from_row(r: &Row<'_>) -> rusqlite::Result<LoggedEntry> {
    Ok(LoggedEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        entry: Entry {
            user: r.get(2)?,
            action: r.get(3)?,
            item_id: r.get(4)?,
            external_id: r.get(5)?,
            reported_term: r.get(6)?,
            state_from: r.get(7)?,
            state_to: r.get(8)?,
            llt_code: r.get(9)?,
            llt_name: r.get(10)?,
            pt_code: r.get(11)?,
            pt_name: r.get(12)?,
            meddra_version: r.get(13)?,
            model_version: r.get(14)?,
            proposals: r.get(15)?,
            entropy: r.get(16)?,
            chosen_rank: r.get(17)?,
            source: r.get(18)?,
            comment: r.get(19)?,
        },
        prev_hash: r.get(20)?,
        hash: r.get(21)?,
    })
}

/// Appends one row inside the caller's transaction, so the log and the change it records commit
/// together or not at all.
pub fn append(tx: &Transaction<'_>, e: &Entry) -> Result<i64> {
    let head: Option<(i64, String)> =
        tx.query_row("SELECT seq, hash FROM decision_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let at = super::now();
    let hash = hash_of(seq, &at, e, &prev);
    tx.execute(
        &format!(
            "INSERT INTO decision_log({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
        ),
        params![
            seq,
            at,
            e.user,
            e.action,
            e.item_id,
            e.external_id,
            e.reported_term,
            e.state_from,
            e.state_to,
            e.llt_code,
            e.llt_name,
            e.pt_code,
            e.pt_name,
            e.meddra_version,
            e.model_version,
            e.proposals,
            e.entropy,
            e.chosen_rank,
            e.source,
            e.comment,
            prev,
            hash
        ],
    )
    .context("appending to the decision log")?;
    tx.execute(
        "INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![HEAD, format!("{seq} {hash}")],
    )?;
    Ok(seq)
}

impl Store {
    /// Log rows in order, optionally only those of one item.
    pub fn log_entries(&self, item_id: Option<i64>) -> Result<Vec<LoggedEntry>> {
        // Two statements: `?1 IS NULL OR item_id = ?1` would keep SQLite from using the item index,
        // and one item's history is read every time an item is opened.
        let filter = if item_id.is_some() { "WHERE item_id = ?1" } else { "" };
        let mut st = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM decision_log {filter} ORDER BY seq"))?;
        let rows = st.query_map(rusqlite::params_from_iter(item_id), from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Recomputes the chain from the first row and compares it with the stored hashes and head.
    pub fn verify_log(&self) -> Result<Verdict> {
        let mut st = self.conn.prepare(&format!("SELECT {COLUMNS} FROM decision_log ORDER BY seq"))?;
        let mut rows = st.query([])?;
        let mut chain = Chain::default();
        while let Some(r) = rows.next()? {
            if let Some(broken) = chain.push(&from_row(r)?) {
                return Ok(broken);
            }
        }
        let head = self.setting(HEAD)?;
        let last = chain.head().map(|(seq, hash)| format!("{seq} {hash}"));
        if head != last {
            let seq = head.as_deref().and_then(|h| h.split(' ').next()).and_then(|s| s.parse().ok()).unwrap_or(chain.rows as i64 + 1);
            return Ok(Verdict::Broken {
                seq,
                reason: format!("the log ends at row {} but its head records {}", chain.rows, head.unwrap_or_else(|| "no rows".into())),
            });
        }
        Ok(Verdict::Intact { rows: chain.rows })
    }
}

/// Checks log rows one after another, from the first: numbering, links and hashes. Used for this
/// store's log and for a SQLite log copied into a team database (`db copy`).
#[derive(Debug, Default)]
pub struct Chain {
    rows: usize,
    prev: Option<String>,
}

impl Chain {
    /// The next row; Some(why) when the chain breaks at it.
    pub fn push(&mut self, e: &LoggedEntry) -> Option<Verdict> {
        let expected_seq = self.rows as i64 + 1;
        if e.seq != expected_seq {
            return Some(Verdict::Broken { seq: expected_seq, reason: format!("row {expected_seq} is missing (next row is {})", e.seq) });
        }
        if e.prev_hash != self.prev.as_deref().unwrap_or(GENESIS) {
            return Some(Verdict::Broken { seq: e.seq, reason: "its link to the previous row does not match (a row before it was changed or removed)".into() });
        }
        if hash_of(e.seq, &e.at, &e.entry, &e.prev_hash) != e.hash {
            return Some(Verdict::Broken { seq: e.seq, reason: "its content does not match its hash (the row was edited)".into() });
        }
        self.prev = Some(e.hash.clone());
        self.rows += 1;
        None
    }

    /// The last row checked: (seq, hash).
    pub fn head(&self) -> Option<(usize, &str)> {
        self.prev.as_deref().map(|h| (self.rows, h))
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(s: &mut Store, action: &str) {
        let tx = s.conn.transaction().unwrap();
        append(&tx, &Entry { user: "u".into(), action: action.into(), entropy: Some(0.25), ..Default::default() }).unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn chain_verifies_and_refuses_sql_changes() {
        let mut s = Store::in_memory().unwrap();
        assert_eq!(s.verify_log().unwrap(), Verdict::Intact { rows: 0 });
        for a in ["a", "b", "c"] {
            add(&mut s, a);
        }
        assert_eq!(s.verify_log().unwrap(), Verdict::Intact { rows: 3 });
        let e = s.conn.execute("UPDATE decision_log SET comment = 'x' WHERE seq = 2", []).unwrap_err().to_string();
        assert!(e.contains("append-only"), "{e}");
        let e = s.conn.execute("DELETE FROM decision_log WHERE seq = 3", []).unwrap_err().to_string();
        assert!(e.contains("append-only"), "{e}");
    }

    #[test]
    fn detects_edit_deletion_and_truncation() {
        for (sql, seq) in [
            ("UPDATE decision_log SET user = 'mallory' WHERE seq = 2", 2),
            ("DELETE FROM decision_log WHERE seq = 2", 2),
            ("DELETE FROM decision_log WHERE seq = 3", 3),
        ] {
            let mut s = Store::in_memory().unwrap();
            for a in ["a", "b", "c"] {
                add(&mut s, a);
            }
            s.conn.execute_batch("DROP TRIGGER decision_log_no_update; DROP TRIGGER decision_log_no_delete;").unwrap();
            s.conn.execute(sql, []).unwrap();
            match s.verify_log().unwrap() {
                Verdict::Broken { seq: got, .. } => assert_eq!(got, seq, "{sql}"),
                v => panic!("{sql}: {v:?}"),
            }
        }
    }
}
