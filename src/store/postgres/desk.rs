//! The coding desk on a team database: the desk's store API (`DeskStore`) over one user's
//! connection. The database checks every decision; what the desk lists, groups and filters is
//! read here and filtered with the same `text::normalize` as on SQLite.

use std::cell::RefCell;
use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};

use super::{db_error, TeamStore, ITEM_COLUMNS};
use crate::backtest::Case;
use crate::intake::labelled::Labelled;
use crate::intake::queue::NewItem;
use crate::meddra::release::ReadReport;
use crate::meddra::Dictionary;
use crate::meddra::Release;
use crate::store::api::{unsupported, AuditReport, Backend, DeskStore};
use crate::store::audit::{append_anchor, Head};
use crate::store::dict::{ImportCounts, ReleaseInfo};
use crate::store::item::{Item, ItemFilter, ItemSummary, State};
use crate::store::log::LoggedEntry;
use crate::store::proposals::{Proposal, ProposalSet, TopProposal};
use crate::store::queue::ImportReport;
use crate::store::queue::TermGroup;
use crate::store::synonyms::Synonym;
use crate::store::synonyms::{conflicts, Conflict};
use crate::store::users::{Role, User};
use crate::store::workflow::Action;
use crate::store::worklist::{Assignment, Duty, Scope};
use crate::store::ProposalStore;
use crate::text::normalize;

/// A refusal by the database's rules (any error the server raised for a call), as opposed to
/// the connection failing: a group decision leaves the item out and goes on.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub struct TeamDesk {
    // The desk's API reads through &self; one connection serves it, one call at a time.
    store: RefCell<TeamStore>,
    url: String,
    /// The password the connection was opened with, when the server asked for one: the desk's
    /// worker opens its own connection with it.
    password: Option<String>,
}

impl TeamDesk {
    /// The store for a coding desk: the proposal service's account has none.
    pub fn open(url: &str, password: &mut dyn FnMut(&str) -> Result<String>) -> Result<TeamDesk> {
        let desk = Self::connect(url, password)?;
        if desk.store.borrow().role == "service" {
            bail!("{} is the proposal service's account: it stores proposals and codes nothing (it has no coding desk)", desk.user_name());
        }
        Ok(desk)
    }

    /// The store for the command line, for any role: the database's rules decide what each may do
    /// (the proposal service reads, exports and audits, and codes nothing).
    pub fn connect(url: &str, password: &mut dyn FnMut(&str) -> Result<String>) -> Result<TeamDesk> {
        let mut given = None;
        let store = TeamStore::open(url, &mut |prompt| {
            let pw = password(prompt)?;
            given = Some(pw.clone());
            Ok(pw)
        })?;
        Ok(TeamDesk { store: RefCell::new(store), url: url.to_string(), password: given })
    }

    pub fn user_name(&self) -> String {
        self.store.borrow().user.clone()
    }

    pub fn store_mut(&self) -> std::cell::RefMut<'_, TeamStore> {
        self.store.borrow_mut()
    }

    pub fn credentials(&self) -> Option<String> {
        self.password.clone()
    }

    /// Item summaries with the top proposal for `version`, in id order (one query).
    fn summaries(&self, version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>> {
        let rows = self.store.borrow_mut().client().query(
            "SELECT i.id, i.external_id, i.study, i.subject, i.reported_term, i.state, i.llt_code, p.entropy, p.proposals, i.proposer, i.seriousness, i.imported_at
             FROM medcoder.item i LEFT JOIN medcoder.item_proposals p ON p.item_id = i.id AND p.meddra_version = $1
             ORDER BY i.id",
            &[&version],
        )?;
        rows.iter()
            .map(|r| {
                let summary = ItemSummary {
                    id: r.get(0),
                    external_id: r.get(1),
                    study: r.get(2),
                    subject: r.get(3),
                    reported_term: r.get(4),
                    state: State::parse(r.get(5))?,
                    llt_code: r.get::<_, Option<i32>>(6).map(|c| c as u32),
                    proposer: r.get(9),
                    seriousness: r.get(10),
                    imported_at: r.get(11),
                };
                // Proposals that do not read (an older service's) show as none: one item never
                // keeps a desk from opening.
                let top = r.get::<_, Option<String>>(8).and_then(|json| serde_json::from_str::<Vec<Proposal>>(&json).ok()).map(|props| TopProposal {
                    top: props.first().map(|p| (p.llt_code, p.confidence)),
                    entropy: r.get(7),
                    pt: crate::store::proposals::pt_confidence_in(&props, 0),
                });
                Ok((summary, top))
            })
            .collect()
    }
}

