//! Team mode on the command line: `--db postgres://...`. Setting up a team database, and the
//! commands of the coding workflow against it; the database checks every rule (store/postgres).

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::coding::{AuditCmd, QueueCmd};
use super::dict::DictCmd;
use super::synonym::SynonymCmd;
use super::{Cli, Command};
use crate::intake::queue as intake;
use crate::meddra::{Dictionary, Release};
use crate::store::item::State;
use crate::store::log::Verdict;
use crate::store::postgres::{self, TeamStore};
use crate::store::workflow::Action;
use crate::text::printable as p;

#[derive(Subcommand, Debug)]
pub enum TeamCmd {
    /// Create the team database named by --db (postgres://...), its roles, schema and grants. Run it as
    /// the server's administrator (e.g. `sudo -u postgres medcoder --db postgresql:///coding team init`).
    Init,
    /// Bring a team database made by an older medcoder to this one's schema (the rules are replaced
    /// in place; data untouched). Run it as the server's administrator, once.
    Upgrade,
    /// Team users (login roles of the database server).
    #[command(subcommand)]
    User(TeamUserCmd),
}

#[derive(Subcommand, Debug)]
pub enum TeamUserCmd {
    /// Add a user, or change their role: a login role NAME with medcoder role coder, reviewer or admin.
    /// Without --set-password NAME signs in by peer authentication only (the OS login NAME on the
    /// server's machine); with it, also by password over TCP (remote desks).
    Add {
        name: String,
        #[arg(long)]
        role: String,
        /// Ask for NAME's password (terminal, or one line of standard input with --password-stdin).
        #[arg(long)]
        set_password: bool,
    },
}

