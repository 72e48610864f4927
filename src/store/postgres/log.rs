//! The team decision log: its rows, both hash chains (the copied one and the own), anchors' location.

use super::*;

impl TeamStore {
    /// The newest row of this database's log (what an export is made at).
    pub fn log_head(&mut self) -> Result<Option<crate::store::audit::Head>> {
        let row = self.client.query_opt("SELECT seq, hash, at FROM medcoder.decision_log ORDER BY seq DESC LIMIT 1", &[])?;
        Ok(row.map(|r| crate::store::audit::Head { seq: r.get(0), hash: r.get(1), at: r.get(2) }))
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

pub(super) fn verify(client: &mut Client) -> Result<LogVerdict> {
    let mut tx = client.transaction()?;
    verify_in(&mut tx)
}

/// Both chains, read in one transaction (a consistent snapshot while others append).
pub(super) fn verify_in(client: &mut postgres::Transaction<'_>) -> Result<LogVerdict> {
    let mut chain = crate::store::log::Chain::default();
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

pub(super) const IMPORTED_COLUMNS: &str = "seq, at, username, action, item_id, external_id, reported_term, state_from, state_to, llt_code, llt_name, pt_code, pt_name, meddra_version, model_version, proposals, entropy, chosen_rank, source, comment, prev_hash, hash";

pub(super) fn logged_entry(r: &Row) -> LoggedEntry {
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

pub(super) const LOG_COLUMNS: &str = "seq, at, username, action, item_id, external_id, reported_term, state_from, state_to, llt_code, pt_code, meddra_version, source, comment, model_version, proposals, entropy, chosen_rank, prev_hash, hash";

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
    pub(super) fn from_row(r: &Row) -> LogRow {
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
    pub(super) fn as_logged(&self) -> LoggedEntry {
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
    pub(super) fn body(&self) -> String {
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

pub(super) fn verify_chain(rows: &[LogRow], head_seq: i64, head_hash: &str, start: &str) -> Verdict {
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
