//! What the untuned encoder reads of a reported term on its first occurrence: misspelt words
//! corrected to the dictionary's own words, and slash abbreviations of investigator shorthand
//! spelt out. MiniLM's sub-word pieces of a typo ("hedache" -> "he", "##da", "##che") are far from
//! the word's ("headache"), so an unseen misspelling otherwise lands on an unrelated LLT.
//!
//! The rules are fixed, not fitted: a word of five or more letters that is neither a word of any
//! current LLT name nor a whole word of the encoder's vocabulary (so "thigh" stays "thigh" even in a
//! dictionary without it), with exactly one LLT-name word at one edit (deletion, insertion,
//! substitution or transposition of letters), is read as that word too; a handful of shorthand forms that are not words
//! themselves are expanded. Anything else is left as written.

use std::collections::{HashMap, HashSet};

use crate::meddra::Dictionary;

/// Investigator shorthand that is not an LLT name in MedDRA (the abbreviations MedDRA lists
/// itself, such as SOB or HTN, are LLTs and need no expansion).
const SHORTHAND: &[(&str, &str)] =
    &[("n/v/d", "nausea vomiting diarrhoea"), ("n/v", "nausea and vomiting"), ("n&v", "nausea and vomiting"), ("h/a", "headache"), ("abd", "abdominal")];

/// Shortest misspelt word that is corrected: shorter words have too many neighbours at one edit.
const MIN_LEN: usize = 5;

pub struct Rewriter {
    /// Words of the current LLT names (lower case), with how many names use each.
    words: HashMap<String, usize>,
    /// Whole words of the encoder's vocabulary: those it already reads as words.
    known: Option<std::sync::Arc<crate::model::tokenize::Tok>>,
}

impl Rewriter {
    pub fn new(dict: &Dictionary, tok: std::sync::Arc<crate::model::tokenize::Tok>) -> Rewriter {
        let mut words: HashMap<String, usize> = HashMap::new();
        for l in dict.llts.iter().filter(|l| l.current) {
            for w in l.name.to_lowercase().split(|c: char| !c.is_alphabetic()).filter(|w| w.chars().count() >= 2) {
                *words.entry(w.to_string()).or_default() += 1;
            }
        }
        Rewriter { words, known: Some(tok) }
    }

    /// The term as the encoder should read it (the term itself when no rule applies).
    pub fn rewrite(&self, term: &str) -> String {
        let lower = term.to_lowercase();
        let mut out = String::with_capacity(term.len());
        let mut changed = false;
        // Tokens are runs of letters, digits and shorthand punctuation; everything else is kept.
        let mut rest = lower.as_str();
        while !rest.is_empty() {
            let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '/' || c == '&')).unwrap_or(rest.len());
            if end == 0 {
                let c = rest.chars().next().expect("non-empty");
                out.push(c);
                rest = &rest[c.len_utf8()..];
                continue;
            }
            let token = &rest[..end];
            match self.fix(token) {
                Some(f) => {
                    out.push_str(&f);
                    changed = true;
                }
                None => out.push_str(token),
            }
            rest = &rest[end..];
        }
        if changed {
            out
        } else {
            term.to_string()
        }
    }

    fn fix(&self, token: &str) -> Option<String> {
        if let Some((_, long)) = SHORTHAND.iter().find(|(s, _)| *s == token) {
            return Some(long.to_string());
        }
        let known = self.known.as_ref().is_some_and(|t| t.knows(token));
        if token.chars().count() < MIN_LEN || !token.chars().all(char::is_alphabetic) || self.words.contains_key(token) || known {
            return None;
        }
        let near: HashSet<String> = edits(token).into_iter().filter(|e| self.words.contains_key(e)).collect();
        // Only an unambiguous correction: two candidates at one edit mean we cannot tell.
        (near.len() == 1).then(|| near.into_iter().next().expect("one"))
    }
}

/// Every string at one edit of `w` (letters a-z).
fn edits(w: &str) -> Vec<String> {
    let c: Vec<char> = w.chars().collect();
    let mut out = Vec::new();
    for i in 0..=c.len() {
        for l in 'a'..='z' {
            let mut v = c.clone();
            v.insert(i, l);
            out.push(v.into_iter().collect());
        }
    }
    for i in 0..c.len() {
        let mut v = c.clone();
        v.remove(i);
        out.push(v.into_iter().collect());
        for l in 'a'..='z' {
            if l != c[i] {
                let mut v = c.clone();
                v[i] = l;
                out.push(v.into_iter().collect());
            }
        }
        if i + 1 < c.len() {
            let mut v = c.clone();
            v.swap(i, i + 1);
            out.push(v.into_iter().collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewriter(names: &[&str]) -> Rewriter {
        let mut words = HashMap::new();
        for n in names {
            for w in n.split(' ') {
                *words.entry(w.to_string()).or_default() += 1;
            }
        }
        Rewriter { words, known: None }
    }

    #[test]
    fn corrects_one_unambiguous_typo_and_expands_shorthand() {
        let r = rewriter(&["headache", "nausea", "vomiting", "abdominal pain", "rash"]);
        assert_eq!(r.rewrite("hedache since day 2"), "headache since day 2");
        assert_eq!(r.rewrite("Vomitting x2"), "vomiting x2");
        assert_eq!(r.rewrite("N/V after dose"), "nausea and vomiting after dose");
        assert_eq!(r.rewrite("abd pain"), "abdominal pain");
        // Known words, short words and words with no neighbour are left as written.
        assert_eq!(r.rewrite("Rash, mild"), "Rash, mild");
        assert_eq!(r.rewrite("rach"), "rach");
        assert_eq!(r.rewrite("xylophone"), "xylophone");
    }

    #[test]
    fn words_the_encoder_knows_are_not_corrected() {
        let tok = std::sync::Arc::new(crate::model::tokenize::Tok::load(&crate::model::default_base_dir().join("tokenizer.json")).unwrap());
        let mut r = rewriter(&["high", "headache", "pain"]);
        r.known = Some(tok);
        assert_eq!(r.rewrite("pain of right thigh"), "pain of right thigh");
        assert_eq!(r.rewrite("hedache"), "headache");
    }

    #[test]
    fn an_ambiguous_typo_is_left_alone() {
        let r = rewriter(&["pains", "rains"]);
        assert_eq!(r.rewrite("xains"), "xains");
    }
}
