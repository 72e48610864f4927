//! The coding desk service: everything the TUI shows or does, as plain data. It owns the store
//! connection, the active dictionary and its search index, so the UI never touches SQL or tensors.

use std::sync::Arc;

use anyhow::Result;

use crate::backtest;
use crate::meddra::search::SearchIndex;
use crate::meddra::{Dictionary, Path as MedPath};
use crate::store::log::LoggedEntry;
use crate::store::queue::{Item, ItemFilter, State};
use crate::store::users::User;
use crate::store::workflow::{Action, ProposalSet, TopProposal};
use crate::store::Store;

/// Entropy (nats) above which an item is flagged as uncertain on screen.
pub const UNCERTAIN_ENTROPY: f64 = 2.5;
/// Top confidence below which an item is flagged as uncertain on screen.
pub const UNCERTAIN_CONFIDENCE: f64 = 0.5;

#[derive(Debug, Clone, PartialEq)]
pub struct ProposalView {
    pub llt_code: u32,
    pub llt_name: String,
    pub pt_name: String,
    pub soc_name: String,
    pub confidence: f64,
    pub current: bool,
}

/// The top proposal as the queue list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TopView {
    pub llt_name: String,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub item: Item,
    pub top: Option<TopView>,
    pub uncertain: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemView {
    pub item: Item,
    pub proposals: Vec<ProposalView>,
    pub model_version: Option<String>,
    pub entropy: Option<f64>,
    pub uncertain: bool,
    /// The coded LLT's name and every SOC path of its PT (primary first).
    pub code_name: Option<String>,
    pub code_paths: Vec<MedPath>,
    /// 1-based rank of the coded LLT among the proposals.
    pub code_rank: Option<usize>,
    pub history: Vec<LoggedEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchRow {
    pub llt_code: u32,
    pub llt_name: String,
    pub pt_name: String,
    pub soc_name: String,
    pub current: bool,
}

pub struct Desk {
    pub store: Store,
    pub dict: Arc<Dictionary>,
    search: SearchIndex,
    pub user: User,
}

impl Desk {
    pub fn open(store: Store, user_name: &str) -> Result<Desk> {
        let user = store.user(user_name)?;
        let dict = Arc::new(store.active_dictionary()?);
        let search = SearchIndex::new(&dict);
        Ok(Desk { store, dict, search, user })
    }

    /// The LLT's name, or its code marked as missing from the active version.
    fn llt_name(&self, code: u32) -> String {
        self.dict.llt(code).map(|l| l.name.clone()).unwrap_or_else(|| format!("{code} (not in MedDRA {})", self.dict.version))
    }

    fn proposal_view(&self, code: u32, confidence: f64) -> ProposalView {
        let l = self.dict.llt(code);
        let pt = l.map(|l| l.pt_code);
        ProposalView {
            llt_code: code,
            llt_name: self.llt_name(code),
            pt_name: pt.and_then(|p| self.dict.pt(p)).map(|p| p.name.clone()).unwrap_or_default(),
            soc_name: pt.and_then(|p| self.dict.primary_path(p)).map(|p| p.soc.name).unwrap_or_default(),
            confidence,
            current: l.is_some_and(|l| l.current),
        }
    }

    fn views(&self, set: &ProposalSet) -> Vec<ProposalView> {
        set.proposals.iter().map(|p| self.proposal_view(p.llt_code, p.confidence)).collect()
    }

    fn is_uncertain(t: &TopProposal) -> bool {
        t.entropy.is_some_and(|e| e > UNCERTAIN_ENTROPY) || t.top.is_none_or(|(_, confidence)| confidence < UNCERTAIN_CONFIDENCE)
    }

    /// Proposals count only when made for the active dictionary version.
    fn current_proposals(&self, item_id: i64) -> Result<Option<ProposalSet>> {
        Ok(self.store.proposals(item_id)?.filter(|s| s.meddra_version == self.dict.version))
    }

    /// The queue rows; the top proposals are read in one query, not one per row (large queues).
    pub fn queue(&self, filter: &ItemFilter) -> Result<Vec<QueueRow>> {
        let mut tops = self.store.top_proposals(&self.dict.version)?;
        Ok(self.store.items(filter)?.into_iter().map(|item| {
            let top = tops.remove(&item.id);
            self.row_with(item, top)
        }).collect())
    }

    /// One queue row: the item with its top proposal.
    pub fn row(&self, item: Item) -> Result<QueueRow> {
        let top = self.current_proposals(item.id)?.map(|s| s.top());
        Ok(self.row_with(item, top))
    }

    fn row_with(&self, item: Item, t: Option<TopProposal>) -> QueueRow {
        let top = t.and_then(|t| t.top).map(|(code, confidence)| TopView { llt_name: self.llt_name(code), confidence });
        QueueRow { item, top, uncertain: t.is_some_and(|t| Self::is_uncertain(&t)) }
    }

    pub fn counts(&self) -> Result<Vec<(State, usize)>> {
        self.store.state_counts()
    }

    pub fn studies(&self) -> Result<Vec<String>> {
        self.store.studies()
    }

    pub fn item(&self, external_id: &str) -> Result<ItemView> {
        let item = self.store.item(external_id)?;
        let set = self.current_proposals(item.id)?;
        let proposals = set.as_ref().map(|s| self.views(s)).unwrap_or_default();
        let code_rank = item.llt_code.and_then(|c| proposals.iter().position(|p| p.llt_code == c)).map(|i| i + 1);
        let (code_name, code_paths) = match item.llt_code.and_then(|c| self.dict.llt(c)) {
            Some(l) => (Some(l.name.clone()), self.dict.paths(l.pt_code)),
            None => (item.llt_code.map(|c| format!("LLT {c}")), vec![]),
        };
        Ok(ItemView {
            history: self.store.log_entries(Some(item.id))?,
            uncertain: set.as_ref().is_some_and(|s| Self::is_uncertain(&s.top())),
            model_version: set.as_ref().map(|s| s.model_version.clone()),
            entropy: set.as_ref().and_then(|s| s.entropy),
            proposals,
            code_name,
            code_paths,
            code_rank,
            item,
        })
    }

    pub fn act(&mut self, external_id: &str, revision: i64, action: Action) -> Result<Item> {
        let dict = self.dict.clone();
        self.store.act(&dict, &self.user.name, external_id, Some(revision), action)
    }

    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchRow> {
        self.search
            .search(query, limit)
            .into_iter()
            .map(|h| {
                let l = &self.dict.llts[h.llt];
                SearchRow {
                    llt_code: l.code,
                    llt_name: l.name.clone(),
                    pt_name: self.dict.pt(l.pt_code).map(|p| p.name.clone()).unwrap_or_default(),
                    soc_name: self.dict.primary_path(l.pt_code).map(|p| p.soc.name).unwrap_or_default(),
                    current: l.current,
                }
            })
            .collect()
    }

    pub fn stats(&self) -> Result<Option<backtest::Report>> {
        let cases = self.store.backtest_cases(None)?;
        Ok((!cases.is_empty()).then(|| backtest::report(&cases)))
    }

    /// Open items whose proposals are missing or stale, as (id, term) jobs for the worker.
    pub fn items_needing_proposals(&self, model_version: &str) -> Result<Vec<(i64, String)>> {
        Ok(self.store.items_needing_proposals(model_version, &self.dict.version, false)?.into_iter().map(|it| (it.id, it.report.reported_term)).collect())
    }
}
