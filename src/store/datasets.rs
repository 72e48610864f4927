//! SDTM datasets as received (issue #22), kept whole beside the items their records became, so
//! `export --sdtm` writes them back with the codes filled. A kept dataset is never changed: a
//! corrected one is received again. Its SHA-256 goes to the log, and `audit verify` recomputes it
//! on either store.

use anyhow::{anyhow, bail, Result};
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::Value;

use super::log::{self, Entry, LoggedEntry};
use super::Store;
use crate::intake::sdtm::Received;
use crate::sdtm::{digest, Dataset};

/// What is kept of a received dataset: its metadata and records as JSON, and the item id of
/// each record.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub study: String,
    pub domain: String,
    pub format: String,
    pub metadata: String,
    pub records: Vec<String>,
    pub ids: Vec<String>,
    /// The digest of metadata and records (`crate::sdtm::digest`).
    pub sha256: String,
}

impl Kept {
    /// One study per dataset: SDTM delivers a study's domain per file.
    pub fn of(r: &Received, file: &str) -> Result<Kept> {
        let mut studies: Vec<&str> = r.items.iter().map(|i| i.study.as_str()).collect();
        studies.sort_unstable();
        studies.dedup();
        if studies.len() > 1 {
            bail!("{file}: records of {} studies ({}): a dataset is received one study at a time", studies.len(), studies.join(", "));
        }
        let (metadata, records) = r.dataset.to_stored();
        Ok(Kept {
            sha256: digest(&metadata, &records),
            study: studies.first().map(|s| s.to_string()).unwrap_or_default(),
            domain: r.dataset.domain(),
            format: r.format.as_str().into(),
            metadata,
            records,
            ids: r.items.iter().map(|i| i.external_id.clone()).collect(),
        })
    }

    /// The id of `latest` (id, digest: the latest kept dataset of this study and domain) when it
    /// is this dataset as it stands: a dataset received again unchanged is not kept twice.
    pub fn unchanged_from(&self, latest: Option<(i64, String)>) -> Option<i64> {
        latest.filter(|(_, sha)| *sha == self.sha256).map(|(id, _)| id)
    }
}

/// A kept dataset, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    pub id: i64,
    pub study: String,
    pub domain: String,
    pub file: String,
    pub format: String,
    pub records: i64,
    pub sha256: String,
    pub received_by: String,
    pub received_at: String,
}

/// A record's values as received, each with its variable's name and label (the desk's context).
pub type ReceivedRecord = Vec<(String, String, Value)>;

/// The variables and values of record `values` of a dataset with metadata `meta`.
pub fn record_of(meta: &str, values: &str) -> Result<ReceivedRecord> {
    let ds = Dataset::from_stored(meta, &[values.to_string()])?;
    Ok(ds.meta.columns.into_iter().zip(ds.rows.into_iter().next().unwrap_or_default()).map(|(c, v)| (c.name, c.label, v)).collect())
}

/// The log's comment for a received dataset; `audit` reads the digest back from it.
pub fn log_comment(id: i64, domain: &str, file: &str, records: usize, sha: &str) -> String {
    format!("dataset {id}: {domain} from {file}, {records} records, sha256 {sha}")
}

/// What `audit verify` finds about the kept datasets, on either store: each dataset's stored
/// content must hash to what its log row recorded when it was received. `stored` holds (id,
/// file, recomputed digest) of each dataset kept.
pub fn findings(log: &[LoggedEntry], stored: &[(i64, String, String)]) -> Vec<String> {
    let logged: std::collections::HashMap<i64, String> = log
        .iter()
        .filter(|r| r.entry.action == "dataset")
        .filter_map(|r| {
            let c = r.entry.comment.as_deref()?;
            let id = c.strip_prefix("dataset ")?.split(':').next()?.parse().ok()?;
            Some((id, c.rsplit("sha256 ").next()?.to_string()))
        })
        .collect();
    let mut out = Vec::new();
    for (id, file, sha) in stored {
        match logged.get(id) {
            None => out.push(format!("dataset {id} ({file}) has no log row: it was not received through medcoder")),
            Some(l) if l != sha => out.push(format!("dataset {id} ({file}): its kept records differ from what was received (sha256 {sha}, the log says {l})")),
            Some(_) => {}
        }
    }
    for id in logged.keys().filter(|id| !stored.iter().any(|(s, _, _)| s == *id)) {
        out.push(format!("dataset {id} is in the log but no longer kept"));
    }
    out.sort();
    out
}

