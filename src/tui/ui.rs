//! Drawing the coding desk. Works from 80x24 up; colour only when NO_COLOR is unset.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Cell, Chart, Clear, Dataset, GraphType, List, ListItem, ListState, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::app::{App, EngineStatus, Screen, Tone};
use super::tree::Level;
use crate::store::queue::State;

/// Styles that fall back to bold/reverse/dim when colour is off (NO_COLOR).
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme { color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn dim(&self) -> Style {
        Style::default().add_modifier(Modifier::DIM)
    }
    pub fn selected(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
    pub fn tone(&self, t: Tone) -> Style {
        match t {
            Tone::Info => self.fg(Color::Cyan),
            Tone::Good => self.fg(Color::Green).add_modifier(Modifier::BOLD),
            Tone::Bad => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn state(&self, s: State) -> Style {
        match s {
            State::New => self.fg(Color::White),
            State::Proposed => self.fg(Color::Yellow),
            State::Returned => self.fg(Color::Magenta),
            State::Query => self.fg(Color::Blue),
            State::Confirmed => self.fg(Color::Green),
        }
    }
}

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// A confidence bar of `width` cells and the percentage.
pub fn bar(confidence: f64, width: usize) -> String {
    let filled = ((confidence.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{} {:>3.0}%", "#".repeat(filled), ".".repeat(width - filled), 100.0 * confidence)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn draw(f: &mut Frame, app: &App, theme: Theme) {
    let [header, body, message, footer] = Layout::vertical([Constraint::Length(1), Constraint::Min(5), Constraint::Length(2), Constraint::Length(1)]).areas(f.area());
    draw_header(f, header, app, theme);
    match app.screen {
        Screen::SignIn => draw_signin(f, body, app, theme),
        Screen::Queue => draw_queue(f, body, app, theme),
        Screen::Coding => draw_coding(f, body, app, theme),
        Screen::Search => draw_search(f, body, app, theme),
        Screen::Browse => draw_browse(f, body, app, theme),
        Screen::Review => draw_review(f, body, app, theme),
        Screen::Stats => draw_stats(f, body, app, theme),
    }
    if let Some((p, text)) = &app.prompt {
        let line = Line::from(vec![Span::styled(format!("{}: ", p.label()), theme.title()), Span::raw(text.clone()), Span::styled("_", theme.selected())]);
        f.render_widget(Paragraph::new(line), message);
    } else if let Some((text, tone)) = &app.message {
        f.render_widget(Paragraph::new(Span::styled(text.clone(), theme.tone(*tone))).wrap(Wrap { trim: true }), message);
    }
    f.render_widget(Paragraph::new(Span::styled(footer_keys(app), theme.dim())), footer);
    if app.help {
        draw_help(f, app, theme);
    }
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let who = app.user().map(|u| format!("{} ({})", u.name, u.role)).unwrap_or_else(|| "not signed in".into());
    let dict = app.desk.as_ref().map(|d| format!("MedDRA {}", d.dict.version)).unwrap_or_default();
    let engine = match &app.engine {
        EngineStatus::Loading => format!("model loading {}", SPINNER[(app.tick % 4) as usize]),
        EngineStatus::Ready(_) if !app.pending.is_empty() => format!("model: {} to propose {}", app.pending.len(), SPINNER[(app.tick % 4) as usize]),
        EngineStatus::Ready(_) => match &app.model_version {
            Some(m) if m.starts_with("zero-shot") => "model ready: zero-shot".into(),
            Some(m) => format!("model ready: {}", truncate(m, 28)),
            None => "model ready".into(),
        },
        EngineStatus::Failed(_) => "model unavailable".into(),
        EngineStatus::Off => "model off".into(),
    };
    let parts: Vec<String> = [who, dict, engine].into_iter().filter(|p| !p.is_empty()).collect();
    let line = Line::from(vec![Span::styled(" medcoder ", theme.title()), Span::raw(format!("│ {}", parts.join(" │ ")))]);
    f.render_widget(Paragraph::new(line), area);
}

pub fn footer_keys(app: &App) -> String {
    if app.prompt.is_some() {
        return " Enter confirm · Esc cancel".into();
    }
    match app.screen {
        Screen::SignIn => " ↑↓ choose · Enter sign in · q quit",
        Screen::Queue => " Enter open · t state · s study · f filter · o sort · x stats · ? help · q quit",
        Screen::Coding => " 1-5 propose · / search · b browse · q query · n/p next/prev · Esc · ? help",
        Screen::Search => " type to search · ↑↓ · Enter propose · Esc back",
        Screen::Browse => " ↑↓ move · →/← open/close · Enter choose LLT · g jump to code · Esc · ? help",
        Screen::Review => " a confirm · r return · c recode · b browse · n/p next/prev · Esc back · ? help",
        Screen::Stats => " Esc back",
    }
    .into()
}

fn draw_signin(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let items: Vec<ListItem> = app.users.iter().map(|u| ListItem::new(format!("{:<20} {}", u.name, u.role))).collect();
    let mut st = ListState::default().with_selected(Some(app.user_sel));
    let list = List::new(items).block(Block::bordered().title(" Sign in: who are you? ")).highlight_style(theme.selected());
    f.render_stateful_widget(list, area, &mut st);
}

fn draw_queue(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let [top, table_area] = Layout::vertical([Constraint::Length(2), Constraint::Min(3)]).areas(area);
    let counts: Vec<Span> = app.counts.iter().flat_map(|(s, n)| [Span::styled(format!("{s} {n}"), theme.state(*s)), Span::raw("  ")]).collect();
    let filters = format!(
        "showing {} · state: {} · study: {} · filter: {} · sort: {}",
        app.rows.len(),
        app.state_filter.map_or("all".into(), |s| s.to_string()),
        app.study_filter.clone().unwrap_or_else(|| "all".into()),
        if app.text_filter.is_empty() { "-".into() } else { format!("'{}'", app.text_filter) },
        app.sort.label()
    );
    f.render_widget(Paragraph::new(vec![Line::from(counts), Line::styled(filters, theme.dim())]), top);
    let wide = area.width >= 110;
    // Only the rows that fit are built (a study queue can hold tens of thousands); the window
    // scrolls as the table would, keeping the selection on its last line once past the first page.
    let visible = table_area.height.saturating_sub(3).max(1) as usize;
    let start = app.sel.saturating_sub(visible - 1).min(app.rows.len().saturating_sub(1));
    let rows: Vec<Row> = app
        .rows
        .iter()
        .skip(start)
        .take(visible)
        .map(|r| {
            let (top_name, conf) = match (&r.top, app.pending.contains(&r.item.id)) {
                (Some(t), _) => (t.llt_name.clone(), format!("{:>3.0}%{}", 100.0 * t.confidence, if r.uncertain { " ?" } else { "" })),
                (None, true) => ("…".into(), String::new()),
                (None, false) => ("-".into(), String::new()),
            };
            let mut cells = vec![
                Cell::from(r.item.external_id.clone()),
                Cell::from(Span::styled(r.item.state.to_string(), theme.state(r.item.state))),
                Cell::from(r.item.study.clone()),
                Cell::from(r.item.reported_term.clone()),
                Cell::from(top_name),
                Cell::from(Span::styled(conf, if r.uncertain { theme.warn() } else { Style::default() })),
            ];
            if wide {
                cells.insert(3, Cell::from(r.item.subject.clone()));
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(8), Constraint::Length(9), Constraint::Length(8), Constraint::Fill(3), Constraint::Fill(2), Constraint::Length(6)];
    let mut header = vec!["id", "state", "study", "reported term", "top proposal", "conf"];
    if wide {
        widths.insert(3, Constraint::Length(8));
        header.insert(3, "subject");
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.title()))
        .block(Block::bordered().title(" Coding queue "))
        .row_highlight_style(theme.selected());
    let mut st = TableState::default().with_selected((!app.rows.is_empty()).then_some(app.sel - start));
    f.render_stateful_widget(table, table_area, &mut st);
}

fn item_context(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let Some(v) = &app.item else { return vec![] };
    let it = &v.item;
    let mut lines = vec![
        Line::from(vec![Span::styled(format!("{}  ", it.external_id), theme.title()), Span::styled(it.state.to_string(), theme.state(it.state)), Span::raw(format!("  rev {}", it.revision))]),
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
    ];
    if let (Some(name), Some(code)) = (&v.code_name, it.llt_code) {
        let by = it.proposer.as_deref().unwrap_or("-");
        lines.push(Line::from(format!("Current code: {name} ({code}) by {by}{}", it.source.as_ref().map(|s| format!(", {s}")).unwrap_or_default())));
    }
    if let Some(c) = &it.comment {
        lines.push(Line::styled(format!("Comment: {c}"), theme.warn()));
    }
    lines
}

fn proposal_lines(app: &App, theme: Theme, width: u16, highlight: bool) -> Vec<Line<'static>> {
    let Some(v) = &app.item else { return vec![] };
    let mut lines = Vec::new();
    if v.proposals.is_empty() {
        let text = if app.waiting_for_model() {
            format!("{} the model is proposing codes…", SPINNER[(app.tick % 4) as usize])
        } else {
            match &app.engine {
                EngineStatus::Failed(m) => format!("No proposals: {m}"),
                _ => "No model proposals for this item: use / to search or b to browse.".into(),
            }
        };
        lines.push(Line::styled(text, theme.dim()));
        return lines;
    }
    if v.uncertain {
        lines.push(Line::styled(format!("⚠ uncertain: the model is unsure (entropy {:.2}); check carefully", v.entropy.unwrap_or(0.0)), theme.warn()));
    }
    let name_w = (width as usize).saturating_sub(32).clamp(16, 60);
    for (i, p) in v.proposals.iter().enumerate() {
        let chosen = v.item.llt_code == Some(p.llt_code);
        let line = Line::from(vec![
            Span::styled(format!("{} ", i + 1), theme.title()),
            Span::raw(format!("{:<w$} ", truncate(&p.llt_name, name_w), w = name_w)),
            Span::raw(bar(p.confidence, 10)),
            Span::styled(if chosen { "  ◀ current" } else { "" }.to_string(), theme.tone(Tone::Good)),
        ]);
        lines.push(if highlight && i == app.prop_sel { line.style(theme.selected()) } else { line });
        lines.push(Line::styled(format!("    PT {} · {}", p.pt_name, p.soc_name), theme.dim()));
    }
    lines
}

fn draw_coding(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let ctx = item_context(app, theme);
    let [top, props] = Layout::vertical([Constraint::Length(ctx.len() as u16 + 2), Constraint::Min(3)]).areas(area);
    f.render_widget(Paragraph::new(ctx).block(Block::bordered().title(" Item ")), top);
    let title = match app.item.as_ref().and_then(|v| v.model_version.clone()) {
        Some(m) => format!(" Proposals ({m}) "),
        None => " Proposals ".into(),
    };
    f.render_widget(Paragraph::new(proposal_lines(app, theme, props.width, true)).block(Block::bordered().title(title)), props);
}

fn draw_search(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let [input, list_area] = Layout::vertical([Constraint::Length(3), Constraint::Min(3)]).areas(area);
    let term = app.item.as_ref().map(|v| v.item.reported_term.clone()).unwrap_or_default();
    f.render_widget(
        Paragraph::new(Line::from(vec![Span::raw(app.search_text.clone()), Span::styled("_", theme.selected())])).block(Block::bordered().title(format!(" Search LLTs for '{}' ", truncate(&term, 40)))),
        input,
    );
    let name_w = (list_area.width as usize / 2).clamp(16, 50);
    let items: Vec<ListItem> = app
        .search_rows
        .iter()
        .map(|r| {
            let name = if r.current { r.llt_name.clone() } else { format!("{} (non-current)", r.llt_name) };
            let style = if r.current { Style::default() } else { theme.dim().add_modifier(Modifier::CROSSED_OUT) };
            ListItem::new(vec![
                Line::styled(format!("{:<w$} {}", truncate(&name, name_w), r.llt_code, w = name_w), style),
                Line::styled(format!("   PT {} · {}", r.pt_name, r.soc_name), theme.dim()),
            ])
        })
        .collect();
    let empty = app.search_text.trim().is_empty();
    let title = if empty { " Type words of the term, in any order ".to_string() } else { format!(" {} match(es) ", app.search_rows.len()) };
    let mut st = ListState::default().with_selected((!app.search_rows.is_empty()).then_some(app.search_sel));
    f.render_stateful_widget(List::new(items).block(Block::bordered().title(title)).highlight_style(theme.selected()), list_area, &mut st);
}

fn draw_browse(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let items: Vec<ListItem> = app
        .tree
        .rows
        .iter()
        .map(|r| {
            let marker = if r.has_children { if r.expanded { "▾ " } else { "▸ " } } else { "  " };
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
            let style = if r.current { Style::default() } else { theme.dim().add_modifier(Modifier::CROSSED_OUT) };
            ListItem::new(Line::styled(text, style))
        })
        .collect();
    let mut st = ListState::default().with_selected(Some(app.tree.sel));
    f.render_stateful_widget(List::new(items).block(Block::bordered().title(" MedDRA hierarchy (international SOC order) ")).highlight_style(theme.selected()), area, &mut st);
}

fn draw_review(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(v) = &app.item else { return };
    let mut lines = item_context(app, theme);
    lines.push(Line::raw(""));
    let own = app.user().is_some_and(|u| v.item.proposer.as_deref() == Some(u.name.as_str()));
    if own {
        lines.push(Line::styled("You proposed this code: another reviewer must confirm it (four-eye rule).", theme.tone(Tone::Bad)));
    }
    let rank = match (v.code_rank, v.proposals.is_empty()) {
        (Some(r), _) => format!("model rank {r} of {}", v.proposals.len()),
        (None, true) => "no model proposals".into(),
        (None, false) => "not among the model's proposals".into(),
    };
    lines.push(Line::styled(format!("Proposed by {} ({}) — {rank}", v.item.proposer.as_deref().unwrap_or("-"), v.item.source.as_deref().unwrap_or("-")), theme.title()));
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
    let [top, props] = Layout::vertical([Constraint::Length(top_h), Constraint::Min(3)]).areas(area);
    f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Review ")), top);
    f.render_widget(Paragraph::new(proposal_lines(app, theme, props.width, false)).block(Block::bordered().title(" The model's proposals ")), props);
}

fn draw_stats(f: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(r) = &app.stats else {
        f.render_widget(Paragraph::new("No confirmed items with model proposals yet: nothing to back-test.").block(Block::bordered().title(" Back-test ")), area);
        return;
    };
    let [table_area, chart_area] = Layout::vertical([Constraint::Length(8), Constraint::Min(6)]).areas(area);
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let mut rows: Vec<Row> = r
        .brackets
        .iter()
        .map(|b| Row::new(vec![b.name.clone(), b.accuracy.n.to_string(), pct(b.accuracy.llt_at_1), pct(b.accuracy.pt_at_1), pct(b.accuracy.llt_at_5)]))
        .collect();
    if let Some(t) = r.thresholds.iter().find(|t| t.threshold == 0.8) {
        rows.push(Row::new(vec!["confidence ≥ 0.80".into(), t.n.to_string(), pct(t.llt_accuracy), pct(t.pt_accuracy), format!("cov {}", pct(t.coverage))]));
    }
    let table = Table::new(rows, [Constraint::Length(20), Constraint::Length(6), Constraint::Length(8), Constraint::Length(8), Constraint::Length(10)])
        .header(Row::new(vec!["bracket", "items", "LLT@1", "PT@1", "LLT@5"]).style(theme.title()))
        .block(Block::bordered().title(format!(" Back-test over {} confirmed items ", r.overall.n)));
    f.render_widget(table, table_area);
    let llt: Vec<(f64, f64)> = r.curve.iter().map(|&(c, l, _)| (c, l)).collect();
    let pt: Vec<(f64, f64)> = r.curve.iter().map(|&(c, _, p)| (c, p)).collect();
    let data = vec![
        Dataset::default().name("LLT accuracy").marker(symbols::Marker::Braille).graph_type(GraphType::Line).style(theme.fg(Color::Cyan)).data(&llt),
        Dataset::default().name("PT accuracy").marker(symbols::Marker::Braille).graph_type(GraphType::Line).style(theme.fg(Color::Red)).data(&pt),
    ];
    let chart = Chart::new(data)
        .block(Block::bordered().title(" Accuracy against coverage (most confident first) "))
        .x_axis(Axis::default().title("coverage").bounds([0.0, 1.0]).labels(["0%", "50%", "100%"]))
        .y_axis(Axis::default().title("accuracy").bounds([0.0, 1.0]).labels(["0%", "50%", "100%"]));
    f.render_widget(chart, chart_area);
}

fn draw_help(f: &mut Frame, app: &App, theme: Theme) {
    let area = f.area();
    let w = area.width.saturating_sub(8).min(76);
    let h = area.height.saturating_sub(4).min(20);
    let popup = Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h };
    let common = [
        "Workflow: new -> proposed -> confirmed (or returned -> proposed ...); query puts",
        "an item on hold for the site. A reviewer other than the proposer must confirm.",
        "",
    ];
    let keys: &[&str] = match app.screen {
        Screen::SignIn => &["↑/↓ choose your name, Enter sign in, q quit"],
        Screen::Queue => &["↑/↓ PgUp/PgDn Home/End  move", "Enter  open the item (reviewers open proposed items for review)", "t  cycle state filter     s  cycle study filter", "f or /  text filter      o  cycle sort order", "r  reload (others' changes)   x  back-test statistics   q  quit", "conf: top proposal confidence; ? marks uncertain items"],
        Screen::Coding => &["1-5  propose that proposal's LLT    ↑/↓ + Enter  same", "/  search all LLTs     b  browse the hierarchy from the highlighted proposal", "q  put on query (needs a note)", "n / p  next / previous item     Esc  back to the queue", "⚠ uncertain: high entropy or low confidence: check carefully"],
        Screen::Search => &["Type words in any order; typos are tolerated.", "↑/↓ choose, Enter propose. Non-current LLTs are struck through and cannot be chosen.", "Esc back"],
        Screen::Browse => &["↑/↓ move, → open, ← close or go to the parent", "Enter on an LLT proposes it; on other levels opens/closes", "g  jump to an LLT or PT code", "PTs under several SOCs are shown under each, [primary] marked"],
        Screen::Review => &["a  confirm the proposed code", "r  return it to the proposer with a comment", "c  code it differently (you become the proposer)", "b  browse the coded LLT in the hierarchy", "n / p  next / previous item    Esc back", "You cannot confirm or return your own proposal."],
        Screen::Stats => &["Accuracy of the model's top proposal against confirmed codes,", "by uncertainty bracket, and accuracy against coverage.", "Esc back"],
    };
    let mut lines: Vec<Line> = common.iter().map(|s| Line::raw(*s)).collect();
    lines.extend(keys.iter().map(|s| Line::raw(*s)));
    lines.push(Line::raw(""));
    lines.push(Line::styled("Any key closes this help. Ctrl-C quits anywhere.", theme.dim()));
    f.render_widget(Clear, popup);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Help ").title_style(theme.title())), popup);
}