/// The queue filter as on SQLite: states, study, and text matched in the normalised id, term
/// and subject.
fn matches(f: &ItemFilter, s: &ItemSummary) -> bool {
    (f.states.is_empty() || f.states.contains(&s.state))
        && f.study.as_ref().is_none_or(|st| *st == s.study)
        && f.text
            .as_deref()
            .map(normalize)
            .filter(|t| !t.is_empty())
            .is_none_or(|t| normalize(&format!("{} {} {}", s.external_id, s.reported_term, s.subject)).contains(&t))
}

impl DeskStore for TeamDesk {
    fn backend(&self) -> Backend {
        Backend::Team
    }

    fn item(&self, external_id: &str) -> Result<Item> {
        self.store.borrow_mut().item(external_id)
    }

    fn user(&self, name: &str) -> Result<User> {
        self.users()?
            .into_iter()
            .find(|u| u.name == name.trim().to_lowercase())
            .ok_or_else(|| anyhow!("no user '{}' in this team database", crate::text::printable(name)))
    }

    fn active_dictionary(&self) -> Result<Dictionary> {
        self.store.borrow_mut().dictionary(None)
    }

    fn is_demo(&self) -> Result<bool> {
        Ok(false)
    }

    fn queue_rows(&self, f: &ItemFilter, meddra_version: &str) -> Result<Vec<(ItemSummary, Option<TopProposal>)>> {
        Ok(self.summaries(meddra_version)?.into_iter().filter(|(s, _)| matches(f, s)).collect())
    }

    fn proposals(&self, item_id: i64) -> Result<Option<ProposalSet>> {
        self.store.borrow_mut().proposals(item_id)
    }

    fn synonym(&self, study: &str, term: &str, version: &str) -> Result<Option<Synonym>> {
        let term = normalize(term);
        // The database's own rule for which entry decides (the one its functions code by).
        Ok(self
            .store
            .borrow_mut()
            .synonyms_where(
                "(study, term, meddra_version) = (SELECT g.study, g.term, g.meddra_version FROM medcoder.governing_synonym($3, medcoder.synonym_key($1), $2) g)",
                &[&term, &version, &study],
            )?
            .into_iter()
            .next())
    }

    fn synonym_changed_at(&self, version: &str) -> Result<Option<String>> {
        let row = self
            .store
            .borrow_mut()
            .client()
            .query_opt("SELECT updated_at FROM medcoder.synonym WHERE meddra_version = $1 ORDER BY seq DESC LIMIT 1", &[&version])?;
        Ok(row.map(|r| r.get(0)))
    }

    fn state_counts(&self) -> Result<Vec<(State, usize)>> {
        let rows = self.store.borrow_mut().client().query("SELECT state, count(*) FROM medcoder.item GROUP BY state", &[])?;
        let counts: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(State::ALL.into_iter().map(|s| (s, counts.get(s.as_str()).copied().unwrap_or(0) as usize)).collect())
    }

    fn studies(&self) -> Result<Vec<String>> {
        let rows = self.store.borrow_mut().client().query("SELECT DISTINCT study FROM medcoder.item ORDER BY study", &[])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The database checks the code against its own LLT table: no dictionary is read.
    fn decide(&mut self, _user: &str, external_id: &str, revision: Option<i64>, action: Action) -> Result<Item> {
        self.store.get_mut().act(external_id, revision, &action)
    }

    /// The database acts as the connection's user whatever `user` says.
    fn act(&mut self, _dict: &Dictionary, _user: &str, external_id: &str, revision: Option<i64>, action: Action) -> Result<Item> {
        self.store.get_mut().act(external_id, revision, &action)
    }

    /// The log head and the proposals' newest time: every decision and every stored proposal
    /// changes one of them.
    fn data_version(&self) -> Result<i64> {
        let r = self.store.borrow_mut().client().query_one(
            "SELECT (SELECT seq FROM medcoder.log_head), (SELECT count(*) FROM medcoder.item_proposals), (SELECT coalesce(max(computed_at), '') FROM medcoder.item_proposals)",
            &[],
        )?;
        let (seq, n, at): (i64, i64, String) = (r.get(0), r.get(1), r.get(2));
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seq, n, at).hash(&mut h);
        Ok(h.finish() as i64)
    }

