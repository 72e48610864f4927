//! Type-ahead LLT search: words in any order, prefixes while typing, typos tolerated.
//!
//! Scoring every LLT name with a fuzzy matcher costs ~100 ms on a real-size release, too slow for
//! per-key search. So query words are first matched against the release's word vocabulary (exact,
//! prefix, substring or within a small edit distance), an inverted index turns those words into
//! candidate LLTs, and only the candidates are ranked, with fuzzy-matcher's score as a tie-breaker
//! for word order and closeness.

use std::collections::HashMap;

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use super::Dictionary;

/// Candidate count above which the fuzzy tie-breaker is skipped.
const FUZZY_TIEBREAK_LIMIT: usize = 5_000;

/// One result: an index into `Dictionary::llts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub llt: usize,
    pub score: i64,
    pub current: bool,
}

pub struct SearchIndex {
    names: Vec<String>,
    current: Vec<bool>,
    word_count: Vec<u8>,
    vocab: Vec<String>,
    vocab_ids: HashMap<String, u32>,
    postings: Vec<Vec<u32>>,
    codes: HashMap<u32, Vec<u32>>,
    matcher: SkimMatcherV2,
}

/// Lower-cased alphanumeric words of a text.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

impl SearchIndex {
    pub fn new(dict: &Dictionary) -> SearchIndex {
        let mut vocab = Vec::new();
        let mut vocab_ids: HashMap<String, u32> = HashMap::new();
        let mut postings: Vec<Vec<u32>> = Vec::new();
        let mut codes: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut word_count = Vec::with_capacity(dict.llts.len());
        for (i, l) in dict.llts.iter().enumerate() {
            let ws = words(&l.name);
            word_count.push(ws.len().min(255) as u8);
            for w in ws {
                let id = *vocab_ids.entry(w.clone()).or_insert_with(|| {
                    vocab.push(w);
                    postings.push(Vec::new());
                    (postings.len() - 1) as u32
                });
                let p = &mut postings[id as usize];
                if p.last() != Some(&(i as u32)) {
                    p.push(i as u32);
                }
            }
            codes.entry(l.code).or_default().push(i as u32);
            if l.pt_code != l.code {
                codes.entry(l.pt_code).or_default().push(i as u32);
            }
        }
        SearchIndex {
            names: dict.llts.iter().map(|l| l.name.to_lowercase()).collect(),
            current: dict.llts.iter().map(|l| l.current).collect(),
            word_count,
            vocab,
            vocab_ids,
            postings,
            codes,
            matcher: SkimMatcherV2::default(),
        }
    }

    /// Ranked LLTs for a query: current LLTs first, then by score. A query of digits looks up an
    /// LLT or PT code.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let query = query.trim();
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        if query.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(ix) = query.parse::<u32>().ok().and_then(|c| self.codes.get(&c)) {
                let mut hits: Vec<Hit> = ix.iter().map(|&i| self.hit(i as usize, 1000)).collect();
                self.order(&mut hits);
                hits.truncate(limit);
                return hits;
            }
        }
        let qwords = words(query);
        if qwords.is_empty() {
            return Vec::new();
        }
        // The last word may still be being typed, so it alone matches as a prefix from one letter.
        let typing_last = !query.ends_with(' ');
        let n = qwords.len();
        let mut per_llt: HashMap<u32, Vec<i64>> = HashMap::new();
        for (qi, q) in qwords.iter().enumerate() {
            let allow_short_prefix = typing_last && qi == n - 1;
            for (vid, wscore) in self.matching_words(q, allow_short_prefix) {
                for &llt in &self.postings[vid as usize] {
                    let slot = per_llt.entry(llt).or_insert_with(|| vec![0; n]);
                    slot[qi] = slot[qi].max(wscore);
                }
            }
        }
        let matched = |s: &Vec<i64>| s.iter().filter(|&&x| x > 0).count();
        let best = per_llt.values().map(matched).max().unwrap_or(0);
        // The fuzzy order bonus only breaks ties; on a huge candidate set (one typed letter) it
        // would cost more than a frame, and the next key narrows the set anyway.
        let order_bonus_on = per_llt.len() <= FUZZY_TIEBREAK_LIMIT;
        let mut hits: Vec<Hit> = if best == 0 {
            self.fuzzy_scan(query)
        } else {
            per_llt
                .iter()
                .filter(|(_, s)| matched(s) == best)
                .map(|(&i, s)| {
                    let i = i as usize;
                    let extra_words = i64::from(self.word_count[i]).saturating_sub(best as i64);
                    let order_bonus = if order_bonus_on { self.matcher.fuzzy_match(&self.names[i], query).map_or(0, |f| f.min(200) / 10) } else { 0 };
                    let exact = if self.names[i] == query.to_lowercase() { 100 } else { 0 };
                    self.hit(i, s.iter().sum::<i64>() + order_bonus + exact - 25 * extra_words)
                })
                .collect()
        };
        self.order(&mut hits);
        hits.truncate(limit);
        hits
    }

    fn hit(&self, i: usize, score: i64) -> Hit {
        Hit { llt: i, score, current: self.current[i] }
    }

    fn order(&self, hits: &mut [Hit]) {
        hits.sort_by(|a, b| {
            b.current
                .cmp(&a.current)
                .then(b.score.cmp(&a.score))
                .then(self.names[a.llt].len().cmp(&self.names[b.llt].len()))
                .then(self.names[a.llt].cmp(&self.names[b.llt]))
        });
    }

    /// Vocabulary words that match one query word, with how well.
    fn matching_words(&self, q: &str, allow_short_prefix: bool) -> Vec<(u32, i64)> {
        let mut out = Vec::new();
        if let Some(&id) = self.vocab_ids.get(q) {
            out.push((id, 100));
        }
        let qlen = q.chars().count();
        let max_dist = match qlen {
            0..=3 => 0,
            4..=7 => 1,
            _ => 2,
        };
        let min_prefix = if allow_short_prefix { 1 } else { 3 };
        for (id, w) in self.vocab.iter().enumerate() {
            if w == q {
                continue;
            }
            let wlen = w.chars().count();
            let score = if qlen >= min_prefix && w.starts_with(q) {
                80 - (wlen - qlen).min(20) as i64
            } else if qlen >= 4 && w.contains(q) {
                45
            } else if max_dist > 0 && wlen.abs_diff(qlen) <= max_dist {
                match bounded_distance(q, w, max_dist) {
                    Some(d) => 70 - 20 * d as i64,
                    None => continue,
                }
            } else {
                continue;
            };
            out.push((id as u32, score));
        }
        out
    }

    /// Last resort for queries none of whose words match: fuzzy-match every name.
    fn fuzzy_scan(&self, query: &str) -> Vec<Hit> {
        self.names.iter().enumerate().filter_map(|(i, name)| self.matcher.fuzzy_match(name, query).map(|s| self.hit(i, s / 4))).collect()
    }
}

