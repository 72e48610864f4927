//! The synonym key: a normalised reported term without the qualifiers MedDRA does not code
//! (severity, grade, frequency, "x3", time of day). "Headache mild", "mild headache" and "headache
//! x3" share the key "headache", so one confirmation codes them all; laterality ("left", "right")
//! is kept unless the team's admin adds it to the list.
//!
//! The same algorithm runs in a team database (`medcoder.synonym_key`, schema.sql), so the rule
//! lives twice; `tests/store_contract.rs` checks that both give the same keys.

use anyhow::{bail, Result};

/// The team setting holding the list (a JSON array of phrases); absent: [`DEFAULT`].
pub const SETTING: &str = "synonym_qualifiers";

/// Stands for a number in a phrase: digits, or a roman numeral up to v ("grade <n>", "x<n>").
pub const NUMBER: &str = "<n>";

/// The qualifiers dropped unless the admin edits the list. Deliberately short: a word that is
/// sometimes part of what is coded ("recurrent", "frequent", "night" in "night sweats", "a" in
/// "hepatitis a") is not here.
pub const DEFAULT: &[&str] = &[
    "mild",
    "mildly",
    "moderate",
    "moderately",
    "severe",
    "severely",
    "very severe",
    "slight",
    "slightly",
    "grade <n>",
    "ctcae grade <n>",
    "intermittent",
    "intermittently",
    "occasional",
    "occasionally",
    "on and off",
    "off and on",
    "x<n>",
    "<n>x",
    "<n> times",
    "twice",
    "daily",
    "at night",
    "in the night",
    "during the night",
    "every night",
    "at bedtime",
    "in the morning",
    "every morning",
    "in the evening",
    "the",
];

/// The list in force: the setting's, or the default.
pub fn from_setting(value: Option<&str>) -> Result<Vec<String>> {
    match value {
        None => Ok(DEFAULT.iter().map(|s| s.to_string()).collect()),
        Some(v) => {
            let list: Vec<String> = serde_json::from_str(v).map_err(|e| anyhow::anyhow!("the setting {SETTING} is not a JSON list of phrases: {e}"))?;
            if list.len() > MAX_PHRASES {
                bail!("the setting {SETTING} has {} phrases (at most {MAX_PHRASES})", list.len());
            }
            for q in &list {
                check(q)?;
            }
            Ok(list)
        }
    }
}

/// The longest phrase, and the most phrases, the list takes.
pub const MAX_PHRASE_CHARS: usize = 100;
pub const MAX_PHRASES: usize = 200;

/// A qualifier phrase as the list keeps it: normalised words, `<n>` standing for a number.
/// Refused rather than changed: control and format characters, a `<` or `>` that is not part of
/// `<n>` (so "<N>" is not silently the word "n").
pub fn canonical(phrase: &str) -> Result<String> {
    if let Some(c) = crate::text::forbidden_char(phrase) {
        bail!("the qualifier contains the control or format character U+{:04X}", c as u32);
    }
    if phrase.replace(NUMBER, "").contains(['<', '>']) {
        bail!("the qualifier '{}' has a < or > that is not <n> (which stands for a number)", crate::text::printable(phrase));
    }
    let words: Vec<String> = phrase
        .split_whitespace()
        .map(|w| {
            let parts: Vec<String> = w.split(NUMBER).map(crate::text::normalize).collect();
            parts.join(NUMBER)
        })
        .filter(|w| !w.is_empty())
        .collect();
    let out = words.join(" ");
    check(&out)?;
    Ok(out)
}

/// Refuses a phrase that could never match a normalised term (or would match every number).
pub fn check(phrase: &str) -> Result<()> {
    if phrase.is_empty() {
        bail!("a qualifier is one or more words");
    }
    if phrase.chars().count() > MAX_PHRASE_CHARS {
        bail!("a qualifier has at most {MAX_PHRASE_CHARS} characters");
    }
    if phrase.split(' ').all(|w| w == NUMBER) {
        bail!("a qualifier of numbers alone would drop numbers from every term ('38 5' in 'fever 38.5')");
    }
    for w in phrase.split(' ') {
        let plain = w.replacen(NUMBER, "", 1);
        if w.is_empty() || plain.contains('<') || plain.contains('>') || crate::text::normalize(&plain) != plain {
            bail!(
                "the qualifier '{}' is not normalised words (lower case letters and digits, one space between words; <n> stands for a number)",
                crate::text::printable(phrase)
            );
        }
    }
    Ok(())
}

