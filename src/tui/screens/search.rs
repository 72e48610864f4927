//! Search all LLTs for the open item: type-ahead, typos tolerated; non-current LLTs are shown
//! struck through and cannot be chosen.

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
];

/// Rows shown for a query.
const LIMIT: usize = 50;

#[derive(Default)]
pub struct Search {
    pub text: String,
    pub rows: Vec<SearchRow>,
    pub sel: usize,
}

impl Search {
    fn run(&mut self, ctx: &Ctx) {
        self.rows = ctx.desk().search(&self.text, LIMIT);
        self.sel = 0;
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
            Action::Select => match self.rows.get(self.sel) {
                Some(r) if r.current => Cmd::Decide(Decision::Propose { llt: r.llt_code, source: Source::Search }, "proposed"),
                Some(r) => Cmd::Say(format!("'{}' is non-current: it cannot be chosen as a new code.", r.llt_name), Tone::Bad),
                None => Cmd::None,
            },
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
                let style = if r.current { Style::default() } else { theme.non_current() };
                ListItem::new(vec![
                    Line::styled(format!("{:<w$} {}", truncate(&name, name_w), r.llt_code, w = name_w), style),
                    Line::styled(format!("   PT {} · {}", r.pt_name, r.soc_name), theme.dim()),
                ])
            })
            .collect();
        let title = if self.text.trim().is_empty() { " Type words of the term, in any order ".to_string() } else { format!(" {} match(es) ", self.rows.len()) };
        let mut st = ListState::default().with_selected((!self.rows.is_empty()).then_some(self.sel));
        f.render_stateful_widget(List::new(items).block(Block::bordered().title(title)).highlight_style(theme.selected()), list_area, &mut st);
    }
}
