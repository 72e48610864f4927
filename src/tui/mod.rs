//! The terminal coding desk (ratatui + crossterm). It talks to the `Desk` service and the
//! background proposal worker only.

pub mod app;
pub mod tree;
pub mod ui;

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use crossterm::event::{self, Event, KeyEventKind};

use crate::engine::worker;
use crate::store::Store;
use app::App;

/// Runs the desk until the user quits. The terminal is restored on exit and on panic.
pub fn run(db: &Path, user: Option<&str>, base: Option<&Path>) -> Result<()> {
    let store = Store::open(db)?;
    let version = store.active_version()?;
    let mut app = App::new(store, user)?;
    let db_path = db.to_path_buf();
    let base = base.map(Path::to_path_buf);
    let w = worker::spawn(db_path.clone(), move || {
        let store = Store::open(&db_path)?;
        // Built quietly: progress bars would scribble over the screen.
        crate::cli::load_engine(&store, version.as_deref(), base.as_deref(), false)
    });
    app.attach_worker(w.jobs.clone());
    let theme = ui::Theme::from_env();
    let mut terminal = ratatui::init();
    let result = (|| -> Result<()> {
        while !app.quit {
            terminal.draw(|f| ui::draw(f, &app, theme))?;
            if event::poll(Duration::from_millis(120))? {
                if let Event::Key(k) = event::read()? {
                    if k.kind == KeyEventKind::Press {
                        app.on_key(k);
                    }
                }
            }
            while let Ok(ev) = w.events.try_recv() {
                app.on_engine(ev);
            }
            app.tick = app.tick.wrapping_add(1);
        }
        Ok(())
    })();
    ratatui::restore();
    result
}
