//! The proposal engine's view of a team database.

use super::*;

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
    fn synonym_changes(&mut self, version: &str, seq: i64) -> Result<Vec<crate::store::synonyms::Synonym>> {
        self.synonyms_where("meddra_version = $1 AND seq > $2 ORDER BY seq", &[&version, &seq])
    }
    fn answers(&mut self) -> bool {
        self.client.simple_query("SELECT 1").is_ok()
    }
}
