//! Text normalisation shared by autocoding, training data and evaluation, and the one escape for
//! text from outside that is printed to a terminal.

use std::borrow::Cow;

/// `s` safe to print to a terminal: a line break shows as ` ⏎ ` (a term stays on its line), a tab
/// as a space, and every other control character (ESC, BEL, C1 ...) as `\x..`, so text from a file
/// or a user can neither move the cursor, clear the screen nor set the terminal title.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str(" ⏎ "),
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Lower case, punctuation to spaces, whitespace collapsed: "Head-ache , severe" -> "head ache severe".
/// A character that must not reach a terminal raw: C0 and C1 controls (escape sequences, NUL,
/// line breaks), and the bidirectional overrides and isolates that make text display in another
/// order than it is stored ("Trojan source").
pub fn unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}')
}

/// The first character of `s` that a stored text may not contain (tab aside), for input checks.
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| c != '\t' && unsafe_char(c))
}

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
    fn printable_escapes_control_characters_and_keeps_a_term_on_one_line() {
        assert_eq!(super::printable("plain term"), "plain term");
        assert_eq!(super::printable("rash\u{1b}[2J\u{7}"), "rash\\x1b[2J\\x07");
        assert_eq!(super::printable("a\r\nb\nc\td"), "a ⏎ b ⏎ c d");
        assert_eq!(super::printable("\u{9b}31m"), "\\x9b31m");
        assert_eq!(super::printable("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(super::forbidden_char("ok\tfine"), None);
        assert_eq!(super::forbidden_char("B7\u{0}"), Some('\u{0}'));
    }

    #[test]
    fn normalizes_case_punctuation_and_space() {
        assert_eq!(super::normalize("  Head-ache ,  SEVERE. "), "head ache severe");
        assert_eq!(super::normalize("Urémie"), "urémie");
        assert_eq!(super::normalize("..."), "");
    }
}
