//! Which proposed items a reviewer's bulk confirmation covers (issue #24): a filter by study,
//! route, LLT and term over the items the reviewer read. The confirmation itself is one
//! `act` per item (`DeskStore::confirm_seen`), so each item keeps its own log row, revision
//! check and four-eye rule.

use super::item::{Item, State};

/// How a proposed code was found, as the bulk filter names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The exact-name rule.
    Rule,
    /// The synonym list.
    Synonym,
    /// Model-first coding at the validated threshold.
    ModelFirst,
    /// A coder accepting one of the model's proposals.
    Model,
    /// A coder's search, browse or typed code.
    Person,
}

impl Route {
    pub const ALL: [Route; 5] = [Route::Rule, Route::Synonym, Route::ModelFirst, Route::Model, Route::Person];

    pub fn parse(s: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Route::Rule => "rule",
            Route::Synonym => "synonym",
            Route::ModelFirst => "model-first",
            Route::Model => "model",
            Route::Person => "person",
        }
    }

    /// The route of an item's `source`.
    pub fn of(source: Option<&str>) -> Route {
        match source {
            Some("rule") => Route::Rule,
            Some("synonym") => Route::Synonym,
            Some("model-first") => Route::ModelFirst,
            Some("model") => Route::Model,
            _ => Route::Person,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkFilter {
    pub study: Option<String>,
    pub route: Option<Route>,
    pub llt: Option<u32>,
    /// A reported term, compared normalised.
    pub term: Option<String>,
}

impl BulkFilter {
    /// Whether nothing narrows it: a bulk confirmation must name what it signs for.
    pub fn is_empty(&self) -> bool {
        self.study.is_none() && self.route.is_none() && self.llt.is_none() && self.term.is_none()
    }

    /// A proposed item this filter covers.
    pub fn matches(&self, it: &Item) -> bool {
        it.state == State::Proposed
            && self.study.as_ref().is_none_or(|s| *s == it.study)
            && self.route.is_none_or(|r| Route::of(it.source.as_deref()) == r)
            && self.llt.is_none_or(|l| it.llt_code == Some(l))
            && self.term.as_ref().is_none_or(|t| crate::text::normalize(t) == crate::text::normalize(&it.reported_term))
    }

    /// What it covers, for the signature prompt and the output ("study CDISC01, route rule").
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.study {
            parts.push(format!("study {s}"));
        }
        if let Some(r) = self.route {
            parts.push(format!("route {}", r.as_str()));
        }
        if let Some(l) = self.llt {
            parts.push(format!("LLT {l}"));
        }
        if let Some(t) = &self.term {
            parts.push(format!("term '{}'", crate::text::normalize(t)));
        }
        if parts.is_empty() {
            "every proposed item".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(study: &str, source: &str, llt: u32, state: State) -> Item {
        Item {
            id: 1,
            report: crate::intake::queue::Report { external_id: "AE-1".into(), study: study.into(), reported_term: "Head ache".into(), ..Default::default() },
            state,
            llt_code: Some(llt),
            pt_code: None,
            meddra_version: None,
            source: Some(source.into()),
            proposer: None,
            reviewer: None,
            comment: None,
            revision: 1,
            imported_at: String::new(),
            updated_at: String::new(),
            updated_by: String::new(),
            proposed_at: None,
            confirmed_at: None,
            part_of: None,
            part_no: None,
        }
    }

    #[test]
    fn the_filter_takes_proposed_items_of_its_study_route_llt_and_term_only() {
        let f = BulkFilter { study: Some("S1".into()), route: Some(Route::Rule), ..Default::default() };
        assert!(f.matches(&item("S1", "rule", 1, State::Proposed)));
        assert!(!f.matches(&item("S2", "rule", 1, State::Proposed)));
        assert!(!f.matches(&item("S1", "model", 1, State::Proposed)));
        assert!(!f.matches(&item("S1", "rule", 1, State::Confirmed)));
        let f = BulkFilter { route: Some(Route::Person), llt: Some(2), term: Some("HEAD-ACHE".into()), ..Default::default() };
        assert!(f.matches(&item("S1", "search", 2, State::Proposed)));
        assert!(!f.matches(&item("S1", "search", 3, State::Proposed)));
        assert!(!f.matches(&item("S1", "model-first", 2, State::Proposed)));
        assert_eq!(f.describe(), "route person, LLT 2, term 'head ache'");
        assert!(BulkFilter::default().is_empty());
        assert_eq!(Route::parse("model-first"), Some(Route::ModelFirst));
    }
}
