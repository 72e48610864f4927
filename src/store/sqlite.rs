//! The SQLite store through the one store API (`DeskStore`): each method the store's own.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rusqlite::OptionalExtension;

use super::api::{AuditReport, Backend, DeskStore};
use super::audit::{read_anchors, Head};
use super::datasets::{DatasetInfo, Kept, ReceivedRecord};
use super::dict::{ImportCounts, ReleaseInfo};
use super::item::{Item, ItemFilter, ItemSummary, State};
use super::log::LoggedEntry;
use super::proposals::{ProposalSet, TopProposal};
use super::queue::{ImportReport, TermGroup};
use super::synonyms::{Conflict, Synonym};
use super::users::User;
use super::workflow::{Action, Refusal};
use super::worklist::{Assignment, Duty, Scope};
use super::Store;
use crate::backtest::Case;
use crate::intake::labelled::Labelled;
use crate::intake::queue::NewItem;
use crate::intake::sdtm::Received;
use crate::meddra::release::ReadReport;
use crate::meddra::{Dictionary, Release};
use crate::sdtm::Dataset;

impl DeskStore for Store {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
    fn item(&self, external_id: &str) -> Result<Item> {
        Store::item(self, external_id)
    }
    fn user(&self, name: &str) -> Result<User> {
        Store::user(self, name)
    }
    fn active_dictionary(&self) -> Result<Dictionary> {
        Store::active_dictionary(self)
    }
    fn is_demo(&self) -> Result<bool> {
        Store::is_demo(self)
    }
    fn queue_rows(&self, f: &ItemFilter, meddra_version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>> {
        Store::queue_rows(self, f, meddra_version)
    }
    fn proposals(&self, item_id: i64) -> Result<Option<ProposalSet>> {
        Store::proposals(self, item_id)
    }
    fn synonym(&self, study: &str, term: &str, version: &str) -> Result<Option<Synonym>> {
        Store::synonym(self, study, term, version)
    }
    fn synonym_changed_at(&self, version: &str) -> Result<Option<String>> {
        Store::synonym_changed_at(self, version)
    }
    fn state_counts(&self) -> Result<Vec<(State, usize)>> {
        Store::state_counts(self)
    }
    fn studies(&self) -> Result<Vec<String>> {
        Store::studies(self)
    }
    fn act(&mut self, dict: &Dictionary, user: &str, external_id: &str, revision: Option<i64>, action: Action) -> Result<Item> {
        Store::act(self, dict, user, external_id, revision, action)
    }
    fn data_version(&self) -> Result<i64> {
        Store::data_version(self)
    }
    fn check_signature(&self, user: &str, password: &str) -> Result<()> {
        crate::identity::check_password(self, user, password, "desk signature")
    }
    fn anchor_to(&self, file: &Path) -> Result<Option<Head>> {
        Store::anchor(self, file)
    }
    fn term_groups(&self, f: &ItemFilter) -> Result<Vec<TermGroup>> {
        Store::term_groups(self, f)
    }
    fn items_of_term(&self, term: &str, states: &[State]) -> Result<Vec<Item>> {
        Store::items_of_term(self, term, states)
    }
    fn is_refusal(&self, e: &anyhow::Error) -> bool {
        e.downcast_ref::<Refusal>().is_some()
    }
    fn backtest_cases(&self, model_version: Option<&str>) -> Result<Vec<Case>> {
        Store::backtest_cases(self, model_version)
    }
    fn items_lacking_proposals(&self, model_version: &str, meddra_version: &str) -> Result<Vec<(i64, String)>> {
        Ok(self.items_needing_proposals(model_version, meddra_version, false)?.into_iter().map(|i| (i.id, i.report.reported_term)).collect())
    }
    fn users(&self) -> Result<Vec<User>> {
        Store::users(self)
    }

    fn releases(&self) -> Result<Vec<ReleaseInfo>> {
        Store::releases(self)
    }
    fn release_extras(&self, version: &str) -> Result<Option<(usize, usize)>> {
        let (smq, _, history) = Store::release_extras(self, version)?;
        Ok(Some((smq, history)))
    }
    fn dictionary(&self, version: Option<&str>) -> Result<Dictionary> {
        self.dictionary_or_active(version)
    }
    fn import_release(&mut self, user: Option<&str>, rel: &Release, report: &ReadReport, replace: bool, activate: bool) -> Result<ImportCounts> {
        Store::import_release(self, user, rel, &report.dir.display().to_string(), replace, activate)
    }
    fn use_version(&mut self, user: Option<&str>, version: &str) -> Result<usize> {
        Store::use_version(self, user, version)
    }
    fn llt_name(&self, version: &str, code: u32) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT l.name FROM llt l JOIN release r ON r.id = l.release_id WHERE r.version = ?1 AND l.code = ?2",
                rusqlite::params![version, code],
                |r| r.get(0),
            )
            .optional()?)
    }
    fn import_items(&mut self, user: &str, items: &[NewItem], file: &str) -> Result<ImportReport> {
        Store::user(self, user)?;
        Store::import_items(self, user, items, file)
    }
    fn items(&self, f: &ItemFilter) -> Result<Vec<Item>> {
        Store::items(self, f)
    }
    fn log_entries(&self, external_id: Option<&str>) -> Result<Vec<LoggedEntry>> {
        let item_id = match external_id {
            Some(x) => Some(Store::item(self, x)?.id),
            None => None,
        };
        Store::log_entries(self, item_id)
    }
    fn log_head(&self) -> Result<Option<Head>> {
        Store::log_head(self)
    }
    fn audit(&self, anchors: Option<&Path>) -> Result<AuditReport> {
        let mut report = AuditReport { chains: vec![("Decision log", self.verify_log()?)], findings: self.state_findings()?, ..Default::default() };
        report.findings.extend(self.dataset_findings(&self.log_entries(None)?)?);
        if let Some(f) = self.anchors_to_check(anchors)? {
            let n = read_anchors(&f)?.len();
            for m in self.check_anchors(&f)? {
                report.anchor_mismatches.push(format!("{}, line {} (row {}, {}): {}", f.display(), m.line, m.anchored.seq, m.anchored.at, m.reason));
            }
            report.anchors = Some((f, n));
        }
        Ok(report)
    }
    fn anchor_file(&self) -> Result<PathBuf> {
        Store::anchor_file(self)
    }
    fn synonyms(&self, version: &str) -> Result<Vec<Synonym>> {
        Store::synonyms(self, version)
    }
    fn synonym_conflicts(&self, version: &str) -> Result<Vec<Conflict>> {
        Store::synonym_conflicts(self, version)
    }
    fn import_synonyms(&mut self, user: &str, dict: &Dictionary, study: &str, rows: &[Labelled], file: &str) -> Result<usize> {
        Store::import_synonyms(self, user, dict, study, rows, file)
    }
    fn retire_synonym(&mut self, user: &str, version: &str, study: &str, term: &str) -> Result<Synonym> {
        Store::retire_synonym(self, user, version, study, term)
    }
    fn decide_synonym(&mut self, user: &str, dict: &Dictionary, study: &str, term: &str, why: Option<&str>) -> Result<Synonym> {
        Store::decide_synonym(self, user, dict, study, term, why)
    }
    fn set_synonym_qualifiers(&mut self, user: &str, list: &[String]) -> Result<super::governance::Rekeyed> {
        Store::set_synonym_qualifiers(self, user, list)
    }
    fn synonym_key(&self, term: &str) -> Result<String> {
        Store::synonym_key(self, term)
    }
    fn setting(&self, key: &str) -> Result<Option<String>> {
        Store::setting(self, key)
    }
    fn set_setting(&mut self, user: &str, key: &str, value: &str) -> Result<()> {
        self.set_team_setting(user, key, value)
    }

    fn parts(&self, source: &str) -> Result<Vec<Item>> {
        super::lifecycle::parts_of(&self.conn, source)
    }
    fn assign(&mut self, user: &str, scope: Scope, key: &str, duty: Duty, to: Option<&str>) -> Result<()> {
        Store::assign(self, user, scope, key, duty, to)
    }
    fn assignments(&self) -> Result<Vec<Assignment>> {
        Store::assignments(self)
    }
    fn set_due_date(&mut self, user: &str, study: &str, date: Option<&str>) -> Result<()> {
        Store::set_due_date(self, user, study, date)
    }
    fn due_dates(&self) -> Result<Vec<(String, String)>> {
        Store::due_dates(self)
    }

    fn import_dataset(&mut self, user: &str, received: &Received, file: &str) -> Result<ImportReport> {
        Store::user(self, user)?;
        let kept = Kept::of(received, file)?;
        Store::import_kept(self, user, &received.items, file, Some(&kept))
    }
    fn datasets(&self) -> Result<Vec<DatasetInfo>> {
        Store::datasets(self)
    }
    fn dataset(&self, id: i64) -> Result<Dataset> {
        let (meta, rows) = self.dataset_content(id)?;
        Dataset::from_stored(&meta, &rows)
    }
    fn dataset_record_ids(&self, id: i64) -> Result<Vec<String>> {
        Store::dataset_record_ids(self, id)
    }
    fn received_record(&self, external_id: &str) -> Result<Option<ReceivedRecord>> {
        Store::received_record(self, external_id)
    }
}
