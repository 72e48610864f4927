//! Styles and small text helpers shared by the screens. Works without colour (NO_COLOR): every
//! distinction is also bold, reversed, dimmed or struck through.

use ratatui::style::{Color, Modifier, Style};

use crate::store::item::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

/// Styles that fall back to bold/reverse/dim when colour is off (NO_COLOR).
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme { color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }
    pub fn fg(&self, c: Color) -> Style {
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
    /// Non-current LLTs: shown, never selectable.
    pub fn non_current(&self) -> Style {
        self.dim().add_modifier(Modifier::CROSSED_OUT)
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
            State::Answered => self.fg(Color::Cyan),
            State::Split | State::Void => self.fg(Color::DarkGray),
            State::Confirmed => self.fg(Color::Green),
        }
    }
}

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// The spinner frame for a redraw tick.
pub fn spinner(tick: u64) -> &'static str {
    SPINNER[(tick % 4) as usize]
}

/// A confidence bar of `width` cells and the percentage.
pub fn confidence_bar(confidence: f64, width: usize) -> String {
    let filled = ((confidence.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{} {:>3.0}%", "#".repeat(filled), ".".repeat(width - filled), 100.0 * confidence)
}

pub use crate::text::truncate;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_cuts() {
        assert_eq!(confidence_bar(0.5, 10), "#####.....  50%");
        assert_eq!(confidence_bar(1.7, 4), "#### 170%");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
