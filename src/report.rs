//! Team reports (issue #24): who coded and reviewed how much per day, how long items take from
//! import to confirmation and how old the open work is, the same term confirmed to different PTs,
//! and the queries to sites. Pure functions over what the one store API returns (the decision
//! log and the items), so both stores give the same report.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::meddra::Dictionary;
use crate::store::item::{Item, State};
use crate::store::log::LoggedEntry;

/// What a report covers: a study, and days from..=to (YYYY-MM-DD, UTC), each optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub study: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl Window {
    /// Checks the dates: YYYY-MM-DD, from not after to.
    pub fn new(study: Option<String>, from: Option<String>, to: Option<String>) -> Result<Window> {
        for (name, d) in [("--from", &from), ("--to", &to)] {
            if let Some(d) = d {
                // Days compare as text: only the zero-padded form may pass ("2026-9-1" sorts
                // after "2026-12-01").
                let padded = d.len() == 10 && d.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
                if !padded || chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                    bail!("{name} {}: write a day as YYYY-MM-DD", crate::text::printable(d));
                }
            }
        }
        if let (Some(f), Some(t)) = (&from, &to) {
            if f > t {
                bail!("--from {f} is after --to {t}");
            }
        }
        Ok(Window { study, from, to })
    }

    /// Whether a time (RFC 3339 text) falls on a day of the window.
    pub fn day_in(&self, at: &str) -> bool {
        let day = at.get(..10).unwrap_or(at);
        self.from.as_deref().is_none_or(|f| day >= f) && self.to.as_deref().is_none_or(|t| day <= t)
    }

    pub fn study_in(&self, study: &str) -> bool {
        self.study.as_deref().is_none_or(|s| s == study)
    }

    /// What it covers, printable (a study name is shown escaped).
    pub fn describe(&self) -> String {
        let study = self.study.as_deref().map(|s| format!("study {}", crate::text::printable(s))).unwrap_or_else(|| "all studies".into());
        let days = match (&self.from, &self.to) {
            (None, None) => "all days".to_string(),
            (Some(f), None) => format!("from {f}"),
            (None, Some(t)) => format!("to {t}"),
            (Some(f), Some(t)) => format!("{f} to {t}"),
        };
        format!("{study}, {days}")
    }
}

/// Hours between two RFC 3339 times (None when either does not parse).
fn hours(from: &str, to: &str) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    Some((b - a).num_seconds() as f64 / 3600.0)
}

/// The q-quantile (0..=1) of sorted values, by the nearest rank.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

/// Each logged item's study, for the log rows of items (the log keeps the external id).
fn studies(items: &[Item]) -> HashMap<&str, &str> {
    items.iter().map(|i| (i.external_id.as_str(), i.study.as_str())).collect()
}

/// One person's work on one day.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PersonDay {
    pub day: String,
    pub user: String,
    /// Codes proposed (proposals and recodes).
    pub coded: usize,
    pub confirmed: usize,
    pub returned: usize,
    /// Queries put to sites.
    pub queried: usize,
}

impl PersonDay {
    pub fn reviewed(&self) -> usize {
        self.confirmed + self.returned
    }
}

/// Items coded and reviewed per person and day, by day then person. Rule, synonym and model-first
/// codes are nobody's work and are not counted.
pub fn productivity(log: &[LoggedEntry], items: &[Item], w: &Window) -> Vec<PersonDay> {
    let study = studies(items);
    let mut out: BTreeMap<(String, String), PersonDay> = BTreeMap::new();
    for r in log {
        let e = &r.entry;
        let Some(id) = e.external_id.as_deref() else { continue };
        if !w.day_in(&r.at) || !study.get(id).is_some_and(|s| w.study_in(s)) {
            continue;
        }
        if !matches!(e.action.as_str(), "propose" | "recode" | "confirm" | "return" | "query") {
            continue;
        }
        let day = r.at.get(..10).unwrap_or(&r.at).to_string();
        let p = out.entry((day.clone(), e.user.clone())).or_insert_with(|| PersonDay { day, user: e.user.clone(), ..Default::default() });
        match e.action.as_str() {
            "propose" | "recode" => p.coded += 1,
            "confirm" => p.confirmed += 1,
            "return" => p.returned += 1,
            _ => p.queried += 1,
        }
    }
    out.into_values().collect()
}

