//! Splits' parts and worklists on a team database: reads here, changes through the rule
//! functions `assign_work` and `set_due_date` (schema.sql).

use super::*;
use crate::store::worklist::{Assignment, Duty, Scope};

impl TeamStore {
    pub fn parts(&mut self, source: &str) -> Result<Vec<Item>> {
        let rows = self.client.query(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE part_of = $1 ORDER BY part_no"), &[&source])?;
        rows.iter().map(item_from_row).collect()
    }

    pub fn assign(&mut self, scope: Scope, key: &str, duty: Duty, to: Option<&str>) -> Result<()> {
        self.client.execute("SELECT medcoder.assign_work($1, $2, $3, $4)", &[&scope.as_str(), &key, &duty.as_str(), &to]).map_err(db_error)?;
        Ok(())
    }

    pub fn assignments(&mut self) -> Result<Vec<Assignment>> {
        let rows = self.client.query("SELECT kind, key, duty, username, assigned_by, assigned_at FROM medcoder.assignment ORDER BY kind, key, duty", &[])?;
        rows.iter()
            .map(|r| {
                Ok(Assignment {
                    scope: Scope::parse(r.get(0))?,
                    key: r.get(1),
                    duty: Duty::parse(r.get(2))?,
                    user: r.get(3),
                    assigned_by: r.get(4),
                    assigned_at: r.get(5),
                })
            })
            .collect()
    }

    pub fn set_due_date(&mut self, study: &str, date: Option<&str>) -> Result<()> {
        self.client.execute("SELECT medcoder.set_due_date($1, $2)", &[&study, &date]).map_err(db_error)?;
        Ok(())
    }

    pub fn due_dates(&mut self) -> Result<Vec<(String, String)>> {
        Ok(self.client.query("SELECT study, due_date FROM medcoder.study_due ORDER BY study", &[])?.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
