//! The MedDRA hierarchy browser: SOC > HLGT > HLT > PT > LLT in the international SOC order,
//! multi-axial PTs under each of their SOCs with the primary marked; Enter on an LLT proposes it.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, List, ListItem, ListState};
use ratatui::Frame;

use super::{Cmd, Ctx, Prompt, Screen, ScreenId};
use crate::meddra::Dictionary;
use crate::store::item::State;
use crate::store::workflow::{Action as Decision, Source};
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{Theme, Tone};
use crate::tui::tree::{Level, Tree};

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Up, KeyCode::Char('k')], Action::Up, "↑↓", "move", "move (PgUp/PgDn by ten)"),
    Binding::hidden(&[KeyCode::Down, KeyCode::Char('j')], Action::Down),
    Binding::hidden(&[KeyCode::PageUp], Action::PageUp),
    Binding::hidden(&[KeyCode::PageDown], Action::PageDown),
    Binding::new(&[KeyCode::Right, KeyCode::Char('l')], Action::Expand, "→/←", "open/close", "open; ← closes or goes to the parent"),
    Binding::hidden(&[KeyCode::Left, KeyCode::Char('h')], Action::Collapse),
    Binding::new(&[KeyCode::Enter], Action::Select, "Enter", "choose LLT", "on an LLT proposes it; on other levels opens/closes"),
    Binding::new(&[KeyCode::Char('g')], Action::JumpToCode, "g", "go to code", "go to an LLT or PT code"),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
];

pub struct Browse {
    pub tree: Tree,
}

impl Browse {
    /// The browser opened at `start` (an LLT or PT code), when given.
    pub fn new(dict: &Dictionary, start: Option<u32>) -> Browse {
        let mut tree = Tree::new(dict);
        if let Some(code) = start {
            tree.reveal(dict, code);
        }
        Browse { tree }
    }
}

impl Screen for Browse {
    fn id(&self) -> ScreenId {
        ScreenId::Browse
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn notes(&self) -> &'static [&'static str] {
        &["PTs under several SOCs are shown under each, [primary] marked."]
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        let dict = ctx.desk().dict.clone();
        match action {
            Action::Back => return Ok(Cmd::Pop),
            Action::Up => self.tree.move_by(-1),
            Action::Down => self.tree.move_by(1),
            Action::PageUp => self.tree.move_by(-10),
            Action::PageDown => self.tree.move_by(10),
            Action::Collapse => self.tree.collapse(&dict),
            Action::Expand => self.tree.expand(&dict),
            Action::JumpToCode => return Ok(Cmd::Prompt(Prompt::JumpToCode, String::new())),
            Action::Select => {
                let Some(row) = self.tree.selected().cloned() else { return Ok(Cmd::None) };
                if row.level != Level::Llt {
                    if row.expanded {
                        self.tree.collapse(&dict);
                    } else {
                        self.tree.expand(&dict);
                    }
                } else if !row.current {
                    return Ok(Cmd::Say(format!("'{}' is non-current: it cannot be chosen as a new code.", row.name), Tone::Bad));
                } else if ctx.open.as_ref().is_some_and(|v| v.item.state != State::Confirmed) {
                    return Ok(Cmd::Decide(Decision::Propose { llt: row.code, source: Source::Browse }, "proposed"));
                }
            }
            _ => {}
        }
        Ok(Cmd::None)
    }

    fn submit(&mut self, prompt: Prompt, text: String, ctx: &mut Ctx) -> Result<Cmd> {
        if prompt != Prompt::JumpToCode {
            return Ok(Cmd::None);
        }
        let dict = ctx.desk().dict.clone();
        Ok(match text.trim().parse::<u32>() {
            Ok(code) if self.tree.reveal(&dict, code) => Cmd::None,
            Ok(code) => Cmd::Say(format!("{code} is neither an LLT nor a PT code in MedDRA {}", dict.version), Tone::Bad),
            Err(_) => Cmd::Say(format!("'{}' is not a code", text.trim()), Tone::Bad),
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, _ctx: &Ctx, theme: Theme) {
        let items: Vec<ListItem> = self
            .tree
            .rows
            .iter()
            .map(|r| {
                let marker = match (r.has_children, r.expanded) {
                    (false, _) => "  ",
                    (true, true) => "▾ ",
                    (true, false) => "▸ ",
                };
                let tag = match r.level {
                    Level::Soc => "SOC",
                    Level::Hlgt => "HLGT",
                    Level::Hlt => "HLT",
                    Level::Pt => "PT",
                    Level::Llt => "LLT",
                };
                let mut text = format!("{}{marker}{tag} {} ({})", "  ".repeat(r.depth()), r.name, r.code);
                if r.level == Level::Pt {
                    text.push_str(if r.primary { "  [primary]" } else { "  [secondary]" });
                }
                if !r.current {
                    text.push_str("  (non-current)");
                }
                ListItem::new(Line::styled(text, if r.current { Style::default() } else { theme.non_current() }))
            })
            .collect();
        let mut st = ListState::default().with_selected(Some(self.tree.sel));
        f.render_stateful_widget(
            List::new(items).block(Block::bordered().title(" MedDRA hierarchy (international SOC order) ")).highlight_style(theme.selected()),
            area,
            &mut st,
        );
    }
}
