//! Workflow commands: users, queue, propose/confirm/return/query/recode, audit, export, back-test.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;

use crate::intake::queue as intake;
use crate::meddra::Dictionary;
use crate::store::audit::Head;
use crate::store::item::{Item, ItemFilter, State};
use crate::store::log::Verdict;
use crate::store::users::Role;
use crate::store::workflow::{Action, Source};
use crate::store::Store;
use crate::text::printable as p;

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add a user (the first user may be added by anyone; after that an admin must).
    Add {
        name: String,
        /// coder, reviewer or admin.
        #[arg(long)]
        role: String,
        /// The OS login this user acts from (default: the same name; for the first user, your own login).
        #[arg(long)]
        login: Option<String>,
    },
    /// Set your password (or, as an admin, reset another user's); read from the terminal or --password-stdin.
    Passwd { name: Option<String> },
    /// List users, their roles and OS logins.
    List,
    /// Lift the lock on a user's signatures after repeated wrong passwords (admin; logged).
    Unlock { name: String },
}

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Import reported terms from CSV (header row) or JSON Lines (.jsonl).
    Import { file: PathBuf },
    /// List items, optionally filtered.
    List {
        /// Comma-separated states: new, proposed, returned, query, confirmed.
        #[arg(long)]
        state: Option<String>,
        /// Only items of this study.
        #[arg(long)]
        study: Option<String>,
        /// Text in the id, term or subject.
        #[arg(long)]
        text: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One item: its context, current code, the model's proposals and its history.
    Show { id: String },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recompute the decision log's hash chain, rebuild the queue, users and team settings from it
    /// and compare them with the tables, and check anchored heads; names each finding.
    Verify {
        /// An anchor file (default: the team's, see `audit anchor`); every head in it must still be in the chain.
        #[arg(long)]
        anchors: Option<PathBuf>,
    },
    /// Print the log head (seq, hash, time) and append it to the anchor file (keep a copy elsewhere).
    Anchor {
        /// The anchor file (default: the team setting anchor-file, else <database>.anchors).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Print the decision log (all of it, or one item's).
    Log {
        /// Only this item's decisions.
        #[arg(long)]
        item: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum DataCmd {
    /// Write confirmed (reported term, LLT) pairs, newest decision per normalised term, as CSV.
    ExportTraining {
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// Show the team settings.
    Show,
    /// Confirm rule-autocoded items without review (on) or send them to review (off, default). Admins only.
    AutocodeConfirm { value: OnOff },
    /// Where `audit anchor` and the desk append log heads (default: <database>.anchors). Admins only.
    AnchorFile { path: PathBuf },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Format {
    Csv,
    Jsonl,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SourceArg {
    Model,
    Search,
    Browse,
    Manual,
}

impl From<SourceArg> for Source {
    fn from(s: SourceArg) -> Source {
        match s {
            SourceArg::Model => Source::Model,
            SourceArg::Search => Source::Search,
            SourceArg::Browse => Source::Browse,
            SourceArg::Manual => Source::Manual,
        }
    }
}

pub(super) fn need_user(user: Option<&str>) -> Result<&str> {
    user.filter(|u| !u.is_empty()).context(
        "this action is done as a user, and no medcoder user is bound to your OS login: pass --user NAME (it asks for NAME's password), or ask an admin to bind your login (`user add NAME --login LOGIN`)",
    )
}

pub fn user(cmd: UserCmd, db: &Path, acting: Option<&str>, passwords: &mut crate::identity::Passwords) -> Result<ExitCode> {
    let mut store = Store::open(db)?;
    match cmd {
        UserCmd::Add { name, role, login } => {
            for (what, v) in [("user name", Some(&name)), ("OS login", login.as_ref())] {
                if let Some(c) = v.and_then(|v| crate::text::forbidden_char(v)) {
                    bail!("the {what} contains the control character U+{:04X}", c as u32);
                }
            }
            // The first user is whoever sets medcoder up: bound to their own OS login by default.
            let login = match login {
                Some(l) => Some(l),
                None if store.users()?.is_empty() && !store.is_demo()? => Some(crate::identity::os_login()?),
                None => None,
            };
            store.add_user_with_login(acting, &name, Role::parse(&role)?, login.as_deref())?;
            let u = store.user(&name)?;
            println!("Added user {} ({role}), OS login {}; set a password with `medcoder user passwd {}`", u.name, u.login, u.name);
        }
        UserCmd::Passwd { name } => {
            let me = need_user(acting)?;
            let target = store.user(name.as_deref().unwrap_or(me))?.name;
            // Changing one's own password needs the current one: an unlocked terminal must not be
            // enough to take over somebody's signature.
            if target == me && store.user(me)?.has_password && !store.is_demo()? {
                let current = passwords.read(&format!("Current password for {me}"))?;
                crate::identity::check_password(&store, me, &current, "password change")?;
            }
            let pw = passwords.read(&format!("New password for {target}"))?;
            if !passwords.from_stdin() && passwords.read(&format!("New password for {target}, again"))? != pw {
                bail!("the two passwords differ; nothing changed");
            }
            store.set_password(me, &target, &crate::identity::hash_password(&pw)?)?;
            println!("Password of {target} set.");
        }
        UserCmd::Unlock { name } => {
            let me = need_user(acting)?;
            let failed = store.unlock_signatures(me, &name)?;
            println!("{} unlocked ({failed} wrong password(s) since their last signature); logged.", p(&name));
        }
        UserCmd::List => {
            for u in store.users()? {
                println!(
                    "{:<16} {:<9} login {:<12} {} added {}",
                    p(&u.name),
                    u.role,
                    p(&u.login),
                    if u.has_password { "password set" } else { "no password " },
                    u.created_at
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn queue(cmd: QueueCmd, db: &Path, acting: Option<&str>) -> Result<ExitCode> {
    let mut store = Store::open(db)?;
    match cmd {
        QueueCmd::Import { file } => {
            let user = need_user(acting)?;
            store.user(user)?;
            let (items, bad, ignored) = intake::read_file(&file)?;
            let report = store.import_items(user, &items, &file.display().to_string())?;
            println!(
                "Imported {} item(s) from {} ({} coded by the exact-name rule, {} from the synonym list)",
                report.imported,
                p(&file.display().to_string()),
                report.autocoded,
                report.by_synonym
            );
            for d in &report.duplicates {
                println!("  skipped line {}: {}", d.line, d.reason);
            }
            if let Some(code) = report_rejected(&bad, &ignored) {
                return Ok(code);
            }
        }
        QueueCmd::List { state, study, text, json } => {
            let states = match state {
                Some(s) => s.split(',').map(State::parse).collect::<Result<Vec<_>>>()?,
                None => vec![],
            };
            let items = store.items(&ItemFilter { states, study, text })?;
            if json {
                for it in &items {
                    println!("{}", serde_json::to_string(it)?);
                }
            } else {
                let counts: Vec<String> = store.state_counts()?.iter().map(|(s, n)| format!("{s} {n}")).collect();
                println!("{}", counts.join(" | "));
                for it in &items {
                    println!("{:<10} {:<10} {:<9} {:<8} {}", p(&it.external_id), it.state, p(&it.study), p(&it.subject), p(&it.reported_term));
                }
            }
        }
        QueueCmd::Show { id } => {
            let dict = store.active_dictionary()?;
            // The desk's own view: proposals made for another MedDRA version are not shown.
            let v = crate::desk::item_view(&store, &dict, &id)?;
            let it = &v.item;
            println!("{}  [{}]  revision {}", p(&it.external_id), it.state, it.revision);
            println!("  reported term  {}", p(&it.reported_term));
            println!(
                "  study {}  subject {}  onset {}  {}  investigator {}",
                p(&it.study),
                p(&it.subject),
                p(opt(&it.onset_date)),
                p(opt(&it.seriousness)),
                p(opt(&it.investigator))
            );
            if let (Some(code), Some(name)) = (it.llt_code, &v.code_name) {
                println!("  code           LLT {code} {} (MedDRA {}, {} by {})", p(name), p(opt(&it.meddra_version)), opt(&it.source), p(opt(&it.proposer)));
            }
            if let Some(c) = &it.comment {
                println!("  comment        {}", p(c));
            }
            if let Some(syn) = &v.synonym {
                let state = syn.hold.as_ref().map(|h| format!(", held: {h}")).unwrap_or_default();
                println!("  synonym        LLT {} ({}{})", syn.llt_code, p(&syn.provenance()), p(&state));
            }
            if let Some(model) = &v.model_version {
                let uncertain = if v.uncertain { ", uncertain" } else { "" };
                println!("  proposals      model {} (entropy {}{uncertain})", p(model), v.entropy.map_or("-".into(), |e| format!("{e:.3}")));
                for (i, prop) in v.proposals.iter().enumerate() {
                    let evidence = prop.evidence.as_ref().map(|e| format!("  ({})", p(e))).unwrap_or_default();
                    println!("    {}. {:>9} {:<40} {:>5.1}%{evidence}", i + 1, prop.llt_code, p(&prop.llt_name), 100.0 * prop.confidence);
                }
            }
            println!("  history");
            for e in store.log_entries(Some(it.id))? {
                let code = e.entry.llt_code.map(|c| format!(" LLT {c} {}", e.entry.llt_name.clone().unwrap_or_default())).unwrap_or_default();
                let rank = e.entry.chosen_rank.map(|r| format!(" (model rank {r})")).unwrap_or_default();
                let comment = e.entry.comment.as_ref().map(|c| format!(" — {c}")).unwrap_or_default();
                println!("    {} {:<10} {:<9}{}{rank}{}", e.at, p(&e.entry.user), e.entry.action, p(&code), p(&comment));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

/// propose / confirm / return / query / recode.
/// What `audit verify` found in the tables beside the log, on either store; true when nothing.
pub(super) fn report_findings(findings: &[String], what: &str, behind: &str) -> bool {
    if findings.is_empty() {
        println!("{what} match the log.");
        return true;
    }
    println!("{} difference(s) between the tables and the log (changed behind {behind}):", findings.len());
    for f in findings {
        println!("  {}", p(f));
    }
    false
}

/// The rows of a queue file that were not imported and the columns ignored, for either store; the
/// exit status when some rows were rejected (the good rows are in; the status tells a script).
pub(super) fn report_rejected(bad: &[intake::Rejected], ignored: &[String]) -> Option<ExitCode> {
    for b in bad {
        println!("  rejected line {}: {}", b.line, b.reason);
    }
    if !ignored.is_empty() {
        println!("  ignored columns: {}", ignored.join(", "));
    }
    if bad.is_empty() {
        return None;
    }
    println!("{} bad row(s) were not imported; fix them and import the file again (imported ids are skipped).", bad.len());
    Some(ExitCode::from(2))
}

pub fn act(db: &Path, acting: Option<&str>, id: &str, rev: Option<i64>, action: Action) -> Result<ExitCode> {
    let user = need_user(acting)?;
    let mut store = Store::open(db)?;
    let dict = store.active_dictionary()?;
    let it = store.act(&dict, user, id, rev, action)?;
    let code = it.llt_code.and_then(|c| dict.llt(c)).map(|l| format!(" — LLT {} {}", l.code, l.name)).unwrap_or_default();
    println!("{} is now {} (revision {}){code}", it.external_id, it.state, it.revision);
    Ok(ExitCode::SUCCESS)
}

pub fn audit(cmd: AuditCmd, db: &Path) -> Result<ExitCode> {
    let store = Store::open(db)?;
    match cmd {
        AuditCmd::Verify { anchors } => {
            let mut ok = true;
            match store.verify_log()? {
                Verdict::Intact { rows } => println!("Decision log intact: {rows} rows, hash chain verified."),
                Verdict::Broken { seq, reason } => {
                    println!("Decision log BROKEN at row {seq}: {reason}.");
                    ok = false;
                }
            }
            ok &= report_findings(&store.state_findings()?, "Queue, users, team settings and the active MedDRA version", "medcoder's back");
            let file = match anchors {
                Some(f) => Some(f),
                None => Some(store.anchor_file()?).filter(|f| f.exists()),
            };
            match file {
                Some(f) => {
                    let n = crate::store::audit::read_anchors(&f)?.len();
                    let bad = store.check_anchors(&f)?;
                    if bad.is_empty() {
                        println!("All {n} anchored heads in {} are in the chain.", f.display());
                    } else {
                        ok = false;
                        for m in bad {
                            println!("Anchor at {}, line {} (row {}, {}): {}.", f.display(), m.line, m.anchored.seq, m.anchored.at, m.reason);
                        }
                    }
                }
                None => println!(
                    "No anchor file: a consistent rewrite of the whole log cannot be detected (run `medcoder audit anchor` and keep its file elsewhere)."
                ),
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(3) })
        }
        AuditCmd::Anchor { file } => {
            let file = match file {
                Some(f) => f,
                None => store.anchor_file()?,
            };
            match store.anchor(&file)? {
                Some(h) => {
                    println!("{}", h.line());
                    eprintln!("Anchored in {} (keep a copy where whoever can write the database cannot).", file.display());
                }
                None => println!("The decision log is empty: nothing to anchor."),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Log { item, json } => {
            let item_id = match item {
                Some(x) => Some(store.item(&x)?.id),
                None => None,
            };
            for e in store.log_entries(item_id)? {
                if json {
                    println!("{}", serde_json::to_string(&e)?);
                } else {
                    println!(
                        "{:>6} {} {:<10} {:<9} {:<10} {}",
                        e.seq,
                        e.at,
                        p(&e.entry.user),
                        e.entry.action,
                        p(e.entry.external_id.as_deref().unwrap_or_default()),
                        p(&e.entry
                            .llt_code
                            .map(|c| format!("LLT {c} {}", e.entry.llt_name.clone().unwrap_or_default()))
                            .or(e.entry.comment.clone())
                            .unwrap_or_default())
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Serialize)]
struct ExportRow {
    item_id: String,
    study: String,
    subject: String,
    reported_term: String,
    state: String,
    llt_code: Option<u32>,
    llt_name: Option<String>,
    pt_code: Option<u32>,
    pt_name: Option<String>,
    hlt_code: Option<u32>,
    hlt_name: Option<String>,
    hlgt_code: Option<u32>,
    hlgt_name: Option<String>,
    soc_code: Option<u32>,
    soc_name: Option<String>,
    meddra_version: Option<String>,
    proposer: Option<String>,
    reviewer: Option<String>,
    imported_at: String,
    proposed_at: Option<String>,
    confirmed_at: Option<String>,
    /// The decision log's head when the export was made: `audit verify --anchors` can prove later
    /// that the history behind these codes was not rewritten.
    log_seq: Option<i64>,
    log_hash: Option<String>,
}

const EXPORT_COLUMNS: [&str; 23] = [
    "item_id",
    "study",
    "subject",
    "reported_term",
    "state",
    "llt_code",
    "llt_name",
    "pt_code",
    "pt_name",
    "hlt_code",
    "hlt_name",
    "hlgt_code",
    "hlgt_name",
    "soc_code",
    "soc_name",
    "meddra_version",
    "proposer",
    "reviewer",
    "imported_at",
    "proposed_at",
    "confirmed_at",
    "log_seq",
    "log_hash",
];

impl ExportRow {
    /// The CSV fields, in `EXPORT_COLUMNS` order (JSONL serialises the struct itself).
    fn fields(&self) -> [String; 23] {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let n = |v: Option<u32>| v.map(|c| c.to_string()).unwrap_or_default();
        [
            self.item_id.clone(),
            self.study.clone(),
            self.subject.clone(),
            self.reported_term.clone(),
            self.state.clone(),
            n(self.llt_code),
            s(&self.llt_name),
            n(self.pt_code),
            s(&self.pt_name),
            n(self.hlt_code),
            s(&self.hlt_name),
            n(self.hlgt_code),
            s(&self.hlgt_name),
            n(self.soc_code),
            s(&self.soc_name),
            s(&self.meddra_version),
            s(&self.proposer),
            s(&self.reviewer),
            self.imported_at.clone(),
            s(&self.proposed_at),
            s(&self.confirmed_at),
            self.log_seq.map(|q| q.to_string()).unwrap_or_default(),
            s(&self.log_hash),
        ]
    }
}

fn export_row(it: &Item, dict: Option<&Dictionary>, head: Option<&Head>) -> ExportRow {
    let llt = it.llt_code.and_then(|c| dict.and_then(|d| d.llt(c)));
    let path = it.pt_code.and_then(|p| dict.and_then(|d| d.primary_path(p)));
    ExportRow {
        item_id: it.external_id.clone(),
        study: it.study.clone(),
        subject: it.subject.clone(),
        reported_term: it.reported_term.clone(),
        state: it.state.to_string(),
        llt_code: it.llt_code,
        llt_name: llt.map(|l| l.name.clone()),
        pt_code: it.pt_code,
        pt_name: path.as_ref().map(|p| p.pt.name.clone()),
        hlt_code: path.as_ref().map(|p| p.hlt.code),
        hlt_name: path.as_ref().map(|p| p.hlt.name.clone()),
        hlgt_code: path.as_ref().map(|p| p.hlgt.code),
        hlgt_name: path.as_ref().map(|p| p.hlgt.name.clone()),
        soc_code: path.as_ref().map(|p| p.soc.code),
        soc_name: path.as_ref().map(|p| p.soc.name.clone()),
        meddra_version: it.meddra_version.clone(),
        proposer: it.proposer.clone(),
        reviewer: it.reviewer.clone(),
        imported_at: it.imported_at.clone(),
        proposed_at: it.proposed_at.clone(),
        confirmed_at: it.confirmed_at.clone(),
        log_seq: head.map(|h| h.seq),
        log_hash: head.map(|h| h.hash.clone()),
    }
}

pub(super) fn output(out: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match out {
        Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => Box::new(std::io::stdout().lock()),
    })
}

#[allow(clippy::too_many_arguments)]
pub fn export(
    db: &Path,
    format: Format,
    out: Option<PathBuf>,
    study: Option<String>,
    from: Option<String>,
    to: Option<String>,
    state: String,
) -> Result<ExitCode> {
    let store = Store::open(db)?;
    let filter = ItemFilter { states: export_states(&state)?, study, text: None };
    let items = store.items(&filter)?;
    export_items(&items, store.log_head()?, &mut |v| store.dictionary(v).ok(), format, out, from, to)
}

pub(super) fn export_states(state: &str) -> Result<Vec<State>> {
    state.split(',').map(State::parse).collect()
}

/// The export of either store: `items` as filtered there, the log head they are exported at, and
/// each MedDRA version's dictionary (codes are exported with the hierarchy they were coded in).
pub(super) fn export_items(
    items: &[Item],
    head: Option<Head>,
    dictionary: &mut dyn FnMut(&str) -> Option<Dictionary>,
    format: Format,
    out: Option<PathBuf>,
    from: Option<String>,
    to: Option<String>,
) -> Result<ExitCode> {
    for d in [&from, &to].into_iter().flatten() {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            bail!("'{d}' is not a date: use YYYY-MM-DD");
        }
    }
    let mut dicts: HashMap<String, Option<Dictionary>> = HashMap::new();
    let mut rows = Vec::new();
    for it in items {
        let day = it.confirmed_at.as_deref().or(it.proposed_at.as_deref()).unwrap_or(&it.updated_at).get(..10).unwrap_or("").to_string();
        if from.as_ref().is_some_and(|f| day.as_str() < f.as_str()) || to.as_ref().is_some_and(|t| day.as_str() > t.as_str()) {
            continue;
        }
        let dict = match &it.meddra_version {
            Some(v) => dicts.entry(v.clone()).or_insert_with(|| dictionary(v)).as_ref(),
            None => None,
        };
        rows.push(export_row(it, dict, head.as_ref()));
    }
    let mut w = output(out.as_deref())?;
    match format {
        Format::Csv => {
            let mut c = csv::Writer::from_writer(&mut w);
            c.write_record(EXPORT_COLUMNS)?;
            for r in &rows {
                crate::text::write_sheet_record(&mut c, r.fields())?;
            }
            c.flush()?;
        }
        Format::Jsonl => {
            for r in &rows {
                writeln!(w, "{}", serde_json::to_string(r)?)?;
            }
        }
    }
    w.flush()?;
    if let Some(p) = out {
        eprintln!("Exported {} item(s) to {}", rows.len(), p.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn data(cmd: DataCmd, db: &Path) -> Result<ExitCode> {
    let store = Store::open(db)?;
    match cmd {
        DataCmd::ExportTraining { out } => write_training_pairs(&store.training_pairs()?, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `data export-training` of either store.
pub(super) fn write_training_pairs(pairs: &[crate::store::reports::TrainingPair], out: Option<PathBuf>) -> Result<()> {
    let mut w = output(out.as_deref())?;
    {
        let mut c = csv::Writer::from_writer(&mut w);
        c.write_record(["reported_term", "llt_code", "meddra_version", "confirmed_at"])?;
        for p in pairs {
            crate::text::write_sheet_record(&mut c, [p.reported_term.clone(), p.llt_code.to_string(), p.meddra_version.clone(), p.confirmed_at.clone()])?;
        }
        c.flush()?;
    }
    w.flush()?;
    if let Some(p) = out {
        eprintln!("Wrote {} training pair(s) to {}", pairs.len(), p.display());
    }
    Ok(())
}

pub fn backtest(db: &Path, json: bool, plot: Option<PathBuf>, model: Option<String>) -> Result<ExitCode> {
    let store = Store::open(db)?;
    backtest_report(&store.backtest_cases(model.as_deref())?, json, plot)
}

/// The back-test of confirmed decisions from either store.
pub(super) fn backtest_report(cases: &[crate::backtest::Case], json: bool, plot: Option<PathBuf>) -> Result<ExitCode> {
    if cases.is_empty() {
        println!("No confirmed items with model proposals yet: nothing to back-test.");
        return Ok(ExitCode::SUCCESS);
    }
    let report = crate::backtest::report(cases);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::backtest::render_text(&report));
    }
    if let Some(p) = plot {
        if p.extension().and_then(|e| e.to_str()) != Some("svg") {
            bail!("{}: the plot is written as SVG; name the file *.svg", p.display());
        }
        let title = format!("medcoder back-test: {} confirmed items", cases.len());
        std::fs::write(&p, crate::backtest::render_svg(&report, &title)).with_context(|| format!("writing {}", p.display()))?;
        eprintln!("Wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn recode_check(db: &Path) -> Result<ExitCode> {
    let store = Store::open(db)?;
    let dict = store.active_dictionary()?;
    print_recode_check(&store.recode_candidates(&dict)?, store.synonyms(&dict.version)?, &dict)
}

/// `recode-check` of either store: the confirmed codes to recode and the synonyms an upgrade held.
pub(super) fn print_recode_check(
    list: &[crate::store::reports::RecodeCandidate],
    synonyms: Vec<crate::store::synonyms::Synonym>,
    dict: &Dictionary,
) -> Result<ExitCode> {
    let held: Vec<_> = synonyms.into_iter().filter(|s| s.origin == "carried" && s.hold.is_some()).collect();
    if list.is_empty() && held.is_empty() {
        println!("No confirmed code or synonym needs recoding for MedDRA {}.", dict.version);
        return Ok(ExitCode::SUCCESS);
    }
    if !list.is_empty() {
        println!("{} confirmed code(s) need recoding for MedDRA {}:", list.len(), dict.version);
        for c in list {
            println!("  {:<10} {:<40} (coded in {}) {}", p(&c.item.external_id), p(&c.item.reported_term), p(opt(&c.item.meddra_version)), p(&c.reason));
        }
        println!("Recode each with `medcoder recode <id> <llt code>`; the new code goes to review.");
    }
    if !held.is_empty() {
        println!("{} synonym(s) held after the upgrade to MedDRA {} (they do not autocode):", held.len(), dict.version);
        for s in &held {
            println!("  {:<40} {}", p(&s.term), p(s.hold.as_deref().unwrap_or_default()));
        }
        println!("Resolve each by importing a corrected synonym (`medcoder synonym import`), confirming a coded item, or `medcoder synonym retire`.");
    }
    Ok(ExitCode::from(4))
}

pub fn settings(cmd: SettingsCmd, db: &Path, acting: Option<&str>) -> Result<ExitCode> {
    let store = Store::open(db)?;
    match cmd {
        SettingsCmd::Show => {
            println!("autocode-confirm  {}", store.setting("autocode_confirm")?.unwrap_or_else(|| "off".into()));
            println!("active MedDRA     {}", store.active_version()?.unwrap_or_else(|| "-".into()));
            println!("anchor file       {}", store.anchor_file()?.display());
        }
        SettingsCmd::AutocodeConfirm { value } => {
            let v = match value {
                OnOff::On => "on",
                OnOff::Off => "off",
            };
            let mut store = store;
            store.set_team_setting(need_user(acting)?, "autocode_confirm", v)?;
            println!("autocode-confirm set to {v}");
        }
        SettingsCmd::AnchorFile { path } => {
            let path = std::path::absolute(&path).with_context(|| format!("resolving {}", path.display()))?;
            let mut store = store;
            store.set_team_setting(need_user(acting)?, "anchor_file", &path.to_string_lossy())?;
            println!("anchor-file set to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Demo users (admin, a coder, two reviewers) and the demo queue, each added once.
pub const DEMO_USERS: [(&str, Role); 4] = [("admin", Role::Admin), ("alice", Role::Coder), ("bob", Role::Reviewer), ("carol", Role::Reviewer)];

pub fn ensure_demo(store: &mut Store) -> Result<()> {
    let existing: Vec<String> = store.users()?.into_iter().map(|u| u.name).collect();
    for (name, role) in DEMO_USERS {
        if !existing.iter().any(|e| e == name) {
            let acting = if store.users()?.is_empty() { None } else { Some("admin") };
            store.add_user(acting, name, role)?;
        }
    }
    let file = crate::paths::assets_dir().join("demo/queue.csv");
    let (items, _, _) = intake::read_file(&file)?;
    let known: std::collections::HashSet<String> = store.items(&ItemFilter::default())?.into_iter().map(|i| i.report.external_id).collect();
    let new: Vec<_> = items.into_iter().filter(|i| !known.contains(&i.external_id)).collect();
    if !new.is_empty() {
        let r = store.import_items("alice", &new, "assets/demo/queue.csv")?;
        println!("Demo queue: {} reported terms imported ({} coded by the exact-name rule, awaiting review)", r.imported, r.autocoded);
        println!("Demo users: admin (admin), alice (coder), bob and carol (reviewers)");
    }
    Ok(())
}