/// Totals per person over the window.
pub fn per_person(days: &[PersonDay]) -> Vec<PersonDay> {
    let mut by: BTreeMap<&str, PersonDay> = BTreeMap::new();
    for d in days {
        let p = by.entry(d.user.as_str()).or_insert_with(|| PersonDay { day: "all".into(), user: d.user.clone(), ..Default::default() });
        p.coded += d.coded;
        p.confirmed += d.confirmed;
        p.returned += d.returned;
        p.queried += d.queried;
    }
    by.into_values().collect()
}

/// How long confirmed items took from import to confirmation, and how old the open work is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Turnaround {
    /// Items confirmed in the window.
    pub confirmed: usize,
    pub median_hours: Option<f64>,
    pub p90_hours: Option<f64>,
    pub mean_hours: Option<f64>,
    /// (study, confirmed, median hours)
    pub by_study: Vec<(String, usize, f64)>,
    /// The hours of each confirmed item, for a histogram.
    pub hours: Vec<f64>,
    /// Open items (new, proposed, returned, on query, answered) by age since import:
    /// (bracket, count by state).
    pub open_by_age: Vec<(String, BTreeMap<String, usize>)>,
}

/// The age brackets of open work, in days since import.
pub const AGE_BRACKETS: [(&str, i64, i64); 4] = [("0-1 days", 0, 1), ("2-7 days", 2, 7), ("8-30 days", 8, 30), ("over 30 days", 31, i64::MAX)];

/// The age bracket (an index into `AGE_BRACKETS`) of `days`.
fn bracket(days: i64) -> Option<usize> {
    AGE_BRACKETS.iter().position(|(_, lo, hi)| days >= *lo && days <= *hi)
}

/// Hours as a reader weighs them: hours under two days, days beyond; "-" for none.
pub fn fmt_hours(h: Option<f64>) -> String {
    match h {
        None => "-".into(),
        Some(h) if h < 48.0 => format!("{h:.1} h"),
        Some(h) => format!("{:.1} days", h / 24.0),
    }
}

/// Import to confirmation for the items confirmed in the window, and the open work's age at `now`.
pub fn turnaround(items: &[Item], w: &Window, now: &str) -> Turnaround {
    let mut hours_of: Vec<(String, f64)> = items
        .iter()
        .filter(|i| i.state == State::Confirmed && w.study_in(&i.study))
        .filter_map(|i| {
            let at = i.confirmed_at.as_deref()?;
            w.day_in(at).then_some(())?;
            Some((i.study.clone(), hours(&i.imported_at, at)?.max(0.0)))
        })
        .collect();
    hours_of.sort_by(|a, b| a.1.total_cmp(&b.1));
    let all: Vec<f64> = hours_of.iter().map(|h| h.1).collect();
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (s, h) in &hours_of {
        by.entry(s.clone()).or_default().push(*h);
    }
    let mut open_by_age: Vec<(String, BTreeMap<String, usize>)> = AGE_BRACKETS.iter().map(|(n, _, _)| (n.to_string(), BTreeMap::new())).collect();
    let open = [State::New, State::Proposed, State::Returned, State::Query, State::Answered];
    for it in items.iter().filter(|i| open.contains(&i.state) && w.study_in(&i.study)) {
        let days = hours(&it.imported_at, now).map_or(0, |h| (h / 24.0).floor() as i64);
        if let Some(b) = bracket(days) {
            *open_by_age[b].1.entry(it.state.to_string()).or_default() += 1;
        }
    }
    Turnaround {
        confirmed: all.len(),
        median_hours: quantile(&all, 0.5),
        p90_hours: quantile(&all, 0.9),
        mean_hours: (!all.is_empty()).then(|| all.iter().sum::<f64>() / all.len() as f64),
        by_study: by.into_iter().map(|(s, h)| (s, h.len(), quantile(&h, 0.5).unwrap_or(0.0))).collect(),
        hours: all,
        open_by_age,
    }
}

