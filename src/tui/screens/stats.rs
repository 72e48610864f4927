//! Back-test statistics from the decision log: accuracy by uncertainty bracket and accuracy
//! against coverage.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::symbols;
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
        &["Accuracy of the model's top proposal against confirmed codes,", "by uncertainty bracket, and accuracy against coverage."]
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
}