    /// A signature is the server accepting the user's password on a new connection over TCP
    /// (a local-socket connection may be trusted by peer authentication without one).
    fn check_signature(&self, user: &str, password: &str) -> Result<()> {
        super::users::check_password(&self.url, user, password)
    }

    fn anchor_to(&self, file: &std::path::Path) -> Result<Option<Head>> {
        let Some(head) = self.store.borrow_mut().log_head()? else { return Ok(None) };
        append_anchor(file, &head)?;
        Ok(Some(head))
    }

    fn term_groups(&self, f: &ItemFilter) -> Result<Vec<TermGroup>> {
        let mut groups: Vec<TermGroup> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut llts: Vec<Vec<u32>> = Vec::new();
        for (s, _) in self.summaries("")?.into_iter().filter(|(s, _)| matches(f, s)) {
            let key = normalize(&s.reported_term);
            let i = *index.entry(key.clone()).or_insert_with(|| {
                groups.push(TermGroup { term: key, first_id: s.id, items: 0, to_code: 0, proposed: 0, confirmed: 0, proposed_llts: 0 });
                llts.push(Vec::new());
                groups.len() - 1
            });
            let g = &mut groups[i];
            g.items += 1;
            match s.state {
                State::New | State::Returned | State::Answered => g.to_code += 1,
                State::Proposed => {
                    g.proposed += 1;
                    if let Some(c) = s.llt_code.filter(|c| !llts[i].contains(c)) {
                        llts[i].push(c);
                    }
                }
                State::Confirmed => g.confirmed += 1,
                State::Query | State::Split | State::Void => {}
            }
        }
        for (g, l) in groups.iter_mut().zip(&llts) {
            g.proposed_llts = l.len() as i64;
        }
        Ok(groups)
    }

    fn items_of_term(&self, term: &str, states: &[State]) -> Result<Vec<Item>> {
        let key = normalize(term);
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let rows = self
            .store
            .borrow_mut()
            .client()
            .query(&format!("SELECT {ITEM_COLUMNS} FROM medcoder.item WHERE state = ANY($1) AND term_key = $2 ORDER BY id"), &[&states, &key])?;
        // term_key is normalize_term(reported_term), which gives what normalize does (store_contract).
        rows.iter().map(super::item_from_row).collect::<Result<Vec<_>>>()
    }

    fn is_refusal(&self, e: &anyhow::Error) -> bool {
        e.downcast_ref::<Refused>().is_some()
    }

    /// The newest confirmation of each confirmed item that carries proposals, from the log a
    /// `db copy` brought and this database's own.
    fn backtest_cases(&self, model_version: Option<&str>) -> Result<Vec<Case>> {
        self.store.borrow_mut().backtest_cases(model_version)
    }

    fn items_lacking_proposals(&self, model_version: &str, meddra_version: &str) -> Result<Vec<(i64, String)>> {
        self.store.borrow_mut().needing_proposals(model_version, meddra_version, false)
    }

    fn users(&self) -> Result<Vec<User>> {
        let all = self.store.borrow_mut().users()?;
        all.into_iter()
            .filter(|(_, role, _)| role != "service")
            .map(|(name, role, created_at)| Ok(User { role: Role::parse(&role)?, created_at, login: name.clone(), has_password: true, name }))
            .collect()
    }

    fn releases(&self) -> Result<Vec<ReleaseInfo>> {
        self.store.borrow_mut().releases()
    }

    fn dictionary(&self, version: Option<&str>) -> Result<Dictionary> {
        self.store.borrow_mut().dictionary(version)
    }

