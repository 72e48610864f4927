//! Back-test statistics from the decision log: the model's accuracy by how each code was found
//! and by PT confidence, its calibration and validated threshold, and accuracy against coverage
//! with its confidence band.

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
use crate::tui::theme::Theme;

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Esc, KeyCode::Char('q')], Action::Back, "Esc", "back", "back to the queue"),
    Binding::new(&[KeyCode::Char('?')], Action::Help, "?", "", ""),
];

pub struct Stats {
    /// None while no confirmed item has model proposals.
    pub report: Option<Report>,
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
        Ok(if action == Action::Back { Cmd::Pop } else { Cmd::None })
    }

    fn draw(&self, f: &mut Frame, area: Rect, _ctx: &Ctx, theme: Theme) {
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
        let chart = Chart::new(data)
            .block(Block::bordered().title(" Accuracy against coverage (highest PT confidence first) "))
            .x_axis(Axis::default().title("coverage").bounds([0.0, 1.0]).labels(["0%", "50%", "100%"]))
            .y_axis(Axis::default().title("accuracy").bounds([0.0, 1.0]).labels(["0%", "50%", "100%"]));
        f.render_widget(chart, chart_area);
    }
}