fn is_number(s: &str) -> bool {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) || matches!(s, "i" | "ii" | "iii" | "iv" | "v")
}

fn word_matches(pattern: &str, token: &str) -> bool {
    match pattern.split_once(NUMBER) {
        None => pattern == token,
        Some((pre, post)) => {
            token.len() > pre.len() + post.len() && token.starts_with(pre) && token.ends_with(post) && is_number(&token[pre.len()..token.len() - post.len()])
        }
    }
}

/// The synonym key of a normalised term under `qualifiers`: each phrase (longest first, then in
/// list order) removed wherever it stands, as often as it occurs. A term of qualifiers alone
/// keeps its normalised form.
pub fn key(term_key: &str, qualifiers: &[String]) -> String {
    let mut tokens: Vec<&str> = term_key.split(' ').filter(|t| !t.is_empty()).collect();
    let mut phrases: Vec<Vec<&str>> = qualifiers.iter().map(|q| q.split(' ').collect()).collect();
    // Stable: equal lengths keep the list's order, as the database's ORDER BY does.
    phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in &phrases {
        while let Some(at) = (0..tokens.len().saturating_sub(p.len() - 1)).find(|&i| p.iter().zip(&tokens[i..]).all(|(w, t)| word_matches(w, t))) {
            tokens.drain(at..at + p.len());
        }
    }
    if tokens.is_empty() {
        term_key.to_string()
    } else {
        tokens.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: &str) -> String {
        key(&crate::text::normalize(t), &from_setting(None).unwrap())
    }

    #[test]
    fn severity_grade_frequency_and_time_of_day_are_dropped() {
        assert_eq!(k("Anxiety mild"), "anxiety");
        assert_eq!(k("mild anxiety"), "anxiety");
        assert_eq!(k("Headache, SEVERE"), "headache");
        assert_eq!(k("Grade 3 neutropenia"), "neutropenia");
        assert_eq!(k("neutropenia grade IV"), "neutropenia");
        assert_eq!(k("vomiting x3"), "vomiting");
        assert_eq!(k("vomiting 3x"), "vomiting");
        assert_eq!(k("vomiting 2 times"), "vomiting");
        assert_eq!(k("dry mouth at night"), "dry mouth");
        assert_eq!(k("itching all over the body"), "itching all over body");
        assert_eq!(k("itching all over body"), "itching all over body");
    }

    #[test]
    fn laterality_numbers_and_coded_words_are_kept() {
        assert_eq!(k("pain of right thigh to the knee"), "pain of right thigh to knee");
        assert_eq!(k("fever 38.5 C"), "fever 38 5 c");
        assert_eq!(k("night sweats"), "night sweats");
        assert_eq!(k("hepatitis A"), "hepatitis a");
        // x3 is frequency, xa is not a number.
        assert_eq!(k("rash xa"), "rash xa");
        // Qualifiers alone keep their normalised form.
        assert_eq!(k("severe"), "severe");
    }

    #[test]
    fn the_admin_can_drop_laterality_and_longer_phrases_go_first() {
        let list: Vec<String> = ["left", "right", "the", "in the morning"].map(String::from).to_vec();
        assert_eq!(key("pain in the left knee", &list), "pain in knee");
        assert_eq!(key("nausea in the morning", &list), "nausea");
    }

    #[test]
    fn phrases_are_normalised_and_bad_ones_refused() {
        assert_eq!(canonical("  Grade <n> ").unwrap(), "grade <n>");
        assert_eq!(canonical("At  Night").unwrap(), "at night");
        assert!(canonical("<n>").is_err());
        assert!(canonical("<n> <n>").is_err(), "numbers alone, however many");
        assert!(canonical("<N>").is_err(), "not silently the word n");
        assert!(canonical("foo\u{1b}bar").is_err());
        assert!(canonical(&"a".repeat(101)).is_err());
        assert!(canonical("...").is_err());
        assert!(check("x<n><n>").is_err());
        assert!(from_setting(Some("[\"Mild\"]")).is_err());
        assert!(from_setting(Some("nope")).is_err());
    }
}
