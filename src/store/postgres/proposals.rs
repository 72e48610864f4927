//! The proposal engine's view of a team database.

use super::*;
use crate::backtest::Case;
use crate::store::proposals::Proposal;
use std::collections::HashMap;

/// The proposal engine's view of a team database, with the synonym list as its coded-term memory.
impl crate::store::ProposalStore for TeamStore {
    fn active_meddra_version(&mut self) -> Result<Option<String>> {
        self.active_version()
    }
    fn release_of(&mut self, version: Option<&str>) -> Result<Dictionary> {
        self.dictionary(version)
    }
    fn confirmed_pairs(&mut self) -> Result<Vec<crate::store::reports::TrainingPair>> {
        let rows = self.client.query(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE state = 'confirmed' ORDER BY confirmed_at, id"), &[])?;
        Ok(crate::store::reports::training_pairs(rows.iter().map(item_from_row).collect::<Result<Vec<_>>>()?))
    }
    fn needing_proposals(&mut self, model_version: &str, meddra_version: &str, all: bool) -> Result<Vec<(i64, String)>> {
        let rows = self.client.query(
            "SELECT i.id, i.reported_term FROM medcoder.item i LEFT JOIN medcoder.item_proposals p ON p.item_id = i.id
             WHERE i.state IN ('new', 'proposed', 'returned', 'query', 'answered')
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
    fn synonym_changes(&mut self, version: &str, seq: i64) -> Result<Vec<crate::store::synonyms::Synonym>> {
        self.synonyms_where("meddra_version = $1 AND seq > $2 ORDER BY seq", &[&version, &seq])
    }
    fn answers(&mut self) -> bool {
        self.client.simple_query("SELECT 1").is_ok()
    }
    fn decided_cases(&mut self) -> Result<Vec<Case>> {
        self.backtest_cases(None)
    }
}

impl TeamStore {
    /// The newest confirmation of each confirmed item that carries proposals, from the log a
    /// `db copy` brought and this database's own.
    pub fn backtest_cases(&mut self, model_version: Option<&str>) -> Result<Vec<Case>> {
        let store = self;
        let confirmed: HashMap<i64, (Option<String>, String)> = store
            .client()
            .query("SELECT id, source, study FROM medcoder.item WHERE state = 'confirmed'", &[])?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        // The copied log first, then this database's own: a later confirmation replaces an earlier one.
        let rows = store.client().query(
            "SELECT item_id, llt_code, pt_code, proposals, entropy, at, model_version FROM (
                 SELECT 0 AS src, seq, item_id, llt_code, pt_code, proposals, entropy::text AS entropy, model_version, action, at
                   FROM medcoder.imported_log
                 UNION ALL
                 SELECT 1, seq, item_id, llt_code, pt_code, proposals, entropy, model_version, action, at FROM medcoder.decision_log
             ) l
             WHERE action = 'confirm' AND proposals IS NOT NULL AND ($1::text IS NULL OR model_version = $1)
             ORDER BY src, seq",
            &[&model_version],
        )?;
        type Newest = (u32, u32, String, Option<f64>, String, Option<String>);
        let mut newest: HashMap<i64, Newest> = HashMap::new();
        for r in &rows {
            let (llt, pt, entropy): (Option<i64>, Option<i64>, Option<String>) = (r.get(1), r.get(2), r.get(4));
            newest.insert(r.get(0), (llt.unwrap_or(0) as u32, pt.unwrap_or(0) as u32, r.get(3), entropy.and_then(|e| e.parse().ok()), r.get(5), r.get(6)));
        }
        let mut ids: Vec<i64> = newest.keys().copied().filter(|id| confirmed.contains_key(id)).collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| {
                let (llt, pt, json, entropy, at, model) = &newest[&id];
                let props: Vec<Proposal> = serde_json::from_str(json)?;
                let (source, study) = &confirmed[&id];
                Ok(crate::backtest::confirmed_case(*llt, *pt, &props, *entropy, source.as_deref(), study.clone(), at, model.clone()))
            })
            .collect()
    }
}
