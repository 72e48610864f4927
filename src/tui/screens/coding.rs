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
    Binding::new(&[KeyCode::Char('1')], Action::ProposeNth(0), "1-5", "propose", "propose its LLT (or ↑↓ Enter; on a confirmed item: recode)"),
    Binding::hidden(&[KeyCode::Char('2')], Action::ProposeNth(1)),
    Binding::hidden(&[KeyCode::Char('3')], Action::ProposeNth(2)),
    Binding::hidden(&[KeyCode::Char('4')], Action::ProposeNth(3)),
    Binding::hidden(&[KeyCode::Char('5')], Action::ProposeNth(4)),
    Binding::hidden(&[KeyCode::Up, KeyCode::Char('k')], Action::Up),
    Binding::hidden(&[KeyCode::Down, KeyCode::Char('j')], Action::Down),
    Binding::hidden(&[KeyCode::Enter], Action::Select),
    Binding::new(&[KeyCode::Char('/')], Action::Search, "/", "search", "search all LLTs"),
    Binding::new(&[KeyCode::Char('b')], Action::Browse, "b", "browse", "browse the hierarchy from the proposal"),
    // Not q: q quits on the queue, and one key means one thing everywhere.
    Binding::new(&[KeyCode::Char('u')], Action::PutOnQuery, "u", "query", "put on query to the site (needs a note)").in_footer_as("u a c"),
    Binding::new(&[KeyCode::Char('a')], Action::AnswerQuery, "a", "", "the site's answer (and corrected verbatim)"),
    Binding::new(&[KeyCode::Char('c')], Action::CloseQuery, "c", "", "close the query by hand"),
    Binding::new(&[KeyCode::Char('s')], Action::Split, "s", "split", "split a compound verbatim, one part per event"),
    Binding::new(&[KeyCode::Char('w')], Action::Withdraw, "w", "", "withdraw your own proposal before review"),
    Binding::new(&[KeyCode::Char('r')], Action::ReturnToProposer, "r", "", "return a split (reviewers): its parts are voided"),
    Binding::new(&[KeyCode::Char('n')], Action::NextItem, "n/p", "", "next / previous item"),
    Binding::hidden(&[KeyCode::Char('p')], Action::PrevItem),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
];

#[derive(Default)]
pub struct Coding {
    /// The highlighted proposal.
    pub sel: usize,
    /// The site's answer typed, while its corrected verbatim is asked for.
    answer: Option<String>,
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
        &["⚠ PT uncertain: top PT under 50%; ⚠ LLT choice: PT clear, LLT within it not", "bar: the LLT's confidence; PT n%: its PT's (sum over the PT's LLTs)"]
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
            Action::AnswerQuery if view.item.state != State::Query => Cmd::Say("Only an item on query gets the site's answer.".into(), Tone::Info),
            Action::AnswerQuery => Cmd::Prompt(Prompt::Answer, String::new()),
            Action::CloseQuery if !matches!(view.item.state, State::Query | State::Answered) => Cmd::Say("This item has no query to close.".into(), Tone::Info),
            Action::CloseQuery => Cmd::Prompt(Prompt::CloseNote, String::new()),
            Action::Withdraw if view.item.state != State::Proposed || view.item.proposer.as_deref() != Some(ctx.desk().user.name.as_str()) => {
                Cmd::Say("Only your own proposal, before review, is withdrawn.".into(), Tone::Info)
            }
            Action::Withdraw => Cmd::Decide(Decision::Withdraw, "proposal withdrawn"),
            // The prompt starts from the parts the verbatim suggests; the coder edits them.
            Action::Split => Cmd::Prompt(Prompt::SplitParts, crate::desk::suggest_parts(&view.item.reported_term).join("; ")),
            Action::ReturnToProposer if view.item.state != State::Split => {
                Cmd::Say("Here r returns a split (reviewers); a proposed code is returned from the review screen.".into(), Tone::Info)
            }
            Action::ReturnToProposer if !ctx.desk().user.role.can_review() => Cmd::Say("Only reviewers and admins return a split.".into(), Tone::Info),
            Action::ReturnToProposer => Cmd::Prompt(Prompt::ReturnSplit, String::new()),
            _ => Cmd::None,
        })
    }

    fn submit(&mut self, prompt: Prompt, text: String, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(match prompt {
            Prompt::QueryNote => Cmd::Decide(Decision::Query { note: text }, "put on query"),
            Prompt::Answer if text.trim().is_empty() => Cmd::Say("No answer recorded: the answer needs text.".into(), Tone::Bad),
            Prompt::Answer => {
                self.answer = Some(text);
                Cmd::Prompt(Prompt::CorrectedTerm, String::new())
            }
            Prompt::CorrectedTerm => match self.answer.take() {
                Some(answer) => {
                    let term = Some(text.trim().to_string()).filter(|t| !t.is_empty());
                    let done = if term.is_some() { "answer recorded, verbatim corrected" } else { "answer recorded" };
                    Cmd::Decide(Decision::Answer { text: answer, term }, done)
                }
                None => Cmd::None,
            },
            Prompt::CloseNote => Cmd::Decide(Decision::CloseQuery { note: Some(text).filter(|t| !t.trim().is_empty()) }, "query closed"),
            Prompt::SplitParts => {
                let parts: Vec<String> = text.split(';').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
                if parts.len() < 2 {
                    return Ok(Cmd::Say("Not split: give two or more parts, separated by ;".into(), Tone::Bad));
                }
                Cmd::Decide(Decision::Split { parts }, "split into parts")
            }
            Prompt::ReturnSplit => Cmd::Decide(Decision::Return { comment: text }, "split returned"),
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
