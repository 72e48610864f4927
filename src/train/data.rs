//! The training set, as in the XTARS paper: every current LLT name verbatim plus two augmented
//! copies (one word split, one random character change); coded pairs from labelled files,
//! synonym lists and confirmed decisions; coded samples of rare classes (< 10 samples) get two
//! augmented copies each. Terms are lower-cased and unique, and the newest pair of a term wins.
//! Validation is 10% of the coded data, and augmented copies of validation terms never train.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use crate::meddra::Dictionary;
use crate::text::normalize;

/// Splits one word of four or more letters in two ("headache" -> "head ache").
pub fn word_split(term: &str, rng: &mut StdRng) -> Option<String> {
    let words: Vec<&str> = term.split(' ').collect();
    let long: Vec<usize> = words.iter().enumerate().filter(|(_, w)| w.chars().count() >= 4).map(|(i, _)| i).collect();
    let &wi = long.choose(rng)?;
    let chars: Vec<char> = words[wi].chars().collect();
    let at = rng.gen_range(1..chars.len() - 1);
    let split = format!("{} {}", chars[..at].iter().collect::<String>(), chars[at..].iter().collect::<String>());
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out[wi] = split;
    Some(out.join(" "))
}

/// One random character deleted, inserted, replaced or swapped with its neighbour: a typo.
pub fn char_change(term: &str, rng: &mut StdRng) -> Option<String> {
    let mut c: Vec<char> = term.chars().collect();
    let letters: Vec<usize> = c.iter().enumerate().filter(|(_, ch)| ch.is_alphabetic()).map(|(i, _)| i).collect();
    if letters.len() < 3 {
        return None;
    }
    let &i = letters.choose(rng)?;
    let alphabet = "abcdefghijklmnopqrstuvwxyz";
    let random = alphabet.chars().nth(rng.gen_range(0..26)).unwrap();
    match rng.gen_range(0..4) {
        0 => {
            c.remove(i);
        }
        1 => c.insert(i, random),
        2 => c[i] = if c[i] == random { 'x' } else { random },
        _ => {
            if i + 1 < c.len() && c[i + 1].is_alphabetic() && c[i] != c[i + 1] {
                c.swap(i, i + 1);
            } else {
                c[i] = if c[i] == random { 'x' } else { random };
            }
        }
    }
    let out: String = c.into_iter().collect();
    (out != term).then_some(out)
}

/// A coded (term, LLT) pair and where it came from; later pairs of the same term win.
#[derive(Debug, Clone, PartialEq)]
pub struct Coded {
    pub term: String,
    pub llt: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub term: String,
    /// Index into the label list (current LLTs).
    pub label: usize,
}

#[derive(Debug, Clone)]
pub struct TrainingSet {
    pub train: Vec<Sample>,
    pub valid: Vec<Sample>,
    /// Normalised terms seen in training (for the "unseen" evaluation subset).
    pub seen_terms: HashSet<String>,
    /// Stable hash of the training pairs, for the model manifest.
    pub hash: String,
    pub coded_pairs: usize,
    pub skipped: usize,
    /// Whether the validation set is held-out coded data (else augmented LLT-name copies).
    pub valid_is_coded: bool,
}

/// Label list: the current LLTs, as indexes into `dict.llts`.
pub fn labels(dict: &Dictionary) -> Vec<usize> {
    dict.current_llt_indexes()
}

