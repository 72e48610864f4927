//! Statistics from the decision log, on two pages (Tab): the back-test (the model's accuracy by
//! how each code was found and by PT confidence, its calibration and validated threshold, and
//! accuracy against coverage with its confidence band) and the team reports of the last 30 days
//! (work per person, turnaround and open work by age, terms coded to different PTs, queries).

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::symbols;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Row, Table};
use ratatui::Frame;

use super::{Cmd, Ctx, Screen, ScreenId};
use crate::backtest::Report;
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{truncate, Theme};

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Tab], Action::Page, "Tab", "page", "back-test / team reports"),
    Binding::new(&[KeyCode::Esc], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "", ""),
];

pub struct Stats {
    /// None while no confirmed item has model proposals.
    pub report: Option<Report>,
    /// The team reports (the last `TEAM_DAYS` days).
    pub team: Option<crate::report::TeamReports>,
    /// 0: the back-test; 1: the team reports.
    pub page: usize,
}

/// The days the stats screen's team reports cover.
pub const TEAM_DAYS: i64 = 30;

impl Stats {
    pub fn load(ctx: &Ctx) -> Result<Stats> {
        Ok(Stats { report: ctx.desk().stats()?, team: Some(ctx.desk().team_reports(Some(TEAM_DAYS))?), page: 0 })
    }

    fn draw_team(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let Some(t) = &self.team else { return };
        let [people_area, rest] = Layout::vertical([Constraint::Length((t.people.len().min(6) as u16 + 3).max(4)), Constraint::Min(6)]).areas(area);
        let rows: Vec<Row> = t
            .people
            .iter()
            .take(6)
            .map(|p| Row::new(vec![truncate(&p.user, 16), p.coded.to_string(), p.confirmed.to_string(), p.returned.to_string(), p.queried.to_string()]))
            .collect();
        let widths = [Constraint::Min(12), Constraint::Length(6), Constraint::Length(9), Constraint::Length(8), Constraint::Length(7)];
        f.render_widget(
            Table::new(rows, widths)
                .header(Row::new(vec!["person", "coded", "confirmed", "returned", "queried"]).style(theme.title()))
                .block(Block::bordered().title(format!(" Work per person, {} ", t.window))),
            people_area,
        );
        let hours = crate::report::fmt_hours;
        let tr = &t.turnaround;
        let mut lines = vec![
            Line::styled("Turnaround (import to confirmation)", theme.title()),
            Line::raw(format!("  {} confirmed · median {} · 90th percentile {}", tr.confirmed, hours(tr.median_hours), hours(tr.p90_hours))),
            Line::raw(format!(
                "  open work by age: {}",
                tr.open_by_age.iter().map(|(b, s)| format!("{b} {}", s.values().sum::<usize>())).collect::<Vec<_>>().join(" · ")
            )),
            Line::styled(format!("Consistency: {} term(s) confirmed to more than one PT", t.consistency.len()), theme.title()),
        ];
        for c in t.consistency.iter().take(2) {
            let pts: Vec<String> = c.pts.iter().map(|(_, name, n, _)| format!("{name} {n}")).collect();
            lines.push(Line::styled(format!("  '{}': {}", c.key, pts.join(" / ")), theme.warn()));
        }
        let q = &t.queries;
        lines.push(Line::styled("Queries to sites", theme.title()));
        lines.push(Line::raw(format!(
            "  {} asked · {} answered · {} closed · median {} to an answer · open: {}",
            q.asked,
            q.answered,
            q.closed,
            q.median_days_to_answer.map_or("-".to_string(), |d| format!("{d:.1} days")),
            {
                let open: Vec<String> = q.open_by_age.iter().filter(|(_, n)| *n > 0).map(|(b, n)| format!("{b} {n}")).collect();
                if open.is_empty() {
                    "none".to_string()
                } else {
                    open.join(", ")
                }
            }
        )));
        let w = rest.width.saturating_sub(2) as usize;
        let lines: Vec<Line> = lines.into_iter().map(|l| Line::styled(truncate(&l.to_string(), w), l.style)).collect();
        f.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Team reports (medcoder report ... for more) ")), rest);
    }
}

impl Screen for Stats {
    fn id(&self) -> ScreenId {
        ScreenId::Stats
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn notes(&self) -> &'static [&'static str] {
        &[
            "The model's top proposal against confirmed codes, counted only where the model was asked",
            "(rule- and synonym-coded items are listed apart); by PT confidence; accuracy against coverage.",
        ]
    }

