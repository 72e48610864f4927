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
    c.is_control() || is_format(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Unicode general category Cf (format characters: bidirectional marks, overrides and isolates,
/// the Arabic letter mark U+061C, zero-width characters, soft hyphen, tags), as of Unicode 16. They
/// change how text looks without showing themselves, so two stored texts could look alike.
pub fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00ad}' | '\u{0600}'..='\u{0605}' | '\u{061c}' | '\u{06dd}' | '\u{070f}' | '\u{0890}'..='\u{0891}' | '\u{08e2}'
        | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

/// The same rule as a PostgreSQL regular expression class, for the team database's `check_text`
/// (tab allowed): `tests/store_contract.rs` checks both refuse the same characters.
pub const FORBIDDEN_PG_CLASS: &str = "[\\u0001-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u00ad\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2\\u180e\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb\\U000110bd\\U000110cd\\U00013430-\\U0001343f\\U0001bca0-\\U0001bca3\\U0001d173-\\U0001d17a\\U000e0001\\U000e0020-\\U000e007f]";

/// The first character of `s` that a stored text may not contain (tab aside), for input checks.
pub fn forbidden_char(s: &str) -> Option<char> {
    s.chars().find(|&c| c != '\t' && unsafe_char(c))
}

/// A CSV field that a spreadsheet will not run as a formula (the OWASP CSV-injection rule): a field
/// beginning with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which
/// spreadsheets show as text and do not display. JSONL exports stay exact.
pub fn sheet_safe(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        // Full-width forms too: some spreadsheets read them as the ASCII operators.
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\u{ff1d}' | '\u{ff0b}' | '\u{ff0d}' | '\u{ff20}') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// Writes one CSV record with every field made `sheet_safe`.
pub fn write_sheet_record<W: std::io::Write, S: AsRef<str>>(w: &mut csv::Writer<W>, fields: impl IntoIterator<Item = S>) -> csv::Result<()> {
    w.write_record(fields.into_iter().map(|f| sheet_safe(f.as_ref()).into_owned()))
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

/// `s` cut to `n` characters, the cut marked with an ellipsis.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
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
    fn spreadsheet_formulas_are_neutralised() {
        assert_eq!(super::sheet_safe("=HYPERLINK(\"http://x\",\"click\")"), "'=HYPERLINK(\"http://x\",\"click\")");
        for f in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "\u{ff1d}1+1"] {
            assert!(super::sheet_safe(f).starts_with('\''), "{f}");
        }
        assert_eq!(super::sheet_safe("headache"), "headache");
        assert_eq!(super::sheet_safe(""), "");
    }

    #[test]
    fn normalizes_case_punctuation_and_space() {
        assert_eq!(super::normalize("  Head-ache ,  SEVERE. "), "head ache severe");
        assert_eq!(super::normalize("Urémie"), "urémie");
        assert_eq!(super::normalize("..."), "");
    }
}