/// Optimal-string-alignment distance between `a` and `b`, or None when it exceeds `max`.
fn bounded_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    if n.abs_diff(m) > max {
        return None;
    }
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[m] <= max).then_some(prev[m])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meddra::{outline, Dictionary};
    use std::path::Path;

    fn dict() -> Dictionary {
        let text = "RELEASE T | E\nSOC Body | B\nHLGT G\nHLT T\n\
            PT Pain in extremity: Leg pain; Unilateral leg pain; Pain in leg; ~Leg ache\n\
            PT Headache: Head pain; ~Cephalgia\nPT Nausea: Feeling sick\nPT Back pain: Lower back pain\n";
        Dictionary::new(&outline::compile(Path::new("t"), text).unwrap())
    }

    fn names(d: &Dictionary, q: &str) -> Vec<String> {
        SearchIndex::new(d).search(q, 10).iter().map(|h| d.llts[h.llt].name.clone()).collect()
    }

    #[test]
    fn words_in_any_order() {
        let d = dict();
        assert_eq!(names(&d, "leg pain unilateral")[0], "Unilateral leg pain");
        assert_eq!(names(&d, "pain leg")[0], "Leg pain");
    }

    #[test]
    fn tolerates_typos_and_prefixes() {
        let d = dict();
        assert_eq!(names(&d, "hedache")[0], "Headache");
        assert_eq!(names(&d, "nausae")[0], "Nausea");
        assert_eq!(names(&d, "unilat")[0], "Unilateral leg pain");
        assert!(names(&d, "he").contains(&"Headache".to_string()));
    }

    #[test]
    fn current_llts_come_first_and_non_current_stay_visible() {
        let d = dict();
        let idx = SearchIndex::new(&d);
        let hits = idx.search("leg", 10);
        let first_non_current = hits.iter().position(|h| !h.current).unwrap();
        assert!(hits[..first_non_current].iter().all(|h| h.current));
        assert!(hits[first_non_current..].iter().all(|h| !h.current));
        assert_eq!(names(&d, "cephalgia"), vec!["Cephalgia"]);
    }

    #[test]
    fn exact_name_wins() {
        let d = dict();
        assert_eq!(names(&d, "back pain")[0], "Back pain");
        assert_eq!(names(&d, "Leg pain")[0], "Leg pain");
    }

    #[test]
    fn code_lookup() {
        let d = dict();
        let code = d.llts.iter().find(|l| l.name == "Head pain").unwrap().code;
        assert_eq!(names(&d, &code.to_string()), vec!["Head pain"]);
        let pt = d.llts.iter().find(|l| l.name == "Headache").unwrap().code;
        let r = names(&d, &pt.to_string());
        assert!(r.contains(&"Headache".to_string()) && r.contains(&"Head pain".to_string()), "{r:?}");
    }

    #[test]
    fn nothing_for_noise() {
        let d = dict();
        assert!(names(&d, "zzzzqqq").is_empty());
        assert!(names(&d, "  ").is_empty());
    }

    #[test]
    fn distance() {
        assert_eq!(bounded_distance("nausae", "nausea", 1), Some(1));
        assert_eq!(bounded_distance("hedache", "headache", 1), Some(1));
        assert_eq!(bounded_distance("abc", "xyz", 1), None);
    }
}
