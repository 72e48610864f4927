//! Command-line interface: argument parsing and one handler module per command group.

mod audit;
mod bench;
mod coding;
mod dataset;
mod dict;
mod doctor;
mod export;
mod model;
mod query;
mod report;
mod review;
mod session;
mod synonym;
mod team;
mod users;
mod worklist;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::model::precision::Precision;
use crate::store::api::{unsupported, Backend};
use crate::store::target::Target;
use crate::store::workflow::Action;
use session::Session;

#[derive(Parser, Debug)]
#[command(name = "medcoder", version, about = "Code adverse-event reported terms to MedDRA, with four-eye review")]
pub struct Cli {
    /// Database file (default: medcoder.db in the data directory).
    #[arg(long, global = true, env = "MEDCODER_DB")]
    pub db: Option<PathBuf>,
    /// Act as this user (default: the user bound to your OS login). Naming somebody else asks for
    /// their password.
    #[arg(long, global = true, env = "MEDCODER_USER")]
    pub user: Option<String>,
    /// Read passwords from standard input, one line each, instead of the terminal (scripts).
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// The desk loads no model and shows the proposals a proposal service (`serve-proposals`) stores.
    #[arg(long, global = true)]
    pub no_model: bool,
    /// Arithmetic of the models' forward passes: fp32, or half (fp16 autocast on CUDA, bf16 on a
    /// CPU; measured accuracy difference in EVALUATION.md).
    #[arg(long, global = true, env = "MEDCODER_PRECISION", default_value = "fp32")]
    pub precision: Precision,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum DbCmd {
    /// Copy a single-user SQLite store into a new team database: users, the active MedDRA version,
    /// every item and the decision log (hash chain verified before and after). Run it as the server's
    /// administrator.
    Copy {
        /// sqlite:FILE (or FILE)
        #[arg(long)]
        from: String,
        /// postgres://... of a database made by `team init`
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Versions, libtorch and CUDA, data directory, loaded dictionary: what to run first when something is wrong.
    Doctor,
    /// MedDRA releases: import, versions, diff, search, show.
    #[command(subcommand)]
    Dict(dict::DictCmd),
    /// Users and roles (coder, reviewer, admin).
    #[command(subcommand)]
    User(users::UserCmd),
    /// Team mode on PostgreSQL (--db postgres://...): create the team database, add users.
    #[command(subcommand)]
    Team(team::TeamCmd),
    /// Move a store: `db copy --from sqlite:FILE --to postgres://...` (a team database just made by `team init`).
    #[command(subcommand)]
    Db(DbCmd),
    /// The coding queue: import reported terms, list, show.
    #[command(subcommand)]
    Queue(coding::QueueCmd),
    /// Propose an LLT for an item (from the model's proposals, a search or the browser); a reviewer then confirms it.
    Code {
        id: String,
        llt: u32,
        /// How the code was found (recorded in the log).
        #[arg(long, value_enum, default_value = "manual")]
        source: coding::SourceArg,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Propose one LLT for every new or returned item with the same reported term (normalised: case, spaces and punctuation ignored).
    CodeGroup {
        term: String,
        llt: u32,
        /// How the code was found (recorded in the log).
        #[arg(long, value_enum, default_value = "manual")]
        source: coding::SourceArg,
    },
    /// Confirm every proposed item with the same reported term and LLT (reviewers; your own proposals are left out).
    ConfirmGroup {
        term: String,
        /// The LLT you are signing for (`queue list --text TERM` shows it): items proposed with
        /// another code are left out and named.
        #[arg(long)]
        llt: u32,
    },
    /// Confirm, with one signature, every proposed item a filter covers (reviewers): each item is
    /// confirmed on its own, at the revision read, and your own proposals (or codes you may not
    /// confirm) are left out and named. Without --yes it lists them and changes nothing.
    ConfirmBulk(review::BulkArgs),
    /// Team reports: productivity (per person and day), turnaround (import to confirmation, open
    /// work by age), consistency (a term confirmed to different PTs), queries (to sites).
    Report(report::ReportArgs),
    /// The synonym list: confirmed (or imported) reported terms that autocode identical terms.
    #[command(subcommand)]
    Synonym(synonym::SynonymCmd),
    /// Confirm a proposed code (reviewers; never your own proposal).
    Confirm {
        id: String,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Send a proposed code back to the proposer with a comment (reviewers).
    Return {
        id: String,
        /// Why it goes back (shown to the proposer).
        #[arg(long)]
        comment: String,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Put an item on query (`query ID --note TEXT`: it needs clarification from the site), or list the
    /// open queries (`query list`).
    Query(query::QueryArgs),
    /// Take back your own proposal before it is reviewed: the item goes back to where it stood.
    Withdraw {
        id: String,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Split a compound verbatim into one item per event (`split AE-7 "nausea" "vomiting"`): each
    /// part (AE-7#1, AE-7#2) is coded and reviewed on its own; a reviewer can return the split.
    Split {
        id: String,
        /// The parts, each the text of one event (two or more).
        #[arg(required = true, num_args = 1..)]
        parts: Vec<String>,
        /// Also put the split item on query with this question (the site is asked to split its
        /// record; the parts are coded meanwhile).
        #[arg(long)]
        query: Option<String>,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Assign the coding (or --review) of an item, a term or a study to a user (admins), or list the assignments.
    Assign(worklist::AssignArgs),
    /// Set a study's due date (YYYY-MM-DD; admins): its items come first in worklists once it is overdue.
    Due {
        study: String,
        date: Option<String>,
        /// Remove the study's due date.
        #[arg(long, conflicts_with = "date")]
        clear: bool,
    },
    /// The items waiting for you (or --user), most pressing first: returned, answered queries, serious, overdue, oldest.
    Worklist {
        /// Whose worklist (default: yours).
        #[arg(long = "for")]
        for_user: Option<String>,
        /// Also the unassigned items you may act on.
        #[arg(long)]
        all: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Change a confirmed code (e.g. after a MedDRA upgrade); it goes back to review.
    Recode {
        id: String,
        llt: u32,
        /// Why the code changes.
        #[arg(long)]
        comment: Option<String>,
        /// How the new code was found.
        #[arg(long, value_enum, default_value = "manual")]
        source: coding::SourceArg,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Confirmed codes that need recoding in the active MedDRA version (exit code 4 when any).
    RecodeCheck,
    /// The decision log: verify its hash chain, or print it.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Export coded items with their full MedDRA hierarchy, or (--sdtm) a received SDTM dataset
    /// with its dictionary-derived variables filled.
    Export {
        /// Output format: csv (default) or jsonl; with --sdtm xpt, json, ndjson or csv (default:
        /// the --out file's extension, else the format received).
        #[arg(long, value_enum)]
        format: Option<export::Format>,
        /// Output file (default: standard output; required with --sdtm).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write back a received SDTM AE or MH dataset (`queue datasets`), every variable as
        /// received, with AELLT ... AESOCCD (MH: MHLLT ...) filled for its confirmed records.
        #[arg(long)]
        sdtm: bool,
        /// With --sdtm: the kept dataset (default: the latest of the study and domain).
        #[arg(long, requires = "sdtm")]
        dataset: Option<i64>,
        /// With --sdtm: the domain (AE or MH).
        #[arg(long, requires = "sdtm")]
        domain: Option<String>,
        /// With --sdtm: write codes of more than one MedDRA version into one dataset (refused
        /// otherwise: a dataset declares one dictionary version).
        #[arg(long, requires = "sdtm")]
        mixed_versions: bool,
        /// Only items of this study.
        #[arg(long)]
        study: Option<String>,
        /// First day (YYYY-MM-DD) of the confirmation date.
        #[arg(long)]
        from: Option<String>,
        /// Last day (YYYY-MM-DD) of the confirmation date.
        #[arg(long)]
        to: Option<String>,
        /// Comma-separated states to export, or `all`.
        #[arg(long, default_value = "confirmed")]
        state: String,
    },
    /// Training data from the decision log.
    #[command(subcommand)]
    Data(coding::DataCmd),
    /// Model accuracy against confirmed codes: top-1/top-5, coverage at confidence thresholds, uncertainty brackets.
    Backtest {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Also write accuracy against coverage (with its 95% band) as an SVG chart, and beside it
        /// NAME-months.svg (accuracy per month confirmed) and NAME-reliability.svg.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Only proposals of this model version.
        #[arg(long)]
        model: Option<String>,
    },
    /// The model's top-5 for one reported term.
    Predict {
        text: Vec<String>,
        /// A BERT-family checkpoint folder to use instead of the installed MiniLM.
        #[arg(long)]
        base: Option<PathBuf>,
        /// Dictionary version (default: the active one).
        #[arg(long)]
        version: Option<String>,
        /// A trained model id (default: the newest for the dictionary version).
        #[arg(long)]
        model: Option<String>,
    },
    /// Train the classifier ensemble and the XTARS reranker for the active dictionary.
    Train {
        /// Labelled files (TSV/CSV with reported_term and llt_code columns) to train on.
        #[arg(long)]
        data: Vec<PathBuf>,
        /// A synonym list (reported term, LLT code), same format.
        #[arg(long)]
        synonyms: Option<PathBuf>,
        /// Dictionary version (default: the active one).
        #[arg(long)]
        version: Option<String>,
        /// A BERT-family checkpoint folder to use instead of the installed MiniLM (the encoders start from it).
        #[arg(long)]
        base: Option<PathBuf>,
        /// Ensemble members (default 3).
        #[arg(long)]
        members: Option<usize>,
        /// Classifier epochs (default 5 on a GPU, 3 on a CPU).
        #[arg(long)]
        epochs: Option<usize>,
        /// XTARS epochs (default 2 on a GPU, 1 on a CPU).
        #[arg(long)]
        xtars_epochs: Option<usize>,
        /// Examples per optimiser step, learning rates scaled by sqrt(batch / 32) (default: 32 on a
        /// CPU; on a GPU the largest of 32..1024 that keeps 1,000 steps an epoch).
        #[arg(long)]
        batch: Option<usize>,
        /// Cap on optimiser steps per epoch (quick runs).
        #[arg(long)]
        max_steps: Option<usize>,
        /// Base seed; ensemble member i uses seed + 1000 i.
        #[arg(long, default_value_t = 13)]
        seed: u64,
        /// Train in fp32 on CUDA too (default there: fp16 mixed precision with loss scaling).
        #[arg(long)]
        fp32: bool,
        /// Draw batches uniformly at random instead of from pools of similar-length inputs (how
        /// models were trained before length buckets; for comparisons).
        #[arg(long)]
        no_length_buckets: bool,
    },
    /// Trained models.
    #[command(subcommand)]
    Model(ModelCmd),
    /// Keep proposals filled for every desk: load the model once (on the GPU machine) and propose for
    /// new open items as they arrive, until stopped. Desks then run with --no-model.
    ServeProposals {
        /// Seconds between two looks at a queue with nothing to do.
        #[arg(long, default_value_t = 2.0)]
        poll: f64,
        /// One round, then exit (cron, scripts).
        #[arg(long)]
        once: bool,
        /// A BERT-family checkpoint folder to use instead of the installed MiniLM.
        #[arg(long)]
        base: Option<PathBuf>,
        /// A trained model id (default: the newest for the active MedDRA version).
        #[arg(long)]
        model: Option<String>,
    },
    /// Compute and store the model's proposals for open queue items (those without current ones, or --all).
    Propose {
        /// Recompute proposals for every open item, not only those without current ones.
        #[arg(long)]
        all: bool,
        /// A BERT-family checkpoint folder to use instead of the installed MiniLM.
        #[arg(long)]
        base: Option<PathBuf>,
        /// A trained model id (default: the newest for the active dictionary).
        #[arg(long)]
        model: Option<String>,
    },
    /// Accuracy on a labelled file (TSV/CSV with reported_term and llt_code columns).
    Eval {
        file: PathBuf,
        /// The training file: terms in it are excluded from the "unseen" subset.
        #[arg(long)]
        train: Option<PathBuf>,
        /// Dictionary version to evaluate against (default: the active one).
        #[arg(long)]
        version: Option<String>,
        /// A BERT-family checkpoint folder to use instead of the installed MiniLM.
        #[arg(long)]
        base: Option<PathBuf>,
        /// A trained model id (default: the newest for the dictionary version).
        #[arg(long)]
        model: Option<String>,
        /// Also report each stage alone (dense, ensemble, XTARS) next to the fusion; with --replay:
        /// zero-shot, + synonyms, + memory.
        #[arg(long)]
        components: bool,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
        /// Replay the file in its order as a team would have coded it: propose with what was learned
        /// so far (synonym list, coded-term memory), then learn the row. Nothing is stored.
        #[arg(long)]
        replay: bool,
        /// Write the reliability diagram (share right against confidence, LLT and PT) as SVG; with
        /// --replay the learning curve (accuracy per tenth of the stream) there and the reliability
        /// diagram beside it (NAME-reliability.svg).
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Rank proposals by PT confidence first, then by LLT within the PT.
        #[arg(long)]
        pt_first: bool,
        /// With --replay: leave the confidences uncalibrated (as the model gives them) instead of
        /// calibrating them row by row from the rows before.
        #[arg(long, requires = "replay")]
        no_calibration: bool,
    },
    /// Team settings (auto-confirm of rule-coded items).
    #[command(subcommand)]
    Settings(coding::SettingsCmd),
    /// Load the bundled demo dictionary, users and queue (once), then open the coding desk.
    Demo {
        /// Print the dictionary summary and sample searches instead of opening the desk.
        #[arg(long)]
        print: bool,
    },
    /// Benchmarks (speed targets live here, not in tests).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

#[derive(Subcommand, Debug)]
pub enum ModelCmd {
    /// List trained models, newest first.
    List,
    /// Write an fp16 copy of a BERT checkpoint folder (half the size; upcast to fp32 on load).
    Half { src: PathBuf, dst: PathBuf },
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let db = match &cli.db {
        Some(p) => p.clone(),
        None => crate::paths::default_db()?,
    };
    dispatch(cli, &db).map_err(|e| {
        // A write refused because the database could only be opened read-only: say which file and
        // what to do, instead of SQLite's "attempt to write a readonly database".
        if format!("{e:#}").contains("readonly database") {
            let why = crate::store::not_writable(&db).unwrap_or_else(|| "it is read-only".into());
            e.context(format!("{} can only be read: {why}. Reading commands work; to change it, make the file and its folder writable for your OS account (and remove a stale -shm file owned by someone else)", db.display()))
        } else {
            e
        }
    })
}

fn dispatch(cli: Cli, db: &std::path::Path) -> Result<ExitCode> {
    // What sets a store up or uses none runs before a store is opened.
    let target = Target::parse(db)?;
    match &cli.command {
        Some(Command::Db(DbCmd::Copy { from, to })) => return team::copy(from, to, cli.password_stdin),
        Some(Command::Doctor) => {
            return doctor::run(match &target {
                Target::Sqlite(path) => Some(path),
                Target::Postgres(_) => None,
            })
        }
        Some(Command::Bench(_)) => {
            let path = match &target {
                Target::Sqlite(path) => path.clone(),
                Target::Postgres(_) => return Err(unsupported(Backend::Team, "bench", "benchmarks read a SQLite store (--db FILE)")),
            };
            return offline(cli, &path);
        }
        Some(Command::Model(_)) | Some(Command::Dict(dict::DictCmd::Generate { .. } | dict::DictCmd::BuildOutline { .. })) => return offline(cli, db),
        _ => {}
    }
    if let Some(Command::Team(cmd)) = cli.command {
        if cli.user.is_some() {
            anyhow::bail!("team commands run as the database role you connect as (the URL's user, else your OS login); --user and MEDCODER_USER are not used");
        }
        return match &target {
            Target::Postgres(url) => team::run(cmd, url, cli.password_stdin),
            Target::Sqlite(_) => anyhow::bail!("team commands need --db postgres://... (a team database on a PostgreSQL server)"),
        };
    }
    if matches!(
        cli.command,
        Some(Command::Train { .. } | Command::Predict { .. } | Command::Propose { .. } | Command::ServeProposals { .. } | Command::Eval { .. })
    ) {
        if let Some(w) = crate::torch_env::gpu_unused_warning() {
            eprintln!("{w}");
        }
    }
    let mut s = Session::open(&cli, target)?;
    let Some(command) = cli.command else {
        s.run_desk(cli.precision, cli.no_model)?;
        return Ok(ExitCode::SUCCESS);
    };
    match command {
        Command::Doctor | Command::Bench(_) | Command::Model(_) | Command::Db(_) | Command::Team(_) => unreachable!("dispatched above"),
        Command::Demo { print } => dict::demo(&mut s, print, cli.precision, cli.no_model),
        Command::Dict(cmd) => dict::run(cmd, &mut s),
        Command::User(cmd) => users::run(cmd, &mut s),
        Command::Queue(cmd) => coding::queue(cmd, &mut s),
        Command::Code { id, llt, source, rev } => coding::act(&mut s, &id, rev, Action::Propose { llt, source: source.into() }),
        Command::CodeGroup { term, llt, source } => synonym::code_group(&mut s, &term, llt, source.into()),
        Command::ConfirmGroup { term, llt } => synonym::confirm_group(&mut s, &term, llt),
        Command::ConfirmBulk(args) => review::confirm_bulk(&mut s, args),
        Command::Report(args) => report::run(args, &mut s),
        Command::Synonym(cmd) => synonym::run(cmd, &mut s),
        Command::Confirm { id, rev } => coding::act(&mut s, &id, rev, Action::Confirm),
        Command::Return { id, comment, rev } => coding::act(&mut s, &id, rev, Action::Return { comment }),
        Command::Query(args) => query::run(args, &mut s),
        Command::Recode { id, llt, comment, source, rev } => coding::act(&mut s, &id, rev, Action::Recode { llt, source: source.into(), comment }),
        Command::Withdraw { id, rev } => coding::act(&mut s, &id, rev, Action::Withdraw),
        Command::Split { id, parts, query, rev } => coding::split(&mut s, &id, parts, query, rev),
        Command::Assign(args) => worklist::assign(args, &mut s),
        Command::Due { study, date, clear } => worklist::due(&study, date.as_deref(), clear, &mut s),
        Command::Worklist { for_user, all, json } => worklist::worklist(&mut s, for_user, all, json),
        Command::RecodeCheck => coding::recode_check(s.store()?),
        Command::Audit(cmd) => audit::run(cmd, s.store()?),
        Command::Export { format, out, sdtm: true, dataset: id, domain, mixed_versions, study, from, to, state } => {
            if from.is_some() || to.is_some() || state != "confirmed" {
                anyhow::bail!("--from, --to and --state select items of the item export: --sdtm writes the whole dataset (confirmed records coded)");
            }
            let out = out.ok_or_else(|| anyhow::anyhow!("--sdtm needs --out FILE (the dataset is written whole, then moved into place)"))?;
            let format = format.map(export::Format::dataset).transpose()?;
            dataset::export(
                s.store()?,
                dataset::SdtmExport { mixed_versions, dataset: id, study: study.as_deref(), domain: domain.as_deref(), format, out: &out },
            )
        }
        Command::Export { format, out, study, from, to, state, .. } => {
            let format = format.unwrap_or(export::Format::Csv);
            if !matches!(format, export::Format::Csv | export::Format::Jsonl) {
                anyhow::bail!("--format {format:?} is a dataset format: add --sdtm (the item export writes csv or jsonl)");
            }
            export::export(s.store()?, format, out, study, from, to, state)
        }
        Command::Data(cmd) => coding::data(cmd, s.store()?),
        Command::Backtest { json, plot, model } => coding::backtest(s.store()?, json, plot, model),
        Command::Settings(cmd) => coding::settings(cmd, &mut s),
        Command::Predict { text, base, version, model: m } => {
            model::predict(s.proposal_store()?, &text.join(" "), base.as_deref(), version.as_deref(), m.as_deref(), cli.precision)
        }
        Command::ServeProposals { poll, once, base, model: m } => {
            model::serve_on(&s.proposal_opener(), base.as_deref(), m.as_deref(), cli.precision, once, poll)
        }
        Command::Propose { all, base, model: m } => model::propose(s.proposal_store()?, all, base.as_deref(), m.as_deref(), cli.precision),
        Command::Eval { file, train, version, base, model: m, components, json, replay, plot, pt_first, no_calibration } => model::eval(
            s.proposal_store()?,
            model::EvalArgs { file, train, version, base, model: m, components, json, replay, plot, precision: cli.precision, pt_first, no_calibration },
        ),
        Command::Train { data, synonyms, version, base, members, epochs, xtars_epochs, batch, max_steps, seed, fp32, no_length_buckets } => {
            let a = model::TrainArgs { data, synonyms, version, base, members, epochs, xtars_epochs, batch, max_steps, seed, fp32, no_length_buckets };
            model::train(s.proposal_store()?, a)
        }
    }
}

/// The commands that use no store: benchmarks, model files, synthetic releases.
fn offline(cli: Cli, db: &std::path::Path) -> Result<ExitCode> {
    if matches!(cli.command, Some(Command::Bench(_))) {
        if let Some(w) = crate::torch_env::gpu_unused_warning() {
            eprintln!("{w}");
        }
    }
    match cli.command {
        Some(Command::Bench(cmd)) => bench::run(cmd, db, cli.precision),
        Some(Command::Model(ModelCmd::List)) => model::list_models(),
        Some(Command::Model(ModelCmd::Half { src, dst })) => model::half(&src, &dst),
        Some(Command::Dict(cmd)) => dict::offline(cmd),
        _ => unreachable!("only offline commands come here"),
    }
}