    fn perform(&mut self, action: Action, _ctx: &mut Ctx) -> Result<Cmd> {
        Ok(match action {
            Action::Back => Cmd::Pop,
            Action::Page => {
                self.page = (self.page + 1) % 2;
                Cmd::None
            }
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, _ctx: &Ctx, theme: Theme) {
        if self.page == 1 {
            return self.draw_team(f, area, theme);
        }
        let Some(r) = &self.report else {
            f.render_widget(
                Paragraph::new("No confirmed items with model proposals yet: nothing to back-test.").block(Block::bordered().title(" Back-test ")),
                area,
            );
            return;
        };
        let [tables_area, status_area, chart_area] = Layout::vertical([Constraint::Length(9), Constraint::Length(3), Constraint::Min(6)]).areas(area);
        let [route_area, conf_area] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(tables_area);
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        let group_rows = |groups: &[crate::backtest::Group]| -> Vec<Row> {
            groups
                .iter()
                .filter(|g| g.accuracy.n > 0)
                .map(|g| Row::new(vec![g.name.clone(), g.accuracy.n.to_string(), pct(g.accuracy.llt_at_1), pct(g.accuracy.pt_at_1)]))
                .collect()
        };
        let widths = |name: u16| [Constraint::Min(name), Constraint::Length(5), Constraint::Length(6), Constraint::Length(6)];
        let routes = Table::new(group_rows(&r.by_route), widths(16))
            .header(Row::new(vec!["code found by", "items", "LLT@1", "PT@1"]).style(theme.title()))
            .block(Block::bordered().title(format!(" The model, where it was asked: {} items ", r.overall.n)));
        f.render_widget(routes, route_area);
        let brackets = Table::new(group_rows(&r.by_confidence), widths(9))
            .header(Row::new(vec!["PT conf.", "items", "LLT@1", "PT@1"]).style(theme.title()))
            .block(Block::bordered().title(" By PT confidence "));
        f.render_widget(brackets, conf_area);
        let c = &r.calibration;
        let status = vec![
            Line::raw(format!("Calibration error (ECE): PT {:.3}, LLT {:.3}", c.pt_ece, c.llt_ece)),
            Line::styled(r.validation.summary(), if r.validation.drifting() { theme.warn() } else { theme.dim() }),
        ];
        f.render_widget(Paragraph::new(status).wrap(ratatui::widgets::Wrap { trim: true }), status_area);
        let llt: Vec<(f64, f64)> = r.curve.iter().map(|&(c, l, _)| (c, l)).collect();
        let pt: Vec<(f64, f64)> = r.curve.iter().map(|&(c, _, p)| (c, p)).collect();
        let low: Vec<(f64, f64)> = r.curve.iter().zip(&r.band).map(|(&(c, _, _), &(l, _))| (c, l)).collect();
        let high: Vec<(f64, f64)> = r.curve.iter().zip(&r.band).map(|(&(c, _, _), &(_, h))| (c, h)).collect();
        let data = vec![
            Dataset::default().name("LLT accuracy").marker(symbols::Marker::Braille).graph_type(GraphType::Line).style(theme.fg(Color::Cyan)).data(&llt),
            Dataset::default().name("PT accuracy").marker(symbols::Marker::Braille).graph_type(GraphType::Line).style(theme.fg(Color::Red)).data(&pt),
            Dataset::default().name("PT 95% band").marker(symbols::Marker::Dot).graph_type(GraphType::Scatter).style(theme.dim()).data(&low),
            Dataset::default().marker(symbols::Marker::Dot).graph_type(GraphType::Scatter).style(theme.dim()).data(&high),
        ];
        // The axis titles and the legend's content are in the block's title: at 80x24 the chart has
        // four rows, where an axis title lies on the curve and no legend fits. On a taller screen
        // the legend shows too, low on the right, under the curve (accuracy stays high).
        let chart = Chart::new(data)
            .block(Block::bordered().title(" Accuracy (up) by coverage (across): LLT cyan, PT red, PT 95% band dotted "))
            .x_axis(Axis::default().bounds([0.0, 1.0]).labels(["0%", "50%", "100%"]))
            .y_axis(Axis::default().bounds([0.0, 1.0]).labels(["0%", "50%", "100%"]))
            .legend_position(Some(ratatui::widgets::LegendPosition::BottomRight))
            .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(100)));
        f.render_widget(chart, chart_area);
    }
}
