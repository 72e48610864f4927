//! Pieces drawn by more than one screen: the open item's context and the model's proposals.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::screens::{Ctx, EngineStatus};
use super::theme::{confidence_bar, spinner, truncate, Theme, Tone};
use crate::store::item::State;

/// The open item: id, state, reported term, study context, current code and comment.
pub fn item_context(ctx: &Ctx, theme: Theme) -> Vec<Line<'static>> {
    let Some(v) = &ctx.open else { return vec![] };
    let it = &v.item;
    let mut lines = vec![];
    if let Some(g) = &ctx.group {
        let me = ctx.desk().user.name.as_str();
        let text = if it.state == State::Proposed && it.proposer.as_deref() != Some(me) {
            format!("Group '{}': confirming signs all {} identical proposals as shown (not yours)", g.term, g.to_confirm(it.llt_code, me))
        } else {
            format!("Group '{}': proposing codes all {} new or returned items", g.term, g.to_code())
        };
        lines.push(Line::styled(text, theme.warn()));
    }
    lines.extend([
        Line::from(vec![
            Span::styled(format!("{}  ", it.external_id), theme.title()),
            Span::styled(it.state.to_string(), theme.state(it.state)),
            Span::raw(format!("  rev {}", it.revision)),
        ]),
        Line::from(vec![Span::raw("Reported term: "), Span::styled(it.reported_term.clone(), Style::default().add_modifier(Modifier::BOLD))]),
        Line::styled(
            format!(
                "Study {} · subject {} · onset {} · {} · {}",
                it.study,
                it.subject,
                it.onset_date.as_deref().unwrap_or("-"),
                it.seriousness.as_deref().unwrap_or("-"),
                it.investigator.as_deref().unwrap_or("-")
            ),
            theme.dim(),
        ),
    ]);
    if !v.context.is_empty() {
        let (mut shown, mut serious) = (Vec::new(), Vec::new());
        for (name, _, value) in &v.context {
            match crate::desk::context_word(name) {
                (word, true) => serious.push(word),
                (word, false) => shown.push(format!("{word} {value}")),
            }
        }
        // What made the event serious comes first: it is cut last on a narrow terminal.
        if !serious.is_empty() {
            shown.insert(0, format!("serious: {}", serious.join(", ")));
        }
        lines.push(Line::styled(format!("Record: {}", shown.join(" · ")), theme.dim()));
    }
    if let (Some(w), Some(n)) = (&v.whole, it.part_no) {
        lines.push(Line::styled(format!("Part {n} of {} ({}): '{}'", w.external_id, w.state, w.reported_term), theme.warn()));
    }
    // The split that stands (a returned split's void parts are history: `queue show` lists them).
    let live: Vec<String> = v.parts.iter().filter(|p| p.state != State::Void).map(|p| format!("{} [{}] {}", p.external_id, p.state, p.reported_term)).collect();
    if !live.is_empty() {
        lines.push(Line::styled(format!("Split into: {}", live.join(" · ")), theme.warn()));
    }
    let waiting = crate::desk::days_since(&it.imported_at);
    let due = match &v.due {
        Some(d) if *d < crate::desk::today() => format!(" · study due {d}: OVERDUE"),
        Some(d) => format!(" · study due {d}"),
        None => String::new(),
    };
    if waiting > 0 || !due.is_empty() {
        lines.push(Line::styled(format!("Waiting {waiting} day(s) since import{due}"), theme.dim()));
    }
    if let (Some(name), Some(code)) = (&v.code_name, it.llt_code) {
        let by = it.proposer.as_deref().unwrap_or("-");
        lines.push(Line::from(format!("Current code: {name} ({code}) by {by}{}", it.source.as_ref().map(|s| format!(", {s}")).unwrap_or_default())));
    }
    match &it.comment {
        // Who returned it and when, as the log has it.
        Some(_) if v.returned.is_some() => {
            let r = v.returned.as_ref().expect("checked");
            lines.push(Line::styled(format!("Returned by {} on {}: {}", r.by, r.at.get(..10).unwrap_or(&r.at), r.comment), theme.warn()))
        }
        // An item on query waits for the site: how long, and what it was asked.
        Some(c) if it.state == State::Answered => lines.push(Line::styled(format!("The site answered: {c}"), theme.warn())),
        Some(c) if it.state == State::Query => {
            lines.push(Line::styled(format!("On query for {} day(s), asked by {}: {c}", crate::desk::days_since(&it.updated_at), it.updated_by), theme.warn()))
        }
        Some(c) => lines.push(Line::styled(format!("Comment: {c}"), theme.warn())),
        None => {}
    }
    if let Some(syn) = &v.synonym {
        // The matched key, when qualifiers were dropped to find it.
        let key = if syn.term == crate::text::normalize(&it.reported_term) { String::new() } else { format!(" as '{}'", syn.term) };
        // The synonym's LLT by name first, and whether it differs from the code on screen: what a
        // reviewer weighs; the provenance after, where a narrow screen may cut it.
        let name = ctx.desk().llt_name(syn.llt_code);
        let differs = if it.llt_code.is_some_and(|c| c != syn.llt_code) { ", not the code proposed" } else { "" };
        let text = match (&syn.hold, syn.approval.as_str()) {
            (_, "pending") => format!("Synonym candidate{key}: {name}{differs} ({})", syn.provenance()),
            (None, _) => format!("Synonym list{key}: {name}{differs} ({})", syn.provenance()),
            (Some(why), _) => format!("Synonym list{key}: {name}{differs}, held ({why})"),
        };
        lines.push(Line::styled(text, theme.dim()));
    }
    lines
}

