//! Drawing the desk: the active screen, the header, the message line, the prompt and help overlays.

use super::*;

impl App {
    pub fn draw(&self, f: &mut Frame, theme: Theme) {
        let area = f.area();
        self.last_size.set((area.width, area.height));
        if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
            let text = format!("terminal too small ({}x{} needed, this is {}x{}): enlarge it, or q to quit", MIN_SIZE.0, MIN_SIZE.1, area.width, area.height);
            f.render_widget(Paragraph::new(Span::styled(text, theme.warn())).wrap(Wrap { trim: true }), area);
            return;
        }
        let [header, body, message, footer] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(5), Constraint::Length(2), Constraint::Length(1)]).areas(f.area());
        self.draw_header(f, header, theme);
        self.active().draw(f, body, &self.ctx, theme);
        if let Some((p, text)) = &self.prompt {
            let shown = if *p == Prompt::Signature { "*".repeat(text.chars().count()) } else { text.clone() };
            let line = Line::from(vec![Span::styled(format!("{}: ", p.label()), theme.title()), Span::raw(shown), Span::styled("_", theme.selected())]);
            f.render_widget(Paragraph::new(line), message);
        } else if let Some((text, tone)) = &self.message {
            f.render_widget(Paragraph::new(Span::styled(text.clone(), theme.tone(*tone))).wrap(Wrap { trim: true }), message);
        }
        f.render_widget(Paragraph::new(Span::styled(action::footer(self.keymap()), theme.dim())), footer);
        if self.help {
            self.draw_help(f, theme);
        }
    }

    fn draw_header(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let c = &self.ctx;
        let who = c
            .desk
            .as_ref()
            .map(|d| format!("{}{} ({})", if d.demo { "DEMO " } else { "" }, d.user.name, d.user.role))
            .unwrap_or_else(|| "not signed in".into());
        let dict = c.desk.as_ref().map(|d| format!("MedDRA {}", d.dict.version)).unwrap_or_default();
        let engine = match &c.engine {
            EngineStatus::Loading => format!("model loading {}", spinner(c.tick)),
            EngineStatus::Ready(_) if !c.pending.is_empty() => format!("model: {} to propose {}", c.pending.len(), spinner(c.tick)),
            EngineStatus::Ready(_) => match &c.model_version {
                Some(m) if m.starts_with("zero-shot") => "model ready: zero-shot".into(),
                Some(m) => format!("model ready: {}", truncate(m, 28)),
                None => "model ready".into(),
            },
            EngineStatus::Failed(_) => "model unavailable".into(),
            EngineStatus::Stopped(_) => "model stopped".into(),
            EngineStatus::Off => "model off".into(),
        };
        let parts: Vec<String> = [who, dict, engine].into_iter().filter(|p| !p.is_empty()).collect();
        let line = Line::from(vec![Span::styled(" medcoder ", theme.title()), Span::raw(format!("│ {}", parts.join(" │ ")))]);
        f.render_widget(Paragraph::new(line), area);
    }

    fn draw_help(&self, f: &mut Frame, theme: Theme) {
        let area = f.area();
        let w = area.width.saturating_sub(8).min(76);
        // Above the footer and below the header: every key of the busiest screen fits at 80x24.
        let h = area.height.saturating_sub(2).min(22);
        let popup = Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h };
        let screen = self.active();
        let mut lines = vec![
            Line::raw("new -> proposed -> confirmed (or returned -> proposed); a query waits"),
            Line::raw("for the site's answer. A reviewer other than the proposer confirms."),
            Line::raw(""),
        ];
        lines.extend(action::help_lines(screen.keymap()).into_iter().map(Line::raw));
        lines.extend(screen.notes().iter().map(|s| Line::raw(*s)));
        lines.push(Line::raw(""));
        lines.push(Line::styled("Any key closes this help. Ctrl-C quits anywhere.", theme.dim()));
        f.render_widget(Clear, popup);
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(" Help ").title_style(theme.title())), popup);
    }
}
