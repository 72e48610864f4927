//! Kept SDTM datasets on a team database: reads here, kept through the rule function
//! `keep_dataset` (schema.sql), inside the import's transaction (items.rs).

use super::*;
use crate::store::datasets::{findings, record_of, DatasetInfo, ReceivedRecord};

impl TeamStore {
    pub fn datasets(&mut self) -> Result<Vec<DatasetInfo>> {
        let rows =
            self.client.query("SELECT id, study, domain, file, format, records, sha256, received_by, received_at FROM medcoder.dataset ORDER BY id", &[])?;
        Ok(rows
            .iter()
            .map(|r| DatasetInfo {
                id: r.get(0),
                study: r.get(1),
                domain: r.get(2),
                file: r.get(3),
                format: r.get(4),
                records: r.get::<_, i32>(5) as i64,
                sha256: r.get(6),
                received_by: r.get(7),
                received_at: r.get(8),
            })
            .collect())
    }

    pub fn dataset_content(&mut self, id: i64) -> Result<(String, Vec<String>)> {
        let meta: String =
            self.client.query_opt("SELECT metadata FROM medcoder.dataset WHERE id = $1", &[&id])?.ok_or_else(|| anyhow!("no dataset {id}"))?.get(0);
        let rows = self.client.query("SELECT dataset_values FROM medcoder.dataset_record WHERE dataset_id = $1 ORDER BY record_no", &[&id])?;
        Ok((meta, rows.iter().map(|r| r.get(0)).collect()))
    }

    pub fn dataset_record_ids(&mut self, id: i64) -> Result<Vec<String>> {
        let rows = self.client.query("SELECT external_id FROM medcoder.dataset_record WHERE dataset_id = $1 ORDER BY record_no", &[&id])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub fn received_record(&mut self, external_id: &str) -> Result<Option<ReceivedRecord>> {
        let id = external_id.split('#').next().unwrap_or(external_id);
        let row = self.client.query_opt(
            "SELECT d.metadata, r.dataset_values FROM medcoder.dataset_record r JOIN medcoder.dataset d ON d.id = r.dataset_id
             WHERE r.external_id = $1 ORDER BY d.id DESC, r.record_no LIMIT 1",
            &[&id],
        )?;
        row.map(|r| record_of(r.get(0), r.get(1))).transpose()
    }

    /// The audit's findings about kept datasets (as on SQLite: store/datasets.rs).
    pub fn dataset_findings(&mut self, log: &[LoggedEntry]) -> Result<Vec<String>> {
        let mut stored = Vec::new();
        for d in self.datasets()? {
            let (meta, rows) = self.dataset_content(d.id)?;
            stored.push((d.id, d.file, crate::sdtm::digest(&meta, &rows)));
        }
        Ok(findings(log, &stored))
    }
}
