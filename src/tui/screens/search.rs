//! Search all LLTs for the open item: type-ahead, typos tolerated; non-current LLTs are shown
//! struck through and cannot be chosen. Enter proposes at once only an exact name, or a row the
//! coder chose with the arrows; a neighbour by spelling needs a second Enter, and a query no name
//! contains says so.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph};
use ratatui::Frame;

use super::{moved, Cmd, Ctx, Screen, ScreenId};
use crate::desk::SearchRow;
use crate::store::workflow::{Action as Decision, Source};
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{truncate, Theme, Tone};

const KEYS: &[Binding] = &[
    Binding::new(&[], Action::Type(' '), "type", "to search", "words in any order; typos are tolerated"),
    Binding::new(&[KeyCode::Up], Action::Up, "↑↓", "choose", "choose"),
    Binding::hidden(&[KeyCode::Down], Action::Down),
    Binding::new(&[KeyCode::Enter], Action::Select, "Enter", "propose", "propose the chosen LLT"),
    Binding::hidden(&[KeyCode::Backspace], Action::Erase),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the item"),
    // `?` is typed into the search: help is F1 here.
    Binding::new(&[KeyCode::F(1)], Action::Help, "F1", "help", ""),
];

/// Rows shown for a query.
const LIMIT: usize = 50;

#[derive(Default)]
pub struct Search {
    pub text: String,
    pub rows: Vec<SearchRow>,
    pub sel: usize,
    /// The row the coder chose with the arrows since the last keystroke.
    chosen: bool,
    /// The LLT a first Enter on a neighbour by spelling asked to confirm.
    armed: Option<u32>,
}

impl Search {
    fn run(&mut self, ctx: &Ctx) {
        self.rows = ctx.desk().search(&self.text, LIMIT);
        // An exact name is the hit, wherever the spelling search ranked it.
        self.sel = self.rows.iter().position(|r| r.exact).unwrap_or(0);
        self.chosen = false;
        self.armed = None;
    }

    /// Enter on the selected row: an exact current name, a row chosen with the arrows, or one
    /// Enter armed is proposed; a neighbour by spelling first says what it is.
    fn choose(&mut self) -> Cmd {
        let Some(r) = self.rows.get(self.sel) else { return Cmd::None };
        if !r.current {
            let exact = if r.exact { " (the exact name)" } else { "" };
            return Cmd::Say(format!("'{}'{exact} is non-current: it cannot be chosen as a new code; choose a current LLT", r.llt_name), Tone::Bad);
        }
        if r.exact || self.chosen || self.armed == Some(r.llt_code) {
            return Cmd::Decide(Decision::Propose { llt: r.llt_code, source: Source::Search }, "proposed");
        }
        self.armed = Some(r.llt_code);
        let exact = self.rows.iter().find(|x| x.exact).map(|x| format!("; the exact name '{}' is non-current", x.llt_name)).unwrap_or_default();
        Cmd::Say(format!("'{}' is not '{}'{exact}: Enter again to propose it, or choose with ↑↓", r.llt_name, self.text.trim()), Tone::Info)
    }
}

impl Screen for Search {
    fn id(&self) -> ScreenId {
        ScreenId::Search
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn notes(&self) -> &'static [&'static str] {
        &["Non-current LLTs are struck through and cannot be chosen."]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        if let Some(s) = moved(self.sel, self.rows.len(), action).filter(|_| matches!(action, Action::Up | Action::Down)) {
            self.sel = s;
            self.chosen = true;
            return Ok(Cmd::None);
        }
        Ok(match action {
            Action::Back => Cmd::Pop,
            Action::Type(c) => {
                self.text.push(c);
                self.run(ctx);
                Cmd::None
            }
            Action::Erase => {
                self.text.pop();
                self.run(ctx);
                Cmd::None
            }
            Action::Select => self.choose(),
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme) {
        let [input, list_area] = Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(area);
        let term = ctx.open.as_ref().map(|v| v.item.reported_term.clone()).unwrap_or_default();
        f.render_widget(
            Paragraph::new(Line::from(vec![Span::raw(self.text.clone()), Span::styled("_", theme.selected())]))
                .block(Block::bordered().title(format!(" Search LLTs for '{}' ", truncate(&term, 40)))),
            input,
        );
        let name_w = (list_area.width as usize / 2).clamp(16, 50);
        let items: Vec<ListItem> = self
            .rows
            .iter()
            .map(|r| {
                let name = if r.current { r.llt_name.clone() } else { format!("{} (non-current)", r.llt_name) };
                // Neighbours by spelling alone are dimmed: they do not contain what was typed.
                let style = if !r.current {
                    theme.non_current()
                } else if r.contains {
                    Style::default()
                } else {
                    theme.dim()
                };
                ListItem::new(vec![
                    Line::styled(format!("{:<w$} {}", truncate(&name, name_w), r.llt_code, w = name_w), style),
                    Line::styled(format!("   PT {} · {}", r.pt_name, r.soc_name), theme.dim()),
                ])
            })
            .collect();
        let query = self.text.trim();
        let title = if query.is_empty() {
            " Type words of the term, in any order ".to_string()
        } else if !self.rows.iter().any(|r| r.contains) {
            format!(" No LLT contains '{}': nearest by spelling ", truncate(query, 30))
        } else {
            format!(" {} match(es) ", self.rows.iter().filter(|r| r.contains).count())
        };
        let mut st = ListState::default().with_selected((!self.rows.is_empty()).then_some(self.sel));
        f.render_stateful_widget(List::new(items).block(Block::bordered().title(title)).highlight_style(theme.selected()), list_area, &mut st);
    }
}