/// A synonym key confirmed to more than one PT.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inconsistency {
    pub key: String,
    /// The verbatims as written, each once.
    pub spellings: Vec<String>,
    /// (PT code, PT name, confirmed items, their ids), most items first.
    pub pts: Vec<(u32, String, usize, Vec<String>)>,
}

/// A key's spellings as written, and its confirmed items by PT.
type Spread = (Vec<String>, BTreeMap<u32, Vec<String>>);

/// Confirmed items (confirmed in the window) whose synonym key was coded to different PTs: the
/// same term coded two ways, which a coding lead reconciles.
pub fn consistency(items: &[Item], dict: Option<&Dictionary>, qualifiers: &[String], w: &Window) -> Vec<Inconsistency> {
    let mut by: BTreeMap<String, Spread> = BTreeMap::new();
    for it in items.iter().filter(|i| i.state == State::Confirmed && w.study_in(&i.study)) {
        let (Some(pt), Some(at)) = (it.pt_code, it.confirmed_at.as_deref()) else { continue };
        if !w.day_in(at) {
            continue;
        }
        let key = crate::qualifiers::key(&crate::text::normalize(&it.reported_term), qualifiers);
        if key.is_empty() {
            continue;
        }
        let slot = by.entry(key).or_default();
        if !slot.0.contains(&it.reported_term) {
            slot.0.push(it.reported_term.clone());
        }
        slot.1.entry(pt).or_default().push(it.external_id.clone());
    }
    by.into_iter()
        .filter(|(_, (_, pts))| pts.len() > 1)
        .map(|(key, (spellings, pts))| {
            let mut pts: Vec<(u32, String, usize, Vec<String>)> = pts
                .into_iter()
                .map(|(pt, ids)| (pt, dict.and_then(|d| d.pt(pt)).map(|p| p.name.clone()).unwrap_or_else(|| format!("PT {pt}")), ids.len(), ids))
                .collect();
            pts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
            Inconsistency { key, spellings, pts }
        })
        .collect()
}

/// Queries to sites: how many were asked, answered and closed in the window, how long answers
/// took, and the open ones by age.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Queries {
    pub asked: usize,
    pub answered: usize,
    pub closed: usize,
    /// Open now (items on query), by days since asked: (bracket, count).
    pub open_by_age: Vec<(String, usize)>,
    pub median_days_to_answer: Option<f64>,
    /// Each answer's days, for a histogram.
    pub days_to_answer: Vec<f64>,
    /// (study, asked, answered)
    pub by_study: Vec<(String, usize, usize)>,
}

