//! The rule-based autocoder (as in the XTARS paper's deployment): a reported term that equals a
//! current LLT name, after normalising case, whitespace and punctuation, is coded to that LLT.

use std::collections::HashMap;

use super::{Dictionary, Llt};
use crate::text::normalize;

pub struct Rules<'a> {
    by_name: HashMap<String, &'a Llt>,
}

impl<'a> Rules<'a> {
    pub fn new(dict: &'a Dictionary) -> Rules<'a> {
        let mut by_name = HashMap::new();
        for l in dict.llts.iter().filter(|l| l.current) {
            by_name.entry(normalize(&l.name)).or_insert(l);
        }
        Rules { by_name }
    }

    pub fn code(&self, reported_term: &str) -> Option<&'a Llt> {
        self.by_name.get(&normalize(reported_term)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meddra::outline;

    #[test]
    fn codes_only_exact_current_names() {
        let rel = outline::compile(std::path::Path::new("t"), "RELEASE T | E\nSOC S | S\nHLGT G\nHLT T\nPT Headache: Head-ache; ~Cephalgia\n").unwrap();
        let d = Dictionary::new(&rel);
        let r = Rules::new(&d);
        assert_eq!(r.code("  HEADACHE. ").unwrap().name, "Headache");
        assert_eq!(r.code("head ache").unwrap().name, "Head-ache");
        assert!(r.code("cephalgia").is_none(), "non-current LLTs are never coded");
        assert!(r.code("bad headache").is_none());
    }
}
