//! Review (reviewers): the proposed code with every MedDRA path, who proposed it and where it
//! ranked among the model's proposals; confirm, return with a comment, or code it differently.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::browse::Browse;
use super::coding::Coding;
use super::{Cmd, Ctx, Prompt, Screen, ScreenId};
use crate::store::workflow::Action as Decision;
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{truncate, Theme, Tone};
use crate::tui::widgets::{item_context, proposal_lines};

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Char('a')], Action::Confirm, "a", "confirm", "confirm the proposed code"),
    Binding::new(&[KeyCode::Char('r')], Action::ReturnToProposer, "r", "return", "return it to the proposer with a comment"),
    Binding::new(&[KeyCode::Char('c')], Action::Recode, "c", "recode", "code it differently (you become the proposer)"),
    Binding::new(&[KeyCode::Char('b')], Action::Browse, "b", "browse", "browse the coded LLT in the hierarchy"),
    Binding::new(&[KeyCode::Char('n')], Action::NextItem, "n/p", "next/prev", "next / previous item"),
    Binding::hidden(&[KeyCode::Char('p')], Action::PrevItem),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
];

/// On one's own proposal: no confirm or return is offered (four-eye rule).
const OWN_KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Char('c')], Action::Recode, "c", "recode", "code it differently"),
    Binding::new(&[KeyCode::Char('b')], Action::Browse, "b", "browse", "browse the coded LLT in the hierarchy"),
    Binding::new(&[KeyCode::Char('n')], Action::NextItem, "n/p", "next/prev", "next / previous item"),
    Binding::hidden(&[KeyCode::Char('p')], Action::PrevItem),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
];

const OWN: &str = "You proposed this code: another reviewer must confirm it (four-eye rule).";

/// `own`: the reviewer proposed the code on screen, so the keymap offers no confirm or return.
pub struct Review {
    pub own: bool,
}

impl Screen for Review {
    fn id(&self) -> ScreenId {
        ScreenId::Review
    }

    fn keymap(&self) -> &'static [Binding] {
        if self.own {
            OWN_KEYS
        } else {
            KEYS
        }
    }

    fn notes(&self) -> &'static [&'static str] {
        &["You cannot confirm or return your own proposal."]
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        let Some(view) = &ctx.open else { return Ok(Cmd::ToQueue) };
        let own = view.item.proposer.as_deref() == Some(ctx.desk().user.name.as_str());
        Ok(match action {
            Action::Confirm if own => Cmd::Say(OWN.into(), Tone::Bad),
            Action::ReturnToProposer if own => Cmd::Say("You proposed this code: another reviewer must review it (four-eye rule).".into(), Tone::Bad),
            Action::Confirm => Cmd::Decide(Decision::Confirm, "confirmed"),
            Action::ReturnToProposer => Cmd::Prompt(Prompt::ReturnComment, String::new()),
            // The reviewer becomes the proposer, and someone else reviews.
            Action::Recode => Cmd::Replace(Box::new(Coding::default())),
            Action::Browse => Cmd::Push(Box::new(Browse::new(&ctx.desk().dict, view.item.llt_code))),
            Action::NextItem => Cmd::Step(1),
            Action::PrevItem => Cmd::Step(-1),
            Action::Back => Cmd::ToQueue,
            _ => Cmd::None,
        })
    }

    fn submit(&mut self, prompt: Prompt, text: String, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(match prompt {
            Prompt::ReturnComment => Cmd::Decide(Decision::Return { comment: text }, "returned to the proposer"),
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme) {
        let Some(v) = &ctx.open else { return };
        let mut lines = item_context(ctx, theme);
        lines.push(Line::raw(""));
        if v.item.proposer.as_deref() == Some(ctx.desk().user.name.as_str()) {
            lines.push(Line::styled(OWN, theme.tone(Tone::Bad)));
        }
        let rank = match (v.code_rank, v.proposals.is_empty()) {
            (Some(r), _) => format!("model rank {r} of {}", v.proposals.len()),
            (None, true) => "no model proposals".into(),
            (None, false) => "not among the model's proposals".into(),
        };
        lines.push(Line::styled(
            format!("Proposed by {} ({}) — {rank}", v.item.proposer.as_deref().unwrap_or("-"), v.item.source.as_deref().unwrap_or("-")),
            theme.title(),
        ));
        lines.push(Line::styled("Proposed code and its MedDRA path(s):", theme.title()));
        let w = area.width.saturating_sub(4) as usize;
        for p in &v.code_paths {
            let tag = if p.primary { "primary  " } else { "secondary" };
            lines.push(Line::raw(truncate(&format!("  {tag} PT   {}", p.pt.name), w)));
            lines.push(Line::raw(truncate(&format!("            HLT  {}", p.hlt.name), w)));
            lines.push(Line::raw(truncate(&format!("            HLGT {}", p.hlgt.name), w)));
            lines.push(Line::raw(truncate(&format!("            SOC  {}", p.soc.name), w)));
        }
        let top_h = (lines.len() as u16 + 2).min(area.height.saturating_sub(3));
        // How the same verbatim was coded before, beside the proposals when the screen is wide.
        let [top, rest] = Layout::vertical([Constraint::Length(top_h), Constraint::Min(3)]).areas(area);
        let [props, hist] = if area.width >= 120 {
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(rest)
        } else {
            // Below the proposals, as many lines as it has (up to 4); none when never coded before.
            let rows = if v.history.is_empty() { 0 } else { (v.history.len().min(4) as u16 + 2).min(rest.height / 2) };
            Layout::vertical([Constraint::Min(3), Constraint::Length(rows)]).areas(rest)
        };
        f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Review ")), top);
        f.render_widget(Paragraph::new(proposal_lines(ctx, theme, props.width, None)).block(Block::bordered().title(" The model's proposals ")), props);
        if hist.height > 0 {
            f.render_widget(
                Paragraph::new(history_lines(ctx, theme, hist.width)).block(Block::bordered().title(format!(" This verbatim before ({}) ", v.history.len()))),
                hist,
            );
        }
    }
}

/// The other confirmed codings of the item's normalised term, newest first: when, who proposed and
/// confirmed, LLT, PT and MedDRA version; a code unlike the one proposed is marked.
fn history_lines(ctx: &Ctx, theme: Theme, width: u16) -> Vec<Line<'static>> {
    let Some(v) = &ctx.open else { return vec![] };
    if v.history.is_empty() {
        return vec![Line::styled("Never confirmed before.", theme.dim())];
    }
    let dict = &ctx.desk().dict;
    let w = width.saturating_sub(4) as usize;
    v.history
        .iter()
        .map(|h| {
            let llt = h.llt_code.map(|c| ctx.desk().llt_name(c)).unwrap_or_default();
            let pt = h.pt_code.and_then(|c| dict.pt(c)).map(|p| p.name.clone()).unwrap_or_default();
            let day = h.confirmed_at.as_deref().and_then(|d| d.get(..10)).unwrap_or("-");
            let text = format!(
                "{day} {} {}/{} {llt} (PT {pt}) MedDRA {}",
                h.external_id,
                h.proposer.as_deref().unwrap_or("-"),
                h.reviewer.as_deref().unwrap_or("-"),
                h.meddra_version.as_deref().unwrap_or("-")
            );
            let style = if h.llt_code == v.item.llt_code { theme.dim() } else { theme.warn() };
            Line::styled(truncate(&text, w), style)
        })
        .collect()
}