    /// A release is loaded once and sealed, and becomes the active version at once.
    fn import_release(&mut self, _user: Option<&str>, rel: &Release, report: &ReadReport, replace: bool, _activate: bool) -> Result<ImportCounts> {
        if replace {
            return Err(unsupported(Backend::Team, "dict import --replace", "a loaded release is sealed; import the corrected release under its own version"));
        }
        self.store.get_mut().import_dictionary(&Dictionary::new(rel), &report.dir)?;
        Ok(ImportCounts::of(rel))
    }

    fn use_version(&mut self, _user: Option<&str>, version: &str) -> Result<usize> {
        let store = self.store.get_mut();
        let carried = |s: &mut TeamStore| -> Result<usize> { Ok(s.synonyms_where("meddra_version = $1 AND origin = 'carried'", &[&version])?.len()) };
        let before = carried(store)?;
        store.use_version(version)?;
        Ok(carried(store)?.saturating_sub(before))
    }

    fn llt_name(&self, version: &str, code: u32) -> Result<Option<String>> {
        self.store.borrow_mut().llt_name(version, code)
    }

    /// The database queues as the connection's user whatever `user` says.
    fn import_items(&mut self, _user: &str, items: &[NewItem], file: &str) -> Result<ImportReport> {
        self.store.get_mut().import_items(items, file, None)
    }

    fn items(&self, f: &ItemFilter) -> Result<Vec<Item>> {
        Ok(self.store.borrow_mut().items(None)?.into_iter().filter(|it| matches(f, &ItemSummary::from(it))).collect())
    }

    fn log_entries(&self, external_id: Option<&str>) -> Result<Vec<LoggedEntry>> {
        if let Some(id) = external_id {
            self.item(id)?;
        }
        Ok(self.store.borrow_mut().log(external_id)?.iter().map(|r| r.as_logged()).collect())
    }

    fn log_head(&self) -> Result<Option<Head>> {
        self.store.borrow_mut().log_head()
    }

    fn audit(&self, anchors: Option<&std::path::Path>) -> Result<AuditReport> {
        let file = self.anchors_to_check(anchors)?;
        self.store.borrow_mut().audit(file)
    }

    fn anchor_file(&self) -> Result<std::path::PathBuf> {
        super::anchor_file(&self.url)
    }

    fn synonyms(&self, version: &str) -> Result<Vec<Synonym>> {
        self.store.borrow_mut().synonyms_where("meddra_version = $1 ORDER BY term, study", &[&version])
    }

    fn synonym_conflicts(&self, version: &str) -> Result<Vec<Conflict>> {
        let qualifiers = self.synonym_qualifiers()?;
        Ok(conflicts(&self.items(&ItemFilter { states: vec![State::Confirmed], ..Default::default() })?, version, &qualifiers))
    }

    /// The whole file is checked first (line-numbered errors); the database checks each row again.
    fn import_synonyms(&mut self, _user: &str, dict: &Dictionary, study: &str, rows: &[Labelled], file: &str) -> Result<usize> {
        crate::store::synonyms::check_study(study)?;
        let qualifiers = self.synonym_qualifiers()?;
        let rows = crate::store::synonyms::check_list(dict, rows, file, &qualifiers)?;
        self.store.get_mut().import_synonyms(study, &rows, file)
    }

    fn retire_synonym(&mut self, _user: &str, _version: &str, study: &str, term: &str) -> Result<Synonym> {
        self.store.get_mut().retire_synonym(study, term)
    }

    fn decide_synonym(&mut self, _user: &str, _dict: &Dictionary, study: &str, term: &str, why: Option<&str>) -> Result<Synonym> {
        self.store.get_mut().decide_synonym(study, term, why)
    }

    fn set_synonym_qualifiers(&mut self, _user: &str, list: &[String]) -> Result<crate::store::governance::Rekeyed> {
        let value = crate::store::governance::qualifier_setting(list)?;
        self.store.get_mut().set_synonym_qualifiers(&value)
    }

    fn synonym_key(&self, term: &str) -> Result<String> {
        self.store.borrow_mut().synonym_key(&normalize(term))
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.store.borrow_mut().setting(key)
    }

