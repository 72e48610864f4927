//! The queue and the four-eye workflow on a team database (each decision one rule function call).

use super::*;
use crate::intake::queue::Rejected;

impl TeamStore {
    /// Queues the rows (one transaction): an id already queued is skipped and named; the
    /// database codes a term by the exact-name rule or the synonym list where one applies.
    pub fn import_items(&mut self, items: &[NewItem], file: &str, kept: Option<&crate::store::datasets::Kept>) -> Result<crate::store::queue::ImportReport> {
        let mut report = crate::store::queue::ImportReport::default();
        let mut tx = self.client.transaction()?;
        let mut added_ids = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for it in items {
            // Twice in one file is a mistake in the file, never a correction.
            if !seen.insert(it.external_id.clone()) {
                report.duplicates.push(Rejected { line: it.line, reason: format!("id {} is already queued", it.external_id) });
                continue;
            }
            let origin = format!("{file}, line {}", it.line);
            let added: String = tx
                .query_one(
                    "SELECT medcoder.import_item($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[&it.external_id, &it.study, &it.subject, &it.reported_term, &it.onset_date, &it.seriousness, &it.investigator, &origin],
                )
                .map_err(db_error)
                .with_context(|| format!("{file}, line {}", it.line))?
                .get(0);
            // The database says what it did with the row: queued, a corrected verbatim, or why not.
            match added.as_str() {
                "imported" => {
                    report.imported += 1;
                    added_ids.push(it.external_id.clone());
                }
                why => match why.strip_prefix("superseded:") {
                    // "superseded:[confirmed |coded ]<llt>:<old term>", worded as on SQLite.
                    Some(rest) => {
                        let (code, old) = rest.split_once(':').unwrap_or(("", rest));
                        let dropped = match code.split_once(' ') {
                            Some(("confirmed", c)) => format!("; its confirmed code LLT {c} was dropped: it is coded again"),
                            Some((_, c)) => format!("; its code LLT {c} was dropped"),
                            None => String::new(),
                        };
                        let reason = format!("id {}: reported term corrected from '{old}' to '{}'{dropped}", it.external_id, it.reported_term.trim());
                        report.superseded.push(Rejected { line: it.line, reason });
                    }
                    None => report.duplicates.push(Rejected { line: it.line, reason: why.to_string() }),
                },
            }
        }
        // How the new items were coded at import, as the rule functions decided.
        for r in
            tx.query("SELECT source, count(*) FROM medcoder.item WHERE external_id = ANY($1) AND source IN ('rule', 'synonym') GROUP BY source", &[&added_ids])?
        {
            let n = r.get::<_, i64>(1) as usize;
            match r.get::<_, &str>(0) {
                "rule" => report.autocoded = n,
                _ => report.by_synonym = n,
            }
        }
        // The same dataset received again as it stands is not kept twice (as on SQLite).
        if let Some(k) = kept {
            let latest = tx
                .query_opt("SELECT id, sha256 FROM medcoder.dataset WHERE study = $1 AND domain = $2 ORDER BY id DESC LIMIT 1", &[&k.study, &k.domain])?
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)));
            let unchanged = k.unchanged_from(latest);
            report.dataset_unchanged = unchanged.is_some();
            let id: i64 = match unchanged {
                Some(id) => id,
                None => tx
                    .query_one(
                        "SELECT medcoder.keep_dataset($1, $2, $3, $4, $5, $6)",
                        &[&k.domain, &crate::text::printable(file).as_ref(), &k.format, &k.metadata, &k.records, &k.ids],
                    )
                    .map_err(db_error)?
                    .get(0),
            };
            report.dataset = Some(id);
        }
        tx.commit()?;
        Ok(report)
    }

    /// The proposals stored for an item.
    pub fn proposals(&mut self, item_id: i64) -> Result<Option<ProposalSet>> {
        let row = self
            .client
            .query_opt("SELECT model_version, meddra_version, entropy, proposals, computed_at FROM medcoder.item_proposals WHERE item_id = $1", &[&item_id])?;
        row.map(|r| {
            let json: String = r.get(3);
            Ok(ProposalSet {
                model_version: r.get(0),
                meddra_version: r.get(1),
                entropy: r.get(2),
                proposals: serde_json::from_str(&json)?,
                computed_at: r.get(4),
            })
        })
        .transpose()
    }

    pub fn items(&mut self, state: Option<State>) -> Result<Vec<Item>> {
        let rows = self
            .client
            .query(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE $1::text IS NULL OR state = $1 ORDER BY id"), &[&state.map(State::as_str)])?;
        rows.iter().map(item_from_row).collect()
    }

    pub fn item(&mut self, external_id: &str) -> Result<Item> {
        let row = self
            .client
            .query_opt(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE external_id = $1"), &[&external_id])?
            .ok_or_else(|| anyhow!("no queue item with id '{}'", crate::text::printable(external_id)))?;
        item_from_row(&row)
    }

    /// One coding decision, checked and logged by the database (`medcoder.act`).
    pub fn act(&mut self, external_id: &str, expected_revision: Option<i64>, action: &Action) -> Result<Item> {
        let call = |client: &mut Client, sql: &str, args: &[&(dyn postgres::types::ToSql + Sync)]| -> Result<Item> {
            let row = client.query_one(&format!("SELECT {ITEM_COLUMNS} FROM {sql}"), args).map_err(desk::refused)?;
            item_from_row(&row)
        };
        let (name, llt, source, text): (&str, Option<i32>, Option<&str>, Option<&str>) = match action {
            Action::Answer { text, term } => {
                return call(&mut self.client, "medcoder.answer_query($1, $2, $3, $4)", &[&external_id, text, term, &expected_revision]);
            }
            Action::Split { parts } => return call(&mut self.client, "medcoder.split_item($1, $2, $3)", &[&external_id, parts, &expected_revision]),
            Action::CloseQuery { note } => ("close-query", None, None, note.as_deref()),
            Action::Withdraw => ("withdraw", None, None, None),
            Action::Propose { llt, source } => ("propose", Some(*llt as i32), Some(source.as_str()), None),
            Action::Confirm => ("confirm", None, None, None),
            Action::Return { comment } => ("return", None, None, Some(comment)),
            Action::Query { note } => ("query", None, None, Some(note)),
            Action::Recode { llt, source, comment } => ("recode", Some(*llt as i32), Some(source.as_str()), comment.as_deref()),
        };
        let row = self
            .client
            .query_one(
                &format!("SELECT {ITEM_COLUMNS} FROM medcoder.act($1, $2, $3, $4, $5, $6)"),
                &[&external_id, &name, &llt, &source, &text, &expected_revision],
            )
            .map_err(desk::refused)?;
        item_from_row(&row)
    }
}

pub(super) fn item_from_row(r: &Row) -> Result<Item> {
    let state: String = r.get(8);
    let code = |i: usize| r.get::<_, Option<i32>>(i).map(|c| c as u32);
    Ok(Item {
        id: r.get(0),
        report: Report {
            external_id: r.get(1),
            study: r.get(2),
            subject: r.get(3),
            reported_term: r.get(4),
            onset_date: r.get(5),
            seriousness: r.get(6),
            investigator: r.get(7),
        },
        state: State::parse(&state)?,
        llt_code: code(9),
        pt_code: code(10),
        meddra_version: r.get(11),
        source: r.get(12),
        proposer: r.get(13),
        reviewer: r.get(14),
        comment: r.get(15),
        revision: r.get(16),
        imported_at: r.get(17),
        updated_at: r.get(18),
        updated_by: r.get(19),
        proposed_at: r.get(20),
        confirmed_at: r.get(21),
        part_of: r.get(22),
        part_no: r.get::<_, Option<i32>>(23).map(|n| n as u32),
    })
}
