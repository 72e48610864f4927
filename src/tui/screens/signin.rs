//! Sign-in: the user picks their name from the list.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, List, ListItem, ListState};
use ratatui::Frame;

use super::{moved, Cmd, Ctx, Screen, ScreenId};
use crate::store::api::DeskStore;
use crate::store::users::User;
use crate::tui::action::{Action, Binding};
use crate::tui::theme::Theme;

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Up], Action::Up, "↑↓", "choose", "choose your name"),
    Binding::hidden(&[KeyCode::Down], Action::Down),
    Binding::new(&[KeyCode::Enter], Action::Select, "Enter", "sign in", "sign in"),
    Binding::new(&[KeyCode::Char('q'), KeyCode::Esc], Action::Quit, "q", "quit", "quit"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "", ""),
];

pub struct SignIn {
    pub users: Vec<User>,
    pub sel: usize,
    store: Option<Box<dyn DeskStore>>,
}

impl SignIn {
    pub fn new(store: Box<dyn DeskStore>) -> Result<SignIn> {
        let users = store.users()?;
        if users.is_empty() {
            anyhow::bail!("no users yet: add one with `medcoder user add NAME --role coder|reviewer|admin`");
        }
        Ok(SignIn { users, sel: 0, store: Some(store) })
    }
}

impl Screen for SignIn {
    fn id(&self) -> ScreenId {
        ScreenId::SignIn
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn perform(&mut self, action: Action, _ctx: &mut Ctx) -> Result<Cmd> {
        if let Some(s) = moved(self.sel, self.users.len(), action) {
            self.sel = s;
            return Ok(Cmd::None);
        }
        Ok(match action {
            Action::Select => match (self.store.take(), self.users.get(self.sel)) {
                (Some(store), Some(u)) => Cmd::SignIn { store, user: u.name.clone() },
                _ => Cmd::None,
            },
            _ => Cmd::None,
        })
    }

    fn draw(&self, f: &mut Frame, area: Rect, _ctx: &Ctx, theme: Theme) {
        let items: Vec<ListItem> = self.users.iter().map(|u| ListItem::new(format!("{:<20} {}", u.name, u.role))).collect();
        let mut st = ListState::default().with_selected(Some(self.sel));
        let list = List::new(items)
            .block(Block::bordered().title(" Sign in: who are you? (DEMO database: users are picked, nothing is signed) "))
            .highlight_style(theme.selected());
        f.render_stateful_widget(list, area, &mut st);
    }
}