pub fn build(dict: &Dictionary, coded: &[Coded], seed: u64) -> TrainingSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let labels = labels(dict);
    let label_of: HashMap<u32, usize> = labels.iter().enumerate().map(|(i, &li)| (dict.llts[li].code, i)).collect();

    // Coded pairs, newest wins per normalised term; codes outside the current LLTs are skipped.
    let mut newest: HashMap<String, usize> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut skipped = 0;
    for c in coded {
        let t = normalize(&c.term);
        let Some(&label) = label_of.get(&c.llt) else {
            skipped += 1;
            continue;
        };
        if t.is_empty() {
            skipped += 1;
            continue;
        }
        if newest.insert(t.clone(), label).is_none() {
            order.push(t);
        }
    }
    let mut coded_samples: Vec<Sample> = order.iter().map(|t| Sample { term: t.clone(), label: newest[t] }).collect();
    coded_samples.shuffle(&mut rng);
    let n_valid = coded_samples.len() / 10;
    let valid: Vec<Sample> = coded_samples.drain(..n_valid).collect();
    let valid_terms: HashSet<&str> = valid.iter().map(|s| s.term.as_str()).collect();

    let mut train: Vec<Sample> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let push = |train: &mut Vec<Sample>, seen: &mut HashSet<String>, term: String, label: usize| {
        // Unique terms; a validation term (or an augmented copy equal to one) never trains.
        if !valid_terms.contains(term.as_str()) && seen.insert(term.clone()) {
            train.push(Sample { term, label });
        }
    };
    // Coded pairs first so that a coded term keeps its coded label over an equal LLT name.
    let mut per_class: HashMap<usize, usize> = HashMap::new();
    for s in &coded_samples {
        *per_class.entry(s.label).or_default() += 1;
    }
    for s in &coded_samples {
        push(&mut train, &mut seen, s.term.clone(), s.label);
    }
    for (label, &li) in labels.iter().enumerate() {
        let name = normalize(&dict.llts[li].name);
        push(&mut train, &mut seen, name.clone(), label);
        if let Some(a) = word_split(&name, &mut rng) {
            push(&mut train, &mut seen, a, label);
        }
        if let Some(a) = char_change(&name, &mut rng) {
            push(&mut train, &mut seen, a, label);
        }
    }
    for s in &coded_samples {
        if per_class.get(&s.label).copied().unwrap_or(0) < 10 {
            for _ in 0..2 {
                let aug = if rng.gen_bool(0.5) { word_split(&s.term, &mut rng) } else { None }.or_else(|| char_change(&s.term, &mut rng));
                if let Some(a) = aug {
                    push(&mut train, &mut seen, a, s.label);
                }
            }
        }
    }
    // Without coded data, validation falls back to a held-out tenth of the augmented name copies.
    let mut valid = valid;
    let valid_is_coded = !valid.is_empty();
    if valid.is_empty() {
        let mut idx: Vec<usize> = (0..train.len()).filter(|&i| normalize(&dict.llts[labels[train[i].label]].name) != train[i].term).collect();
        idx.shuffle(&mut rng);
        let take: HashSet<usize> = idx.into_iter().take(train.len() / 10).collect();
        let mut kept = Vec::with_capacity(train.len());
        for (i, s) in train.into_iter().enumerate() {
            if take.contains(&i) {
                valid.push(s);
            } else {
                kept.push(s);
            }
        }
        train = kept;
    }
    train.shuffle(&mut rng);
    let mut h = Sha256::new();
    let mut sorted: Vec<String> = train.iter().chain(&valid).map(|s| format!("{}\t{}", s.term, dict.llts[labels[s.label]].code)).collect();
    sorted.sort();
    for s in &sorted {
        h.update(s.as_bytes());
        h.update(b"\n");
    }
    TrainingSet {
        seen_terms: train.iter().map(|s| s.term.clone()).collect(),
        train,
        valid,
        hash: hex::encode(&h.finalize()[..16]),
        coded_pairs: order.len(),
        skipped,
        valid_is_coded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meddra::outline;

    fn dict() -> Dictionary {
        let text = "RELEASE T | E\nSOC S | S\nHLGT G\nHLT T\nPT Headache: Head pain; ~Cephalgia\nPT Nausea: Feeling sick\nPT Vomiting: Emesis\n";
        Dictionary::new(&outline::compile(std::path::Path::new("t"), text).unwrap())
    }

    #[test]
    fn augmentations_change_the_term() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let s = word_split("headache severe", &mut rng).unwrap();
            assert_eq!(s.replace(' ', ""), "headachesevere");
            assert_eq!(s.split(' ').count(), 3);
            let c = char_change("headache", &mut rng).unwrap();
            assert_ne!(c, "headache");
            assert!(c.chars().count().abs_diff(8) <= 1);
        }
        assert!(word_split("a b", &mut rng).is_none());
    }

    #[test]
    fn names_with_copies_coded_pairs_newest_wins_and_no_leak() {
        let d = dict();
        let code = |n: &str| d.llts.iter().find(|l| l.name == n).unwrap().code;
        let mut coded: Vec<Coded> = (0..30).map(|i| Coded { term: format!("Term {i} sick"), llt: code("Feeling sick") }).collect();
        coded.push(Coded { term: "TERM 0 SICK".into(), llt: code("Emesis") });
        coded.push(Coded { term: "x".into(), llt: code("Cephalgia") });
        let ts = build(&d, &coded, 3);
        assert_eq!(ts.skipped, 1, "non-current LLTs are not labels");
        assert_eq!(ts.coded_pairs, 30);
        assert_eq!(ts.valid.len(), 3);
        let labels = labels(&d);
        let name_of = |s: &Sample| d.llts[labels[s.label]].name.clone();
        let all: Vec<&Sample> = ts.train.iter().chain(&ts.valid).collect();
        let t0 = all.iter().find(|s| s.term == "term 0 sick").unwrap();
        assert_eq!(name_of(t0), "Emesis", "the newest pair of a term wins");
        for n in ["headache", "head pain", "nausea", "emesis"] {
            assert!(ts.train.iter().any(|s| s.term == n), "{n} verbatim");
        }
        assert!(!ts.train.iter().any(|s| s.term == "cephalgia"));
        // Each LLT has copies beyond its name.
        let head = labels.iter().position(|&i| d.llts[i].name == "Head pain").unwrap();
        assert!(ts.train.iter().filter(|s| s.label == head).count() >= 2);
        for v in &ts.valid {
            assert!(!ts.train.iter().any(|s| s.term == v.term), "validation term {} leaked", v.term);
        }
        let terms: HashSet<&str> = ts.train.iter().map(|s| s.term.as_str()).collect();
        assert_eq!(terms.len(), ts.train.len(), "unique terms");
        assert_eq!(build(&d, &coded, 3).hash, ts.hash, "deterministic");
    }

    #[test]
    fn without_coded_data_validation_comes_from_augmented_copies() {
        let d = dict();
        let ts = build(&d, &[], 1);
        assert!(!ts.valid.is_empty());
        assert!(ts.train.len() > 5);
    }
}