pub fn queries(log: &[LoggedEntry], items: &[Item], w: &Window, now: &str) -> Queries {
    let study = studies(items);
    let mut q = Queries::default();
    let mut asked_at: HashMap<&str, &str> = HashMap::new();
    let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in log {
        let e = &r.entry;
        let Some(id) = e.external_id.as_deref() else { continue };
        let Some(s) = study.get(id).copied().filter(|s| w.study_in(s)) else { continue };
        let in_window = w.day_in(&r.at);
        match e.action.as_str() {
            "query" => {
                asked_at.insert(id, &r.at);
                if in_window {
                    q.asked += 1;
                    by.entry(s.to_string()).or_default().0 += 1;
                }
            }
            "answer" => {
                let since = asked_at.remove(id);
                if in_window {
                    q.answered += 1;
                    by.entry(s.to_string()).or_default().1 += 1;
                    if let Some(h) = since.and_then(|a| hours(a, &r.at)) {
                        q.days_to_answer.push(h.max(0.0) / 24.0);
                    }
                }
            }
            "close-query" => {
                asked_at.remove(id);
                if in_window {
                    q.closed += 1;
                }
            }
            _ => {}
        }
    }
    q.days_to_answer.sort_by(f64::total_cmp);
    q.median_days_to_answer = quantile(&q.days_to_answer, 0.5);
    let mut open: Vec<(String, usize)> = AGE_BRACKETS.iter().map(|(n, _, _)| (n.to_string(), 0)).collect();
    let on_query: std::collections::HashSet<&str> =
        items.iter().filter(|i| i.state == State::Query && w.study_in(&i.study)).map(|i| i.external_id.as_str()).collect();
    for (id, at) in &asked_at {
        if !on_query.contains(id) {
            continue;
        }
        let days = hours(at, now).map_or(0, |h| (h / 24.0).floor() as i64);
        if let Some(b) = bracket(days) {
            open[b].1 += 1;
        }
    }
    q.open_by_age = open;
    q.by_study = by.into_iter().map(|(s, (a, n))| (s, a, n)).collect();
    q
}

/// All four reports over one window, as the desk's stats screen shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TeamReports {
    pub window: String,
    pub people: Vec<PersonDay>,
    pub turnaround: Turnaround,
    pub consistency: Vec<Inconsistency>,
    pub queries: Queries,
}