    fn set_setting(&mut self, _user: &str, key: &str, value: &str) -> Result<()> {
        match key {
            "autocode_confirm" => self.store.get_mut().set_autocode_confirm(value == "on"),
            crate::store::model_first::SETTING
            | crate::store::model_first::TARGET
            | crate::store::model_first::EXCLUDE
            | crate::store::synonyms::APPROVAL
            | crate::store::synonyms::SCOPE
            | crate::qualifiers::SETTING => {
                crate::store::model_first::check_setting(key, value)?;
                self.store.get_mut().set_team_setting(key, value)
            }
            _ => Err(unsupported(
                Backend::Team,
                &format!("the setting {}", key.replace('_', "-")),
                "each machine's desks anchor the team log in their own data directory (`audit anchor --file` names another)",
            )),
        }
    }

    fn parts(&self, source: &str) -> Result<Vec<Item>> {
        self.store.borrow_mut().parts(source)
    }
    fn assign(&mut self, _user: &str, scope: Scope, key: &str, duty: Duty, to: Option<&str>) -> Result<()> {
        self.store.get_mut().assign(scope, key, duty, to)
    }
    fn assignments(&self) -> Result<Vec<Assignment>> {
        self.store.borrow_mut().assignments()
    }
    fn set_due_date(&mut self, _user: &str, study: &str, date: Option<&str>) -> Result<()> {
        self.store.get_mut().set_due_date(study, date)
    }
    fn due_dates(&self) -> Result<Vec<(String, String)>> {
        self.store.borrow_mut().due_dates()
    }

    fn import_dataset(&mut self, _user: &str, received: &crate::intake::sdtm::Received, file: &str) -> Result<ImportReport> {
        let kept = crate::store::datasets::Kept::of(received, file)?;
        self.store.get_mut().import_items(&received.items, file, Some(&kept))
    }
    fn datasets(&self) -> Result<Vec<crate::store::datasets::DatasetInfo>> {
        self.store.borrow_mut().datasets()
    }
    fn dataset(&self, id: i64) -> Result<crate::sdtm::Dataset> {
        let (meta, rows) = self.store.borrow_mut().dataset_content(id)?;
        crate::sdtm::Dataset::from_stored(&meta, &rows)
    }
    fn dataset_record_ids(&self, id: i64) -> Result<Vec<String>> {
        self.store.borrow_mut().dataset_record_ids(id)
    }
    fn received_record(&self, external_id: &str) -> Result<Option<crate::store::datasets::ReceivedRecord>> {
        self.store.borrow_mut().received_record(external_id)
    }
}

impl ProposalStore for TeamDesk {
    fn active_meddra_version(&mut self) -> Result<Option<String>> {
        self.store.get_mut().active_version()
    }
    fn release_of(&mut self, version: Option<&str>) -> Result<Dictionary> {
        self.store.get_mut().dictionary(version)
    }
    fn confirmed_pairs(&mut self) -> Result<Vec<crate::store::reports::TrainingPair>> {
        self.store.get_mut().confirmed_pairs()
    }
    fn needing_proposals(&mut self, model_version: &str, meddra_version: &str, all: bool) -> Result<Vec<(i64, String)>> {
        self.store.get_mut().needing_proposals(model_version, meddra_version, all)
    }
    fn store_proposals(&mut self, sets: &[(i64, ProposalSet)]) -> Result<()> {
        self.store.get_mut().store_proposals(sets)
    }
    fn synonym_seq_of(&mut self, version: &str) -> Result<i64> {
        self.store.get_mut().synonym_seq_of(version)
    }
    fn synonym_changes(&mut self, version: &str, seq: i64) -> Result<Vec<Synonym>> {
        self.store.get_mut().synonym_changes(version, seq)
    }
    fn answers(&mut self) -> bool {
        self.store.get_mut().answers()
    }
    fn decided_cases(&mut self) -> Result<Vec<Case>> {
        self.store.get_mut().backtest_cases(None)
    }
}

/// A refusal by the server, as an error a group decision can tell from a failure.
pub(super) fn refused(e: postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(_) => anyhow::Error::new(Refused(db_error(e).to_string())),
        None => anyhow!(e),
    }
}
