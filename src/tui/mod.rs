//! The terminal coding desk (ratatui + crossterm). It talks to the `Desk` service and the
//! background proposal worker only: `app` holds what the screens share, `screens/` one file per
//! screen, `action` the one keymap.

pub mod action;
pub mod app;
pub mod screens;
pub mod theme;
pub mod tree;
pub mod widgets;

use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use anyhow::Result;
use crossterm::event::{self, Event, KeyEventKind};

use crate::engine::worker::{self, WorkerEvent};
use crate::engine::Engine;
use crate::model::precision::Precision;
use crate::store::api::DeskStore;
use crate::store::{ProposalStore, Store};
use app::App;

/// Runs the desk until the user quits. The terminal is restored on exit and on panic.
pub fn run(db: &Path, user: Option<&str>, base: Option<&Path>, precision: Precision, no_model: bool) -> Result<()> {
    let store = Store::open(db)?;
    // Only a demo database offers a list of users; elsewhere the desk is the authenticated user's.
    if user.is_none() && !store.is_demo()? {
        anyhow::bail!(
            "no medcoder user is bound to your OS login ({}): pass --user NAME (it asks for NAME's password), or ask an admin to bind your login (`user add NAME --login LOGIN`)",
            crate::identity::os_login()?
        );
    }
    let version = store.active_version()?;
    let app = App::new(Box::new(store), user)?;
    let runner = user.map(String::from);
    let db_path = db.to_path_buf();
    let base = base.map(Path::to_path_buf);
    // With a proposal service elsewhere the desk loads no model: it shows what the service stored.
    let w = (!no_model).then(|| {
        worker::spawn(move || {
            let mut store = Store::open(&db_path)?;
            store.run_as(runner.as_deref());
            // Built quietly: progress bars would scribble over the screen.
            let dict = store.dictionary_or_active(version.as_deref())?;
            let engine = Engine::builder(dict).base_dir(base.as_deref()).memory(&mut store).precision(precision).build()?;
            Ok((engine, Box::new(store) as Box<dyn ProposalStore>))
        })
    });
    run_app(app, w)
}

/// The desk on a team database (`--db postgres://...`), as its connection's user.
pub fn run_team(url: &str, password: &mut dyn FnMut(&str) -> Result<String>, base: Option<&Path>, precision: Precision, no_model: bool) -> Result<()> {
    let desk_store = crate::store::postgres::TeamDesk::open(url, password)?;
    let user = desk_store.user_name();
    let credentials = desk_store.credentials();
    // Only the proposal service and admins may store proposals (a coder could otherwise present
    // their own code as the model's choice): other desks show what the service stored.
    let no_model = no_model || desk_store.user(&user)?.role != crate::store::users::Role::Admin;
    let app = App::new(Box::new(desk_store), Some(&user))?;
    let base = base.map(Path::to_path_buf);
    let url = url.to_string();
    let w = (!no_model).then(|| {
        worker::spawn(move || {
            let mut store = crate::store::postgres::TeamStore::open(&url, &mut |_| credentials.clone().ok_or_else(|| anyhow::anyhow!("no password")))?;
            let dict = store.dictionary(None)?;
            let engine = Engine::builder(dict).base_dir(base.as_deref()).memory(&mut store).precision(precision).build()?;
            Ok((engine, Box::new(store) as Box<dyn ProposalStore>))
        })
    });
    run_app(app, w)
}

fn run_app(mut app: App, w: Option<worker::Worker>) -> Result<()> {
    match &w {
        Some(w) => app.attach_worker(w.jobs.clone()),
        None => app.say("No local model: proposals come from the proposal service (r reloads the queue)", theme::Tone::Info),
    }
    let theme = theme::Theme::from_env();
    let mut terminal = ratatui::init();
    quiet_worker_panics();
    let result = (|| -> Result<()> {
        while !app.quit {
            terminal.draw(|f| app.draw(f, theme))?;
            if event::poll(Duration::from_millis(120))? {
                if let Event::Key(k) = event::read()? {
                    if k.kind == KeyEventKind::Press {
                        app.on_key(k);
                    }
                }
            }
            if let Some(w) = &w {
                drain_worker(&mut app, &w.events);
            }
            app.tick();
        }
        Ok(())
    })();
    ratatui::restore();
    // The session's last decisions are anchored outside the database (issue #11).
    if let Some(desk) = app.ctx.desk.as_ref() {
        if let Err(e) = desk.anchor() {
            eprintln!("warning: the decision log head was not anchored: {e:#}");
        }
    }
    result
}

/// Hands the app what the worker reported; a closed channel means the worker is gone.
pub fn drain_worker(app: &mut App, events: &Receiver<WorkerEvent>) {
    loop {
        match events.try_recv() {
            Ok(ev) => app.on_engine(ev),
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => {
                app.on_engine_stopped("the proposal worker ended unexpectedly".into());
                return;
            }
        }
    }
}

/// The worker catches its own panics and reports them on screen; the default hook (and
/// ratatui's, which restores the terminal) must not run for them while the desk goes on.
fn quiet_worker_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() != Some(worker::THREAD_NAME) {
            previous(info);
        }
    }));
}
