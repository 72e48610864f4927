//! Coding (proposers): the reported term with its context and the model's top-5; propose one,
//! search, browse, or put the item on query. On a confirmed item the same keys recode it (the app
//! asks for the reason).

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::browse::Browse;
use super::search::Search;
use super::{moved, Cmd, Ctx, Prompt, Screen, ScreenId};
use crate::store::item::State;
use crate::store::workflow::{Action as Decision, Source};
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{Theme, Tone};
use crate::tui::widgets::{item_context, proposal_lines};

const KEYS: &[Binding] = &[
    Binding::new(
        &[KeyCode::Char('1')],
        Action::ProposeNth(0),
        "1-5",
        "propose",
        "propose that proposal's LLT (↑/↓ + Enter: the same; a confirmed item: recode to it)",
    ),
    Binding::hidden(&[KeyCode::Char('2')], Action::ProposeNth(1)),
    Binding::hidden(&[KeyCode::Char('3')], Action::ProposeNth(2)),
    Binding::hidden(&[KeyCode::Char('4')], Action::ProposeNth(3)),
    Binding::hidden(&[KeyCode::Char('5')], Action::ProposeNth(4)),
    Binding::hidden(&[KeyCode::Up, KeyCode::Char('k')], Action::Up),
    Binding::hidden(&[KeyCode::Down, KeyCode::Char('j')], Action::Down),
    Binding::hidden(&[KeyCode::Enter], Action::Select),
    Binding::new(&[KeyCode::Char('/')], Action::Search, "/", "search", "search all LLTs"),
    Binding::new(&[KeyCode::Char('b')], Action::Browse, "b", "browse", "browse the hierarchy from the highlighted proposal"),
    Binding::new(&[KeyCode::Char('q')], Action::PutOnQuery, "q", "query", "put on query (needs a note)"),
    Binding::new(&[KeyCode::Char('n')], Action::NextItem, "n/p", "next/prev", "next / previous item"),
    Binding::hidden(&[KeyCode::Char('p')], Action::PrevItem),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?')], Action::Help, "?", "help", ""),
];

#[derive(Default)]
pub struct Coding {
    /// The highlighted proposal.
    pub sel: usize,
}

impl Coding {
    fn propose_nth(ctx: &Ctx, i: usize) -> Cmd {
        match ctx.open.as_ref().and_then(|v| v.proposals.get(i)) {
            Some(p) => Cmd::Decide(Decision::Propose { llt: p.llt_code, source: Source::Model }, "proposed"),
            None => Cmd::Say(format!("There is no proposal {}.", i + 1), Tone::Info),
        }
    }
}

impl Screen for Coding {
    fn id(&self) -> ScreenId {
        ScreenId::Coding
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn notes(&self) -> &'static [&'static str] {
        &["⚠ uncertain: high entropy or low confidence: check carefully"]
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        let Some(view) = &ctx.open else { return Ok(Cmd::ToQueue) };
        let confirmed = view.item.state == State::Confirmed;
        if let Some(s) = moved(self.sel, view.proposals.len(), action).filter(|_| matches!(action, Action::Up | Action::Down)) {
            self.sel = s;
            return Ok(Cmd::None);
        }
        Ok(match action {
            Action::NextItem => Cmd::Step(1),
            Action::PrevItem => Cmd::Step(-1),
            Action::Back => Cmd::ToQueue,
            Action::Browse => {
                let start = view.proposals.get(self.sel).map(|p| p.llt_code).or(view.item.llt_code);
                Cmd::Push(Box::new(Browse::new(&ctx.desk().dict, start)))
            }
            Action::PutOnQuery if confirmed => {
                Cmd::Say("A confirmed item is not put on query: recode it (1-5, / or b), and it goes to review again.".into(), Tone::Info)
            }
            Action::ProposeNth(i) => Self::propose_nth(ctx, i),
            Action::Select => Self::propose_nth(ctx, self.sel),
            Action::Search => Cmd::Push(Box::new(Search::default())),
            Action::PutOnQuery => Cmd::Prompt(Prompt::QueryNote, String::new()),
            _ => Cmd::None,
        })
    }

    fn submit(&mut self, prompt: Prompt, text: String, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(match prompt {
            Prompt::QueryNote => Cmd::Decide(Decision::Query { note: text }, "put on query"),
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme) {
        let lines = item_context(ctx, theme);
        let [top, props] = Layout::vertical([Constraint::Length(lines.len() as u16 + 2), Constraint::Min(3)]).areas(area);
        f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Item ")), top);
        let title = match ctx.open.as_ref().and_then(|v| v.model_version.clone()) {
            Some(m) => format!(" Proposals ({m}) "),
            None => " Proposals ".into(),
        };
        f.render_widget(Paragraph::new(proposal_lines(ctx, theme, props.width, Some(self.sel))).block(Block::bordered().title(title)), props);
    }
}
