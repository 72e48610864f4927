//! The synonym list at the desk, on two pages (Tab). Candidates (when the team's synonym approval
//! is `review`): each confirmed code waiting to become a synonym, with its key, LLT, PT and who
//! chose it; a reviewer or admin approves it (it autocodes from then on) or declines it with a
//! reason, both signatures. The whole list: every synonym of the version with its state and
//! provenance; an admin retires one (it stops autocoding, logged).

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
    Binding::new(&[KeyCode::Tab], Action::Page, "Tab", "list", "the whole synonym list, or the candidates only"),
    Binding::new(&[KeyCode::Char('x')], Action::Withdraw, "x", "retire", "retire the synonym (admins): it stays listed, held, and no longer autocodes"),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
];

pub struct Synonyms {
    pub rows: Vec<Synonym>,
    pub sel: usize,
    /// The whole list (true) or the candidates only.
    pub all: bool,
}

impl Synonyms {
    pub fn load(ctx: &Ctx) -> Result<Synonyms> {
        Self::load_page(ctx, false)
    }

    pub fn load_page(ctx: &Ctx, all: bool) -> Result<Synonyms> {
        let desk = ctx.desk();
        let rows = if all { desk.store.synonyms(&desk.dict.version)? } else { desk.synonym_candidates()? };
        Ok(Synonyms { rows, sel: 0, all })
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
            "[S] before a key: study S's own list, which wins over the global list for that study's items.",
        ]
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        if let Some(sel) = moved(self.sel, self.rows.len(), action) {
            self.sel = sel;
            return Ok(Cmd::None);
        }
        if action == Action::Page {
            *self = Self::load_page(ctx, !self.all)?;
            return Ok(Cmd::None);
        }
        let Some(s) = self.rows.get(self.sel) else {
            return Ok(if action == Action::Back { Cmd::Pop } else { Cmd::None });
        };
        let own = self.own(s, ctx);
        let candidate = s.approval == "pending";
        Ok(match action {
            Action::Confirm | Action::ReturnToProposer if !candidate => {
                Cmd::Say(format!("'{}' is not a candidate awaiting approval ({}).", s.term, s.provenance()), Tone::Info)
            }
            Action::Withdraw => {
                let (study, term) = (s.study.clone(), s.term.clone());
                let desk = ctx.desk.as_mut().expect("signed in");
                let version = desk.dict.version.clone();
                let user = desk.user.name.clone();
                match desk.store.retire_synonym(&user, &version, &study, &term) {
                    Ok(r) => {
                        *self = Self::load_page(ctx, self.all)?;
                        Cmd::Say(format!("Retired the synonym '{}' ({}): it no longer autocodes.", r.term, r.scope()), Tone::Good)
                    }
                    Err(e) => Cmd::Say(format!("{e:#}"), Tone::Bad),
                }
            }
            Action::Confirm | Action::ReturnToProposer if own => {
                Cmd::Say("You proposed or confirmed this code: another reviewer or admin decides it (four-eye rule).".into(), Tone::Bad)
            }
            Action::Confirm => Cmd::Signed(Signed::Approve { study: s.study.clone(), term: s.term.clone() }),
            Action::ReturnToProposer => Cmd::Prompt(Prompt::DeclineReason, String::new()),
            Action::Back => Cmd::Pop,
            _ => Cmd::None,
        })
    }

    fn submit(&mut self, prompt: Prompt, text: String, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(match (prompt, self.rows.get(self.sel)) {
            (Prompt::DeclineReason, Some(s)) if !text.trim().is_empty() => {
                Cmd::Signed(Signed::Decline { study: s.study.clone(), term: s.term.clone(), why: text })
            }
            (Prompt::DeclineReason, Some(_)) => Cmd::Say("Not declined: say why (it is logged).".into(), Tone::Bad),
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme) {
        let title =
            if self.all { format!(" Synonym list ({}; Tab: candidates) ", self.rows.len()) } else { format!(" Synonym candidates ({}) ", self.rows.len()) };
        if self.rows.is_empty() {
            let text = if self.all { "The synonym list of this MedDRA version is empty." } else { "No synonym candidate awaits approval." };
            f.render_widget(Paragraph::new(text).block(Block::bordered().title(title)), area);
            return;
        }
        let dict = &ctx.desk().dict;
        // At 80 columns: key 18, LLT 24, PT 14, count 2, who the rest; wider screens give the key more.
        let w = area.width.saturating_sub(2) as usize;
        let term_w = w.saturating_sub(24 + 14 + 2 + 14 + 4).max(12);
        let rows = self.rows.iter().enumerate().map(|(i, s)| {
            let llt = dict.llt(s.llt_code);
            let pt = llt.and_then(|l| dict.pt(l.pt_code)).map(|p| p.name.clone()).unwrap_or_default();
            let who = if self.all {
                match (&s.hold, s.approval.as_str()) {
                    (_, "pending") => "candidate".to_string(),
                    (_, "declined") => "declined".to_string(),
                    (Some(_), _) => "held".to_string(),
                    (None, _) => s.origin.clone(),
                }
            } else {
                format!("{}/{}", s.proposer.as_deref().unwrap_or("-"), s.reviewer.as_deref().unwrap_or("-"))
            };
            let key = if s.study.is_empty() { s.term.clone() } else { format!("[{}] {}", s.study, s.term) };
            let row = Row::new(vec![
                truncate(&key, term_w),
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
        let header = Row::new(vec!["key", "LLT", "PT", "n", if self.all { "state" } else { "by" }]).style(theme.title());
        f.render_widget(Table::new(rows, widths).header(header).block(Block::bordered().title(title)), area);
    }
}
