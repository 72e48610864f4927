//! Text normalisation shared by autocoding, training data and evaluation.

/// Lower case, punctuation to spaces, whitespace collapsed: "Head-ache , severe" -> "head ache severe".
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(w.chars().flat_map(char::to_lowercase));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalizes_case_punctuation_and_space() {
        assert_eq!(super::normalize("  Head-ache ,  SEVERE. "), "head ache severe");
        assert_eq!(super::normalize("Urémie"), "urémie");
        assert_eq!(super::normalize("..."), "");
    }
}
