//! One keymap for the whole desk: each screen declares a table of bindings, and key handling, the
//! footer and the `?` help are all generated from it, so the three can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a user can ask the desk to do. Screens act on these, never on raw keys, so tests
/// can drive a screen with actions as well as keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Open the selected row / choose the highlighted entry.
    Select,
    Back,
    Quit,
    Help,
    /// A character typed into a screen that takes text (search).
    Type(char),
    Erase,
    // Queue.
    /// Choose the queue's state filter with one key.
    PickState,
    CycleStudy,
    CycleSort,
    Filter,
    Reload,
    Stats,
    /// Group the queue by identical reported terms (and back).
    Group,
    /// Only the items assigned to the user that wait for them (and back).
    MyWork,
    /// The next page of a screen with pages (stats).
    Page,
    /// Grouped: only terms of more than one item.
    MultiOnly,
    /// Confirm the list's proposals (reviewers), with one signature.
    BulkConfirm,
    /// The synonym candidates awaiting approval.
    Synonyms,
    // Coding.
    /// Propose the n-th (0-based) of the model's proposals.
    ProposeNth(usize),
    Search,
    Browse,
    PutOnQuery,
    /// Record the site's answer to the open query.
    AnswerQuery,
    CloseQuery,
    /// Take back one's own proposal before review.
    Withdraw,
    /// Split a compound verbatim into parts.
    Split,
    NextItem,
    PrevItem,
    // Browse.
    Expand,
    Collapse,
    JumpToCode,
    // Review.
    Confirm,
    ReturnToProposer,
    Recode,
}

/// One row of a screen's keymap. `label` is how the key is written in the footer and help
/// (several bindings can share one label, e.g. `1-5`); an empty `hint` keeps the binding out of the
/// footer and an empty `help` keeps it out of the help.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [KeyCode],
    pub action: Action,
    pub label: &'static str,
    /// The footer's label when it differs from the help's (one footer entry for several keys).
    pub footer_label: &'static str,
    pub hint: &'static str,
    pub help: &'static str,
}

impl Binding {
    pub const fn new(keys: &'static [KeyCode], action: Action, label: &'static str, hint: &'static str, help: &'static str) -> Binding {
        Binding { keys, action, label, footer_label: label, hint, help }
    }

    /// The same binding, shown in the footer as `footer_label` (e.g. "t s f filters" for three
    /// filter keys whose own entries stay out of the footer).
    pub const fn in_footer_as(self, footer_label: &'static str) -> Binding {
        Binding { footer_label, ..self }
    }

    /// A key that does the same as another binding and is not listed separately.
    pub const fn hidden(keys: &'static [KeyCode], action: Action) -> Binding {
        Binding { keys, action, label: "", footer_label: "", hint: "", help: "" }
    }
}

/// The action bound to `key` in `table`, if any. Ctrl-C quits everywhere and is not in a table.
pub fn lookup(table: &[Binding], key: KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return (key.code == KeyCode::Char('c')).then_some(Action::Quit);
    }
    table.iter().find(|b| b.keys.contains(&key.code)).map(|b| b.action)
}

/// The footer line: each listed binding as "label hint", in table order.
pub fn footer(table: &[Binding]) -> String {
    let parts: Vec<String> = table.iter().filter(|b| !b.hint.is_empty()).map(|b| format!("{} {}", b.footer_label, b.hint)).collect();
    format!(" {}", parts.join(" · "))
}

/// The help lines: each documented binding as "label  help".
pub fn help_lines(table: &[Binding]) -> Vec<String> {
    let w = table.iter().filter(|b| !b.help.is_empty()).map(|b| b.label.chars().count()).max().unwrap_or(0);
    table.iter().filter(|b| !b.help.is_empty()).map(|b| format!("{:<w$}  {}", b.label, b.help)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[Binding] = &[
        Binding::new(&[KeyCode::Up, KeyCode::Char('k')], Action::Up, "↑", "up", "move up"),
        Binding::new(&[KeyCode::Char('1')], Action::ProposeNth(0), "1-2", "propose", "propose that one"),
        Binding::hidden(&[KeyCode::Char('2')], Action::ProposeNth(1)),
        Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", ""),
        Binding::new(&[KeyCode::Char('t')], Action::PickState, "t", "filters", "state").in_footer_as("t s"),
    ];

    #[test]
    fn keys_footer_and_help_come_from_one_table() {
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(lookup(T, k(KeyCode::Char('k'))), Some(Action::Up));
        assert_eq!(lookup(T, k(KeyCode::Char('2'))), Some(Action::ProposeNth(1)));
        assert_eq!(lookup(T, k(KeyCode::Char('x'))), None);
        assert_eq!(lookup(T, KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Action::Quit));
        assert_eq!(footer(T), " ↑ up · 1-2 propose · Esc back · t s filters");
        assert_eq!(help_lines(T), ["↑    move up", "1-2  propose that one", "t    state"]);
    }
}
