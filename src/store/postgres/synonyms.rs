//! The synonym list and team settings on a team database.

use super::*;

impl TeamStore {
    /// Synonyms matching a condition on the synonym table (`medcoder.synonym`).
    pub fn synonyms_where(&mut self, condition: &str, args: &[&(dyn postgres::types::ToSql + Sync)]) -> Result<Vec<crate::store::synonyms::Synonym>> {
        let rows = self.client.query(
            &format!("SELECT term, meddra_version, llt_code, origin, confirmations, external_id, reported_term, proposer, reviewer, updated_at, updated_by, hold, seq, imported_by, approval, decided_by, study FROM medcoder.synonym WHERE {condition}"),
            args,
        )?;
        Ok(rows
            .iter()
            .map(|r| crate::store::synonyms::Synonym {
                study: r.get(16),
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
                approval: r.get(14),
                decided_by: r.get(15),
            })
            .collect())
    }

    /// Imports a checked synonym list (admin) in one transaction, one log row per synonym.
    pub fn import_synonyms(&mut self, study: &str, rows: &[crate::intake::labelled::Labelled], file: &str) -> Result<usize> {
        let mut tx = self.client.transaction()?;
        for r in rows {
            tx.execute("SELECT medcoder.import_synonym($1, $2, $3, $4)", &[&r.term, &(r.llt as i32), &format!("{file}, line {}", r.line), &study])
                .map_err(db_error)
                .with_context(|| format!("{file}, line {}", r.line))?;
        }
        tx.commit()?;
        Ok(rows.len())
    }

    /// A model-first team setting (admin; the database checks the value and logs it).
    pub fn set_team_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.client.execute("SELECT medcoder.set_team_setting($1, $2)", &[&key, &value]).map_err(db_error)?;
        Ok(())
    }

    pub fn set_autocode_confirm(&mut self, on: bool) -> Result<()> {
        self.client.execute("SELECT medcoder.set_autocode_confirm($1)", &[&on]).map_err(db_error)?;
        Ok(())
    }

    pub fn setting(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.client.query_opt("SELECT value FROM medcoder.setting WHERE key = $1", &[&key])?.map(|r| r.get(0)))
    }

    /// Approves or declines a pending synonym candidate (the database checks who may; logged).
    pub fn decide_synonym(&mut self, study: &str, term: &str, why: Option<&str>) -> Result<crate::store::synonyms::Synonym> {
        let key: String = self.client.query_one("SELECT term FROM medcoder.decide_synonym($1, $2, $3)", &[&term, &why, &study]).map_err(db_error)?.get(0);
        let version = self.active_version()?.unwrap_or_default();
        self.synonyms_where("study = $3 AND term = $1 AND meddra_version = $2", &[&key, &version, &study])?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("the synonym '{key}' is gone"))
    }

    /// Sets the qualifier list (admin; the database checks it, rekeys and logs).
    pub fn set_synonym_qualifiers(&mut self, value: &str) -> Result<crate::store::governance::Rekeyed> {
        let n: Vec<i32> = self.client.query_one("SELECT medcoder.set_synonym_qualifiers($1)", &[&value]).map_err(db_error)?.get(0);
        let at = |i: usize| n.get(i).copied().unwrap_or(0) as usize;
        Ok(crate::store::governance::Rekeyed { items: at(0), synonyms: at(1), merged: at(2) })
    }

    /// The synonym key of a normalised term under the team's list.
    pub fn synonym_key(&mut self, term_key: &str) -> Result<String> {
        Ok(self.client.query_one("SELECT medcoder.synonym_key($1)", &[&term_key])?.get(0))
    }

    /// Holds a synonym so that it autocodes no more (admin; logged).
    pub fn retire_synonym(&mut self, study: &str, term: &str) -> Result<crate::store::synonyms::Synonym> {
        let key: String = self.client.query_one("SELECT term FROM medcoder.retire_synonym($1, $2)", &[&term, &study]).map_err(db_error)?.get(0);
        let version = self.active_version()?.unwrap_or_default();
        self.synonyms_where("study = $3 AND term = $1 AND meddra_version = $2", &[&key, &version, &study])?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("the synonym '{key}' is gone"))
    }
}
