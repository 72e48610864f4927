//! A queue item as stored: the site's report and where its coding stands, and the mapping of its
//! table row.

use std::fmt;

use anyhow::{anyhow, Result};
use rusqlite::Row;
use serde::{Deserialize, Serialize};

pub use crate::intake::queue::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    New,
    Proposed,
    Returned,
    /// On query: a question to the site is open.
    Query,
    /// The site answered the query; the coder codes it (which closes the query).
    Answered,
    /// Split into parts (`part_of`), each coded on its own; the item itself holds no code.
    Split,
    /// A part of a split a reviewer returned: no longer coded or exported.
    Void,
    Confirmed,
}

impl State {
    pub const ALL: [State; 8] = [State::New, State::Proposed, State::Returned, State::Query, State::Answered, State::Split, State::Void, State::Confirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Proposed => "proposed",
            State::Returned => "returned",
            State::Query => "query",
            State::Answered => "answered",
            State::Split => "split",
            State::Void => "void",
            State::Confirmed => "confirmed",
        }
    }
    /// Whether a count of items in this state belongs in the queue's header: the lifecycle's rarer
    /// states only when an item is in them, void parts (no work) never.
    pub fn in_counts(self, n: usize) -> bool {
        match self {
            State::Void => false,
            State::Answered | State::Split => n > 0,
            _ => true,
        }
    }

    pub fn parse(s: &str) -> Result<State> {
        State::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| anyhow!("unknown state '{s}': use new, proposed, returned, query, answered, split, void or confirmed"))
    }
}

// `pad` honours a width: the command line's columns line up.
impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A queue item: the report and where its coding stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: i64,
    #[serde(flatten)]
    pub report: Report,
    pub state: State,
    pub llt_code: Option<u32>,
    pub pt_code: Option<u32>,
    pub meddra_version: Option<String>,
    pub source: Option<String>,
    pub proposer: Option<String>,
    pub reviewer: Option<String>,
    pub comment: Option<String>,
    /// Bumped by every change; an action quoting an older revision is refused as stale.
    pub revision: i64,
    pub imported_at: String,
    pub updated_at: String,
    pub updated_by: String,
    pub proposed_at: Option<String>,
    pub confirmed_at: Option<String>,
    /// The item this one is a part of (its external id), when a coder split a compound verbatim.
    pub part_of: Option<String>,
    pub part_no: Option<u32>,
}

// The report's fields read as the item's own (`item.reported_term`).
impl std::ops::Deref for Item {
    type Target = Report;
    fn deref(&self) -> &Report {
        &self.report
    }
}

pub(crate) const ITEM_COLUMNS: &str = "id, external_id, study, subject, reported_term, onset_date, seriousness, investigator, state, llt_code, pt_code, meddra_version, source, proposer, reviewer, comment, revision, imported_at, updated_at, updated_by, proposed_at, confirmed_at, part_of, part_no";

pub(crate) fn item_from_row(r: &Row<'_>) -> rusqlite::Result<Item> {
    let state: String = r.get(8)?;
    Ok(Item {
        id: r.get(0)?,
        report: Report {
            external_id: r.get(1)?,
            study: r.get(2)?,
            subject: r.get(3)?,
            reported_term: r.get(4)?,
            onset_date: r.get(5)?,
            seriousness: r.get(6)?,
            investigator: r.get(7)?,
        },
        state: State::parse(&state).map_err(|e| rusqlite::Error::FromSqlConversionFailure(8, rusqlite::types::Type::Text, e.into()))?,
        llt_code: r.get(9)?,
        pt_code: r.get(10)?,
        meddra_version: r.get(11)?,
        source: r.get(12)?,
        proposer: r.get(13)?,
        reviewer: r.get(14)?,
        comment: r.get(15)?,
        revision: r.get(16)?,
        imported_at: r.get(17)?,
        updated_at: r.get(18)?,
        updated_by: r.get(19)?,
        proposed_at: r.get(20)?,
        confirmed_at: r.get(21)?,
        part_of: r.get(22)?,
        part_no: r.get(23)?,
    })
}

/// What the queue list shows of an item: the list reads only these columns, so a reload of a
/// large queue allocates a few strings per row, not the whole item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSummary {
    pub id: i64,
    pub external_id: String,
    pub study: String,
    pub subject: String,
    pub reported_term: String,
    pub state: State,
    pub llt_code: Option<u32>,
    /// Who proposed the current code (the desk moves a reviewer on to others' proposals only).
    pub proposer: Option<String>,
    /// The worklist's priority (serious events first) and ageing read these.
    pub seriousness: Option<String>,
    pub imported_at: String,
}

impl From<&Item> for ItemSummary {
    fn from(it: &Item) -> ItemSummary {
        ItemSummary {
            id: it.id,
            external_id: it.external_id.clone(),
            study: it.study.clone(),
            subject: it.subject.clone(),
            reported_term: it.reported_term.clone(),
            state: it.state,
            llt_code: it.llt_code,
            proposer: it.proposer.clone(),
            seriousness: it.seriousness.clone(),
            imported_at: it.imported_at.clone(),
        }
    }
}

pub(crate) const SUMMARY_COLUMNS: &str = "id, external_id, study, subject, reported_term, state, llt_code, proposer, seriousness, imported_at";

pub(crate) fn summary_from_row(r: &Row<'_>) -> rusqlite::Result<ItemSummary> {
    let state = r.get_ref(5)?.as_str()?;
    Ok(ItemSummary {
        id: r.get(0)?,
        external_id: r.get(1)?,
        study: r.get(2)?,
        subject: r.get(3)?,
        reported_term: r.get(4)?,
        state: State::parse(state).map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, e.into()))?,
        llt_code: r.get(6)?,
        proposer: r.get(7)?,
        seriousness: r.get(8)?,
        imported_at: r.get(9)?,
    })
}

/// Filters for listing items.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub states: Vec<State>,
    pub study: Option<String>,
    pub text: Option<String>,
}