pub fn team_reports(log: &[LoggedEntry], items: &[Item], dict: &Dictionary, qualifiers: &[String], w: &Window, now: &str) -> TeamReports {
    TeamReports {
        window: w.describe(),
        people: per_person(&productivity(log, items, w)),
        turnaround: turnaround(items, w, now),
        consistency: consistency(items, Some(dict), qualifiers, w),
        queries: queries(log, items, w, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::log::Entry;

    fn item(id: &str, study: &str, term: &str, state: State, pt: Option<u32>, imported: &str, confirmed: Option<&str>) -> Item {
        Item {
            id: 1,
            report: crate::intake::queue::Report { external_id: id.into(), study: study.into(), reported_term: term.into(), ..Default::default() },
            state,
            llt_code: pt,
            pt_code: pt,
            meddra_version: None,
            source: None,
            proposer: None,
            reviewer: None,
            comment: None,
            revision: 1,
            imported_at: imported.into(),
            updated_at: imported.into(),
            updated_by: String::new(),
            proposed_at: None,
            confirmed_at: confirmed.map(String::from),
            part_of: None,
            part_no: None,
        }
    }

    fn row(at: &str, user: &str, action: &str, id: &str) -> LoggedEntry {
        LoggedEntry {
            seq: 0,
            at: at.into(),
            entry: Entry { user: user.into(), action: action.into(), external_id: Some(id.into()), ..Default::default() },
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn productivity_counts_each_persons_decisions_per_day_in_the_window() {
        let items = [
            item("A1", "S1", "x", State::Confirmed, None, "2026-01-01T00:00:00Z", None),
            item("B1", "S2", "y", State::New, None, "2026-01-01T00:00:00Z", None),
        ];
        let log = [
            row("2026-01-02T09:00:00Z", "alice", "propose", "A1"),
            row("2026-01-02T10:00:00Z", "bob", "return", "A1"),
            row("2026-01-03T09:00:00Z", "alice", "recode", "A1"),
            row("2026-01-03T11:00:00Z", "bob", "confirm", "A1"),
            row("2026-01-03T11:00:00Z", "admin", "autocode", "A1"),
            row("2026-01-03T12:00:00Z", "alice", "query", "B1"),
        ];
        let all = productivity(&log, &items, &Window::default());
        assert_eq!(all.len(), 4);
        assert_eq!((all[0].day.as_str(), all[0].user.as_str(), all[0].coded), ("2026-01-02", "alice", 1));
        let w = Window::new(Some("S1".into()), Some("2026-01-03".into()), None).unwrap();
        let in_s1 = productivity(&log, &items, &w);
        assert_eq!(
            per_person(&in_s1).iter().map(|p| (p.user.as_str(), p.coded, p.reviewed(), p.queried)).collect::<Vec<_>>(),
            [("alice", 1, 0, 0), ("bob", 0, 1, 0)]
        );
        assert!(Window::new(None, Some("2026-02-01".into()), Some("2026-01-01".into())).is_err());
        assert!(Window::new(None, Some("yesterday".into()), None).is_err());
        assert!(Window::new(None, Some("2026-9-1".into()), None).is_err(), "not zero-padded");
        assert!(Window::new(None, Some(" 2026-01-01".into()), None).is_err());
    }

    #[test]
    fn turnaround_takes_import_to_confirmation_and_ages_the_open_work() {
        let items = [
            item("A", "S1", "x", State::Confirmed, Some(1), "2026-01-01T00:00:00Z", Some("2026-01-01T10:00:00Z")),
            item("B", "S1", "x", State::Confirmed, Some(1), "2026-01-01T00:00:00Z", Some("2026-01-03T00:00:00Z")),
            item("C", "S2", "x", State::New, None, "2026-01-01T00:00:00Z", None),
            item("D", "S2", "x", State::Query, None, "2026-01-09T00:00:00Z", None),
        ];
        let t = turnaround(&items, &Window::default(), "2026-01-10T00:00:00Z");
        assert_eq!((t.confirmed, t.median_hours, t.p90_hours), (2, Some(10.0), Some(48.0)));
        assert_eq!(t.by_study, [("S1".to_string(), 2, 10.0)]);
        assert_eq!(t.open_by_age[0].1.get("query"), Some(&1));
        assert_eq!(t.open_by_age[2].1.get("new"), Some(&1));
    }

    #[test]
    fn consistency_finds_a_key_confirmed_to_two_pts_and_queries_their_answers() {
        let q = crate::qualifiers::from_setting(None).unwrap();
        let items = [
            item("A", "S", "Headache mild", State::Confirmed, Some(1), "2026-01-01T00:00:00Z", Some("2026-01-02T00:00:00Z")),
            item("B", "S", "headache", State::Confirmed, Some(2), "2026-01-01T00:00:00Z", Some("2026-01-02T00:00:00Z")),
            item("C", "S", "headache", State::Confirmed, Some(2), "2026-01-01T00:00:00Z", Some("2026-01-02T00:00:00Z")),
            item("D", "S", "nausea", State::Confirmed, Some(3), "2026-01-01T00:00:00Z", Some("2026-01-02T00:00:00Z")),
        ];
        let c = consistency(&items, None, &q, &Window::default());
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].key.as_str(), c[0].pts[0].0, c[0].pts[0].2), ("headache", 2, 2));
        assert_eq!(c[0].spellings, ["Headache mild", "headache"]);
        let items =
            [item("Q", "S", "x", State::Query, None, "2026-01-01T00:00:00Z", None), item("R", "S", "y", State::Answered, None, "2026-01-01T00:00:00Z", None)];
        let log = [
            row("2026-01-02T00:00:00Z", "alice", "query", "R"),
            row("2026-01-04T00:00:00Z", "alice", "answer", "R"),
            row("2026-01-05T00:00:00Z", "alice", "query", "Q"),
        ];
        let r = queries(&log, &items, &Window::default(), "2026-01-15T00:00:00Z");
        assert_eq!((r.asked, r.answered, r.closed, r.median_days_to_answer), (2, 1, 0, Some(2.0)));
        assert_eq!(r.open_by_age[2], ("8-30 days".to_string(), 1));
    }
}