pub fn dispatch(cli: Cli, url: &str) -> Result<ExitCode> {
    if cli.user.is_some() {
        bail!("in team mode you act as the database role you connect as (the URL's user, else your OS login); --user and MEDCODER_USER are not used");
    }
    let mut passwords = crate::identity::Passwords::new(cli.password_stdin);
    let mut ask = |prompt: &str| passwords.read(prompt);
    let Some(command) = cli.command else {
        crate::tui::run_team(url, &mut ask, None, cli.precision, cli.no_model)?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Team(TeamCmd::Init) => {
            let db = database_of(url)?;
            let mut admin = postgres::connect(&maintenance_url(url), &mut ask)?;
            postgres::create_database(&mut admin, &db)?;
            drop(admin);
            let mut client = postgres::connect(url, &mut ask)?;
            postgres::init(&mut client, &db)?;
            println!("Team database {db} is ready. Add users with `medcoder --db {} team user add NAME --role coder|reviewer|admin`.", postgres::redact(url));
        }
        Command::Team(TeamCmd::Upgrade) => {
            let db = database_of(url)?;
            let mut client = postgres::connect(url, &mut ask)?;
            println!("{}", postgres::upgrade(&mut client, &db)?);
        }
        Command::Team(TeamCmd::User(TeamUserCmd::Add { name, role, set_password })) => {
            let db = database_of(url)?;
            let mut client = postgres::connect(url, &mut ask)?;
            let password = if set_password {
                let pw = ask(&format!("New password for {name}: "))?;
                if pw.chars().count() < 8 {
                    bail!("a password needs at least 8 characters");
                }
                Some(pw)
            } else {
                None
            };
            postgres::add_user(&mut client, &db, &name, &role, password.as_deref())?;
            println!("{name} is now {} {role} of team database {db}.", if role == "admin" { "an" } else { "a" });
        }
        Command::Dict(DictCmd::Import { dir, .. }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let (rel, report) = Release::read(&dir).map_err(anyhow::Error::from).context("the release was not imported; the database is unchanged")?;
            let dict = Dictionary::new(&rel);
            let n = store.import_dictionary(&dict, &release_files(&report.dir)?)?;
            println!("Imported MedDRA {} ({n} LLTs) into the team database; active version: {}", dict.version, dict.version);
        }
        Command::Dict(DictCmd::Versions) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            for (v, active) in store.versions()? {
                println!("{} {}", if active { "*" } else { " " }, p(&v));
            }
        }
        Command::Dict(DictCmd::Search { text, limit, version }) => {
            let dict = TeamStore::open(url, &mut ask)?.dictionary(version.as_deref())?;
            return Ok(super::dict::search(&dict, &text.join(" "), limit));
        }
        Command::Dict(DictCmd::Show { code, version }) => {
            let dict = TeamStore::open(url, &mut ask)?.dictionary(version.as_deref())?;
            print!("{}", super::dict::show(&dict, code)?);
        }
        Command::Dict(DictCmd::Diff { old, new, json }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let d = crate::meddra::diff::diff(&store.dictionary(Some(&old))?, &store.dictionary(Some(&new))?);
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                for line in crate::meddra::diff::render(&d).lines() {
                    println!("{}", p(line));
                }
            }
        }
        Command::User(super::coding::UserCmd::Passwd { name: None }) => {
            // One's own password: the current one first (an unlocked terminal must not be enough),
            // checked by the server; the server then gets only the new SCRAM verifier.
            let desk = postgres::TeamDesk::open(url, &mut ask)?;
            let me = desk.user_name();
            let current = ask(&format!("Current password for {me}: "))?;
            crate::store::api::DeskStore::check_signature(&desk, &me, &current)?;
            let new = ask(&format!("New password for {me}: "))?;
            if new.chars().count() < 8 {
                bail!("a password needs at least 8 characters");
            }
            if ask("Repeat the new password: ")? != new {
                bail!("the two new passwords differ; nothing was changed");
            }
            TeamStore::open(url, &mut |_| Ok(current.clone()))?.set_own_password(&new)?;
            println!("Password changed for {me}.");
        }
        Command::User(super::coding::UserCmd::List) => {
            for (name, role, created) in TeamStore::open(url, &mut ask)?.users()? {
                println!("{:<24} {:<9} added {}", p(&name), role, created.get(..10).unwrap_or(&created));
            }
        }
        Command::Synonym(SynonymCmd::List { conflicts: false, json }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let dict = store.dictionary(None)?;
            let list = store.synonyms_where("meddra_version = $1 ORDER BY term", &[&dict.version])?;
            super::synonym::print_list(&list, &dict, json)?;
        }
        Command::Synonym(SynonymCmd::Export { out }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let dict = store.dictionary(None)?;
            let list = store.synonyms_where("meddra_version = $1 ORDER BY term", &[&dict.version])?;
            super::synonym::export(list, &dict, out)?;
        }
        Command::Synonym(SynonymCmd::Import { file }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let dict = store.dictionary(None)?;
            let rows = crate::intake::labelled::read_labelled(&file)?;
            // The whole file is checked first (line-numbered errors); the database checks each row again.
            let rows = crate::store::synonyms::check_list(&dict, &rows, &file.display().to_string())?;
            let n = store.import_synonyms(&rows, &file.display().to_string())?;
            println!("Imported {n} synonym(s) for MedDRA {} from {}", p(&dict.version), p(&file.display().to_string()));
        }
        Command::Settings(super::coding::SettingsCmd::Show) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            println!("autocode-confirm  {}", store.setting("autocode_confirm")?.unwrap_or_else(|| "off".into()));
            println!("active MedDRA     {}", store.active_version()?.unwrap_or_else(|| "-".into()));
            println!("anchor file       {} (this machine)", postgres::anchor_file(url)?.display());
        }
        Command::Settings(super::coding::SettingsCmd::AutocodeConfirm { value }) => {
            let on = matches!(value, super::coding::OnOff::On);
            TeamStore::open(url, &mut ask)?.set_autocode_confirm(on)?;
            println!("autocode-confirm set to {}", if on { "on" } else { "off" });
        }
        Command::Synonym(SynonymCmd::Retire { term }) => {
            let s = TeamStore::open(url, &mut ask)?.retire_synonym(&term.join(" "))?;
            println!("Retired the synonym '{}' -> {}: it no longer autocodes.", p(&s.term), s.llt_code);
        }
        Command::Data(super::coding::DataCmd::ExportTraining { out }) => {
            let pairs = crate::store::ProposalStore::confirmed_pairs(&mut TeamStore::open(url, &mut ask)?)?;
            super::coding::write_training_pairs(&pairs, out)?;
        }
        Command::Propose { all, base, model } => {
            return super::model::propose(Box::new(TeamStore::open(url, &mut ask)?), all, base.as_deref(), model.as_deref(), cli.precision);
        }
        Command::Train { data, synonyms, version, base, members, epochs, xtars_epochs, batch, max_steps, seed, fp32 } => {
            let args = super::model::TrainArgs { data, synonyms, version, base, members, epochs, xtars_epochs, batch, max_steps, seed, fp32 };
            return super::model::train(Box::new(TeamStore::open(url, &mut ask)?), args);
        }
        Command::Predict { text, base, version, model } => {
            let store = Box::new(TeamStore::open(url, &mut ask)?);
            return super::model::predict(store, &text.join(" "), base.as_deref(), version.as_deref(), model.as_deref(), cli.precision);
        }
        Command::Eval { file, train, version, base, model, components, json, replay, plot } => {
            let args = super::model::EvalArgs { file, train, version, base, model, components, json, replay, plot, precision: cli.precision };
            return super::model::eval(Box::new(TeamStore::open(url, &mut ask)?), args);
        }
        Command::ServeProposals { poll, once, base, model } => {
            // A service reconnects after the database restarts: the password is asked once.
            let cached = std::cell::RefCell::new(None::<String>);
            let asker = std::cell::RefCell::new(&mut ask);
            let open = || -> Result<Box<dyn crate::store::ProposalStore>> {
                let mut once_ask = |prompt: &str| -> Result<String> {
                    if let Some(pw) = cached.borrow().clone() {
                        return Ok(pw);
                    }
                    let pw = (asker.borrow_mut())(prompt)?;
                    *cached.borrow_mut() = Some(pw.clone());
                    Ok(pw)
                };
                Ok(Box::new(TeamStore::open(url, &mut once_ask)?))
            };
            return super::model::serve_on(&open, base.as_deref(), model.as_deref(), cli.precision, once, poll);
        }
        Command::Queue(QueueCmd::Import { file }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let (items, bad, ignored) = intake::read_file(&file)?;
            let (imported, skipped) = store.import_items(&items, &file.display().to_string())?;
            println!("Imported {imported} item(s) from {} ({skipped} already queued)", p(&file.display().to_string()));
            if let Some(code) = super::coding::report_rejected(&bad, &ignored) {
                return Ok(code);
            }
        }
        Command::Queue(QueueCmd::Show { id }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let it = store.item(&id)?;
            println!("{}  [{}]  revision {}", p(&it.external_id), it.state, it.revision);
            println!("  reported term  {}", p(&it.reported_term));
            if let Some(c) = it.llt_code {
                println!("  code           LLT {c} (PT {}), MedDRA {}", it.pt_code.unwrap_or_default(), p(it.meddra_version.as_deref().unwrap_or("")));
            }
            for (what, v) in [("proposer", &it.proposer), ("reviewer", &it.reviewer), ("comment", &it.comment)] {
                if let Some(v) = v {
                    println!("  {what:<14} {}", p(v));
                }
            }
            if let Some(set) = store.proposals(it.id)? {
                println!("  proposals      {} (MedDRA {})", p(&set.model_version), p(&set.meddra_version));
                for (i, pr) in set.proposals.iter().enumerate() {
                    let name = store.llt_name(&set.meddra_version, pr.llt_code)?.unwrap_or_default();
                    println!("    {}. LLT {} {}  (PT {})  {:.0}%", i + 1, pr.llt_code, p(&name), pr.pt_code, pr.confidence * 100.0);
                }
            }
        }
        Command::Export { format, out, study, from, to, state } => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let states = super::coding::export_states(&state)?;
            let items: Vec<_> = store.items(None)?.into_iter().filter(|i| states.contains(&i.state) && study.as_ref().is_none_or(|s| *s == i.study)).collect();
            let head = store.log_head()?;
            return super::coding::export_items(&items, head, &mut |v| store.dictionary(Some(v)).ok(), format, out, from, to);
        }
        Command::Backtest { json, plot, model } => {
            let desk = postgres::TeamDesk::open(url, &mut ask)?;
            return super::coding::backtest_report(&crate::store::api::DeskStore::backtest_cases(&desk, model.as_deref())?, json, plot);
        }
        Command::CodeGroup { term, llt, source } => {
            let mut desk = postgres::TeamDesk::open(url, &mut ask)?;
            let me = desk.user_name();
            return super::synonym::code_group_on(&mut desk, &me, &term, llt, source.into());
        }
        Command::ConfirmGroup { term, llt } => {
            let mut desk = postgres::TeamDesk::open(url, &mut ask)?;
            let me = desk.user_name();
            return super::synonym::confirm_group_on(&mut desk, &me, &term, llt);
        }
        Command::Audit(AuditCmd::Anchor { file }) => {
            let desk = postgres::TeamDesk::open(url, &mut ask)?;
            let file = match file {
                Some(f) => f,
                None => postgres::anchor_file(url)?,
            };
            match crate::store::api::DeskStore::anchor_to(&desk, &file)? {
                Some(h) => {
                    println!("{}", h.line());
                    eprintln!("Anchored in {} (keep a copy where whoever administers the database server cannot write).", file.display());
                }
                None => println!("The decision log is empty: nothing to anchor."),
            }
        }
        Command::Queue(QueueCmd::List { state, study, text, json }) => {
            let desk = postgres::TeamDesk::open(url, &mut ask)?;
            let states = match state {
                Some(s) => s.split(',').map(State::parse).collect::<Result<Vec<_>>>()?,
                None => vec![],
            };
            let version = desk.store_mut().active_version()?.unwrap_or_default();
            let rows = crate::store::api::DeskStore::queue_rows(&desk, &crate::store::item::ItemFilter { states, study, text }, &version)?;
            for (it, _) in rows {
                if json {
                    println!("{}", serde_json::to_string(&serde_json::json!({"id": it.external_id, "study": it.study, "subject": it.subject, "reported_term": it.reported_term, "state": it.state, "llt_code": it.llt_code}))?);
                } else {
                    let code = it.llt_code.map(|c| format!("= {c}")).unwrap_or_default();
                    println!("{:<10} {:<10} {:<10} {:<8} {} {code}", p(&it.external_id), it.state.as_str(), p(&it.study), p(&it.subject), p(&it.reported_term));
                }
            }
        }
        Command::Recode { id, llt, comment, source, rev } => return act(url, &mut ask, &id, rev, Action::Recode { llt, source: source.into(), comment }),
        Command::RecodeCheck => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let dict = store.dictionary(None)?;
            let list = crate::store::reports::recode_candidates(store.items(Some(State::Confirmed))?, &dict);
            let synonyms = store.synonyms_where("meddra_version = $1 ORDER BY term", &[&dict.version])?;
            return super::coding::print_recode_check(&list, synonyms, &dict);
        }
        Command::Dict(DictCmd::Use { version }) => {
            TeamStore::open(url, &mut ask)?.use_version(&version)?;
            println!("Active MedDRA version: {}", p(&version));
        }
        Command::Code { id, llt, source, rev } => return act(url, &mut ask, &id, rev, Action::Propose { llt, source: source.into() }),
        Command::Confirm { id, rev } => return act(url, &mut ask, &id, rev, Action::Confirm),
        Command::Return { id, comment, rev } => return act(url, &mut ask, &id, rev, Action::Return { comment }),
        Command::Query { id, note, rev } => return act(url, &mut ask, &id, rev, Action::Query { note }),
        Command::Audit(AuditCmd::Verify { anchors }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            let verdict = store.verify_log()?;
            let mut ok = true;
            for (what, v) in [("Log copied from SQLite", verdict.imported), ("Decision log", Some(verdict.own))] {
                match v {
                    Some(Verdict::Intact { rows }) => println!("{what} intact: {rows} rows, hash chain verified."),
                    Some(Verdict::Broken { seq, reason }) => {
                        println!("{what} BROKEN at row {seq}: {reason}.");
                        ok = false;
                    }
                    None => {}
                }
            }
            // Anchors: the file named, else the one this machine's desks keep.
            let anchors = match anchors {
                Some(f) => Some(f),
                None => Some(postgres::anchor_file(url)?).filter(|f| f.exists()),
            };
            if let Some(file) = anchors {
                let bad = store.check_anchors(&file)?;
                if bad.is_empty() {
                    println!("Every head anchored in {} is in the chain.", file.display());
                } else {
                    ok = false;
                    for b in &bad {
                        println!("ANCHOR MISMATCH {}", p(b));
                    }
                }
            }
            let copied = store.check_copied_anchors()?;
            if !copied.is_empty() {
                ok = false;
                for b in &copied {
                    println!("ANCHOR MISMATCH {}", p(b));
                }
            }
            ok &= super::coding::report_findings(&store.state_findings()?, "Queue, users' roles and the active MedDRA version", "the rules");
            if !ok {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Audit(AuditCmd::Log { item, json }) => {
            let mut store = TeamStore::open(url, &mut ask)?;
            for e in store.log(item.as_deref())? {
                if json {
                    println!("{}", serde_json::to_string(&e)?);
                } else {
                    let code = e.llt_code.map(|c| c.to_string()).unwrap_or_default();
                    let item = e.external_id.as_deref().map(p).unwrap_or_default();
                    let comment = e.comment.as_deref().map(p).unwrap_or_default();
                    println!("{:>6} {} {:<10} {:<9} {:<10} {:<9} {}", e.seq, e.at, p(&e.user), e.action, item, code, comment);
                }
            }
        }
        other => bail!(
            "not available on a team database yet: {}. Team mode runs the desk, team init, team user add, user list/passwd, db copy, dict import/use/versions/search/show/diff, queue import/list/show, code, code-group, confirm, confirm-group, return, query, recode, recode-check, synonym list/export/import/retire, settings show/autocode-confirm, export, backtest, data export-training, train, predict, eval, propose, serve-proposals and audit verify/log/anchor",
            command_name(&other)
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// `medcoder db copy --from sqlite:FILE --to postgres://...`, as the server's administrator.
pub fn copy(from: &str, to: &str, password_stdin: bool) -> Result<ExitCode> {
    let path = crate::store::target::Target::sqlite_source(from)?;
    let file = path.to_str().unwrap_or(from);
    if !matches!(crate::store::target::Target::parse(std::path::Path::new(to))?, crate::store::target::Target::Postgres(_)) {
        bail!("--to must be a team database: postgres://... (made by `team init`)");
    }
    if !std::path::Path::new(file).exists() {
        bail!("{file}: no such SQLite database");
    }
    let store = crate::store::Store::open(std::path::Path::new(file))?;
    // A demo database lets anyone act as anyone: its log is nobody's signature.
    if store.is_demo()? {
        bail!("{file} is a demo database (users picked from a list, nothing signed): it cannot become a team's store");
    }
    let mut passwords = crate::identity::Passwords::new(password_stdin);
    let mut client = postgres::connect(to, &mut |prompt| passwords.read(prompt))?;
    let db = database_of(to)?;
    let r = postgres::copy_from_sqlite(&mut client, &db, &store, file)?;
    println!(
        "Copied {file} into team database {db}: {} users, {} items, {} log rows (chain verified before and after), {} synonyms, {} LLTs of MedDRA {}.",
        r.users,
        r.items,
        r.log_rows,
        r.synonyms,
        r.llts,
        r.version.as_deref().unwrap_or("(none)")
    );
    println!("{} anchor(s) of the SQLite store were checked and recorded: `audit verify` keeps checking the copied log against them.", r.anchors);
    if r.escaped > 0 {
        println!(
            "{} item field(s) held control or format characters (an older medcoder let them in): they were copied escaped (\\x.., \\u{{..}}); the copied log keeps the exact text.",
            r.escaped
        );
    }
    println!(
        "Users sign in by peer authentication; for remote desks give each a password: `medcoder --db {} team user add NAME --role ROLE --set-password`.",
        postgres::redact(to)
    );
    Ok(ExitCode::SUCCESS)
}

fn act(url: &str, ask: &mut dyn FnMut(&str) -> Result<String>, id: &str, rev: Option<i64>, action: Action) -> Result<ExitCode> {
    let mut store = TeamStore::open(url, ask)?;
    let it = store.act(id, rev, &action)?;
    let code = it.llt_code.map(|c| format!(" — LLT {c}")).unwrap_or_default();
    println!("{} is now {} (revision {}){code}", p(&it.external_id), it.state, it.revision);
    Ok(ExitCode::SUCCESS)
}

/// The files of a MedAscii folder, as `dict import` uploads them.
fn release_files(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = e?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if path.is_file() && name.to_ascii_lowercase().ends_with(".asc") {
            files.push((name, std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?));
        }
    }
    Ok(files)
}

/// The first words of a command, for the message that it is not available in team mode.
fn command_name(c: &Command) -> String {
    let debug = format!("{c:?}");
    // `RecodeCheck` reads "recode check", `Dict(Versions)` "dict versions".
    let spaced: String = debug.chars().flat_map(|ch| if ch.is_uppercase() { vec![' ', ch] } else { vec![ch] }).collect();
    spaced.split(|ch: char| !ch.is_alphanumeric()).filter(|w| !w.is_empty()).take(2).collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The database a URL names (its path, else libpq's default: the user's name).
fn database_of(url: &str) -> Result<String> {
    let config: ::postgres::Config = url.parse().with_context(|| format!("{}: not a PostgreSQL connection URL", postgres::redact(url)))?;
    match config.get_dbname().or(config.get_user()) {
        Some(db) => Ok(db.to_string()),
        None => bail!("{}: name the database (postgres://host/DATABASE)", postgres::redact(url)),
    }
}

/// The same server's maintenance database `postgres`, where CREATE DATABASE runs.
fn maintenance_url(url: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let root = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/postgres?{q}"),
        None => format!("{root}/postgres"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_url_keeps_host_and_options() {
        assert_eq!(maintenance_url("postgres://admin@db.example:5433/coding?host=/run/pg"), "postgres://admin@db.example:5433/postgres?host=/run/pg");
        assert_eq!(maintenance_url("postgresql:///coding"), "postgresql:///postgres");
        assert_eq!(database_of("postgresql:///coding?host=/tmp").unwrap(), "coding");
    }
}