/// The model's proposals for the open item, two lines each; `highlight` marks the selected one.
pub fn proposal_lines(ctx: &Ctx, theme: Theme, width: u16, highlight: Option<usize>) -> Vec<Line<'static>> {
    let Some(v) = &ctx.open else { return vec![] };
    let mut lines = Vec::new();
    if v.proposals.is_empty() {
        let text = if ctx.waiting_for_model() {
            format!("{} the model is proposing codes…", spinner(ctx.tick))
        } else {
            match &ctx.engine {
                EngineStatus::Failed(m) => format!("No proposals: {m}"),
                EngineStatus::Stopped(m) => format!("No proposals: model stopped: {m}"),
                _ if ctx.open.as_ref().is_some_and(|v| v.item.state == State::Proposed) => {
                    "No model proposals for this item: c codes it differently, b browses.".into()
                }
                _ => "No model proposals for this item: use / to search or b to browse.".into(),
            }
        };
        lines.push(Line::styled(text, theme.dim()));
        return lines;
    }
    if let Some(top) = v.proposals.first() {
        if v.uncertain {
            lines.push(Line::styled(format!("⚠ PT uncertain: the top PT is {:.0}% likely; check carefully", 100.0 * top.pt_confidence), theme.warn()));
        } else if v.llt_uncertain {
            lines.push(Line::styled(
                format!(
                    "⚠ LLT choice: PT {} is {:.0}% likely, the LLT within it is not clear: pick the one the verbatim says",
                    top.pt_name,
                    100.0 * top.pt_confidence
                ),
                theme.warn(),
            ));
        }
    }
    let name_w = (width as usize).saturating_sub(32).clamp(16, 60);
    for (i, p) in v.proposals.iter().enumerate() {
        let chosen = v.item.llt_code == Some(p.llt_code);
        let line = Line::from(vec![
            Span::styled(format!("{} ", i + 1), theme.title()),
            Span::raw(format!("{:<w$} ", truncate(&p.llt_name, name_w), w = name_w)),
            Span::raw(confidence_bar(p.confidence, 10)),
            Span::styled(if chosen { "  ◀ current" } else { "" }.to_string(), theme.tone(Tone::Good)),
        ]);
        lines.push(if highlight == Some(i) { line.style(theme.selected()) } else { line });
        let evidence = p.evidence.as_ref().map(|e| format!(" · {e}")).unwrap_or_default();
        lines.push(Line::styled(format!("    PT {} {:.0}% · {}{evidence}", p.pt_name, 100.0 * p.pt_confidence, p.soc_name), theme.dim()));
    }
    lines
}