/// Keeps a received dataset inside the import's transaction, and logs it; the same dataset
/// received again as it stands (the latest of its study and domain, same digest) is not kept twice:
/// its id is returned, with false.
pub(super) fn keep(tx: &Transaction<'_>, user: &str, file: &str, k: &Kept) -> Result<(i64, bool)> {
    let sha = &k.sha256;
    let latest: Option<(i64, String)> = tx
        .query_row("SELECT id, sha256 FROM dataset WHERE study = ?1 AND domain = ?2 ORDER BY id DESC LIMIT 1", params![k.study, k.domain], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some(id) = k.unchanged_from(latest) {
        return Ok((id, false));
    }
    let now = super::now();
    tx.execute(
        "INSERT INTO dataset(study, domain, file, format, metadata, records, sha256, received_by, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![k.study, k.domain, file, k.format, k.metadata, k.records.len() as i64, sha, user, now],
    )?;
    let id = tx.last_insert_rowid();
    let mut st = tx.prepare_cached("INSERT INTO dataset_record(dataset_id, record_no, external_id, dataset_values) VALUES (?1, ?2, ?3, ?4)")?;
    for (n, (values, ext)) in k.records.iter().zip(&k.ids).enumerate() {
        st.execute(params![id, n as i64 + 1, ext, values])?;
    }
    log::append(
        tx,
        &Entry { user: user.into(), action: "dataset".into(), comment: Some(log_comment(id, &k.domain, file, k.records.len(), sha)), ..Default::default() },
    )?;
    Ok((id, true))
}

impl Store {
    pub fn datasets(&self) -> Result<Vec<DatasetInfo>> {
        let mut st = self.conn.prepare("SELECT id, study, domain, file, format, records, sha256, received_by, received_at FROM dataset ORDER BY id")?;
        let rows = st.query_map([], |r| {
            Ok(DatasetInfo {
                id: r.get(0)?,
                study: r.get(1)?,
                domain: r.get(2)?,
                file: r.get(3)?,
                format: r.get(4)?,
                records: r.get(5)?,
                sha256: r.get(6)?,
                received_by: r.get(7)?,
                received_at: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A kept dataset's metadata and records, in the received order.
    pub fn dataset_content(&self, id: i64) -> Result<(String, Vec<String>)> {
        let meta: String =
            self.conn.query_row("SELECT metadata FROM dataset WHERE id = ?1", [id], |r| r.get(0)).optional()?.ok_or_else(|| anyhow!("no dataset {id}"))?;
        let mut st = self.conn.prepare("SELECT dataset_values FROM dataset_record WHERE dataset_id = ?1 ORDER BY record_no")?;
        let rows = st.query_map([id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok((meta, rows))
    }

    /// The item id of each record of a kept dataset, in record order.
    pub fn dataset_record_ids(&self, id: i64) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("SELECT external_id FROM dataset_record WHERE dataset_id = ?1 ORDER BY record_no")?;
        let rows = st.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The record an item came from, in the latest dataset holding it (a part: its source's).
    pub fn received_record(&self, external_id: &str) -> Result<Option<ReceivedRecord>> {
        let id = external_id.split('#').next().unwrap_or(external_id);
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT d.metadata, r.dataset_values FROM dataset_record r JOIN dataset d ON d.id = r.dataset_id WHERE r.external_id = ?1 ORDER BY d.id DESC, r.record_no LIMIT 1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(m, v)| record_of(&m, &v)).transpose()
    }

    /// The audit's findings about kept datasets.
    pub fn dataset_findings(&self, log: &[LoggedEntry]) -> Result<Vec<String>> {
        let mut stored = Vec::new();
        for d in self.datasets()? {
            let (meta, rows) = self.dataset_content(d.id)?;
            stored.push((d.id, d.file, digest(&meta, &rows)));
        }
        Ok(findings(log, &stored))
    }
}
