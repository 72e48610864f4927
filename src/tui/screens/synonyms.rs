//! Synonym candidates (reviewers and admins, when the team's synonym approval is `review`): each
//! confirmed code waiting to become a synonym, with its key, LLT, PT and who chose it; approve it
//! (it autocodes from then on) or decline it with a reason. Both are signatures.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Paragraph, Row, Table};
use ratatui::Frame;

use super::{moved, Cmd, Ctx, Prompt, Screen, ScreenId, Signed};
use crate::store::synonyms::Synonym;
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{truncate, Theme, Tone};

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Up, KeyCode::Char('k')], Action::Up, "↑↓", "move", "move"),
    Binding::hidden(&[KeyCode::Down, KeyCode::Char('j')], Action::Down),
    Binding::new(&[KeyCode::Char('a')], Action::Confirm, "a", "approve", "approve the candidate: identical terms autocode from now on"),
    Binding::new(&[KeyCode::Char('d')], Action::ReturnToProposer, "d", "decline", "decline it, saying why: it never autocodes"),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
];

pub struct Synonyms {
    pub rows: Vec<Synonym>,
    pub sel: usize,
}

impl Synonyms {
    pub fn load(ctx: &Ctx) -> Result<Synonyms> {
        Ok(Synonyms { rows: ctx.desk().synonym_candidates()?, sel: 0 })
    }

    fn own(&self, s: &Synonym, ctx: &Ctx) -> bool {
        let me = ctx.desk().user.name.as_str();
        s.proposer.as_deref() == Some(me) || s.reviewer.as_deref() == Some(me)
    }
}

impl Screen for Synonyms {
    fn id(&self) -> ScreenId {
        ScreenId::Synonyms
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn notes(&self) -> &'static [&'static str] {
        &[
            "A candidate is a confirmed code that becomes a synonym only once approved (team setting synonym-approval review).",
            "The key is the term without qualifiers MedDRA does not code (severity, grade, frequency, time of day).",
            "You cannot decide a candidate whose code you proposed or confirmed (four-eye rule).",
        ]
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        if let Some(sel) = moved(self.sel, self.rows.len(), action) {
            self.sel = sel;
            return Ok(Cmd::None);
        }
        let Some(s) = self.rows.get(self.sel) else {
            return Ok(if action == Action::Back { Cmd::Pop } else { Cmd::None });
        };
        let own = self.own(s, ctx);
        Ok(match action {
            Action::Confirm | Action::ReturnToProposer if own => {
                Cmd::Say("You proposed or confirmed this code: another reviewer or admin decides it (four-eye rule).".into(), Tone::Bad)
            }
            Action::Confirm => Cmd::Signed(Signed::Approve(s.term.clone())),
            Action::ReturnToProposer => Cmd::Prompt(Prompt::DeclineReason, String::new()),
            Action::Back => Cmd::Pop,
            _ => Cmd::None,
        })
    }

    fn submit(&mut self, prompt: Prompt, text: String, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(match (prompt, self.rows.get(self.sel)) {
            (Prompt::DeclineReason, Some(s)) if !text.trim().is_empty() => Cmd::Signed(Signed::Decline(s.term.clone(), text)),
            (Prompt::DeclineReason, Some(_)) => Cmd::Say("Not declined: say why (it is logged).".into(), Tone::Bad),
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme) {
        let title = format!(" Synonym candidates ({}) ", self.rows.len());
        if self.rows.is_empty() {
            f.render_widget(Paragraph::new("No synonym candidate awaits approval.").block(Block::bordered().title(title)), area);
            return;
        }
        let dict = &ctx.desk().dict;
        // At 80 columns: key 18, LLT 24, PT 14, count 2, who the rest; wider screens give the key more.
        let w = area.width.saturating_sub(2) as usize;
        let term_w = w.saturating_sub(24 + 14 + 2 + 14 + 4).max(12);
        let rows = self.rows.iter().enumerate().map(|(i, s)| {
            let llt = dict.llt(s.llt_code);
            let pt = llt.and_then(|l| dict.pt(l.pt_code)).map(|p| p.name.clone()).unwrap_or_default();
            let who = format!("{}/{}", s.proposer.as_deref().unwrap_or("-"), s.reviewer.as_deref().unwrap_or("-"));
            let row = Row::new(vec![
                truncate(&s.term, term_w),
                truncate(&format!("{} {}", s.llt_code, llt.map(|l| l.name.as_str()).unwrap_or("?")), 24),
                truncate(&pt, 14),
                s.confirmations.to_string(),
                truncate(&who, 14),
            ]);
            if i == self.sel {
                row.style(theme.selected())
            } else if self.own(s, ctx) {
                row.style(theme.dim())
            } else {
                row
            }
        });
        let widths = [Constraint::Length(term_w as u16), Constraint::Length(24), Constraint::Length(14), Constraint::Length(2), Constraint::Min(14)];
        let header = Row::new(vec!["key", "LLT", "PT", "n", "coded/confirmed"]).style(theme.title());
        f.render_widget(Table::new(rows, widths).header(header).block(Block::bordered().title(title)), area);
    }
}
