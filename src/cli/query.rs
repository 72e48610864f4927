//! `medcoder query ...`: putting an item on query (a question to the site), and the list of open
//! queries to send to sites and chase by age, on either store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::session::Session;
use crate::store::api::DeskStore;
use crate::store::item::{Item, ItemFilter, State};
use crate::store::log::LoggedEntry;
use crate::store::workflow::Action;
use crate::text::printable as p;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct QueryArgs {
    #[command(subcommand)]
    pub cmd: Option<QueryCmd>,
    /// The item to put on query.
    pub id: Option<String>,
    /// The question for the site.
    #[arg(long)]
    pub note: Option<String>,
    /// The item revision you saw; the action is refused if the item changed since.
    #[arg(long)]
    pub rev: Option<i64>,
}

#[derive(Subcommand, Debug)]
pub enum QueryCmd {
    /// Queries oldest first: id, study, subject, state (open, answered), days open, who asked, term,
    /// question, answer.
    List {
        /// Only open queries (not yet answered): what the sites are sent.
        #[arg(long)]
        open: bool,
        /// Closed queries too (from the log).
        #[arg(long, conflicts_with = "open")]
        all: bool,
        /// Only queries open longer than this many days.
        #[arg(long)]
        older_than: Option<i64>,
        /// Only items of this study.
        #[arg(long)]
        study: Option<String>,
        /// Write them as CSV for the sites instead (item_id, study, subject, reported_term, query,
        /// raised_by, raised_at, days_open, status, answer, corrected_term) to this file, `-` for
        /// standard output; the sites fill in answer (and corrected_term) and it comes back to
        /// `query import-answers`.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// Record the site's answer to an open query (any coder), with its corrected verbatim if it sent one.
    Answer {
        id: String,
        /// The site's answer.
        #[arg(long)]
        text: String,
        /// The corrected reported term: it supersedes the old one as a new revision.
        #[arg(long)]
        term: Option<String>,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Close a query by hand (coding the item after the answer closes it too): the item goes back
    /// to where it stood when the query was raised.
    Close {
        id: String,
        /// Why it closes.
        #[arg(long)]
        note: Option<String>,
        /// The item revision you saw; the action is refused if the item changed since.
        #[arg(long)]
        rev: Option<i64>,
    },
    /// Record the sites' answers from a CSV file: columns item_id and answer, optionally
    /// corrected_term. Every row is checked first; nothing is recorded if one is wrong.
    ImportAnswers { file: PathBuf },
}

pub fn run(args: QueryArgs, s: &mut Session) -> Result<ExitCode> {
    match (args.cmd, args.id) {
        (Some(QueryCmd::List { open, all, older_than, study, csv }), _) => list(s.store()?, Show { open, all }, older_than, study, csv),
        (Some(QueryCmd::Answer { id, text, term, rev }), _) => super::coding::act(s, &id, rev, Action::Answer { text, term }),
        (Some(QueryCmd::Close { id, note, rev }), _) => super::coding::act(s, &id, rev, Action::CloseQuery { note }),
        (Some(QueryCmd::ImportAnswers { file }), _) => import_answers(s, &file),
        (None, Some(id)) => {
            let note = args.note.context("a query needs the question for the site: --note TEXT")?;
            super::coding::act(s, &id, args.rev, Action::Query { note })
        }
        (None, None) => anyhow::bail!("name the item to put on query (`query ID --note TEXT`), or `query list`"),
    }
}

#[derive(Clone, Copy)]
struct Show {
    open: bool,
    all: bool,
}

/// A query as the list shows it: its item, who raised it and when (the log's newest query row),
/// and where it stands.
struct Listed {
    item: Item,
    status: &'static str,
    raised_by: String,
    raised_at: String,
    question: String,
    answer: Option<String>,
    days: i64,
}

/// The newest query of an item's log, with its answer and whether it was closed since. An item on
/// query whose query row is not in this log (a team's copy of a SQLite store keeps those rows
/// apart) is shown from the item itself.
fn from_log(item: Item, log: &[LoggedEntry]) -> Option<Listed> {
    let status = match item.state {
        State::Query => "open",
        State::Answered => "answered",
        _ => "closed",
    };
    let Some(q) = log.iter().rposition(|e| e.entry.action == "query") else {
        return (item.state == State::Query).then(|| Listed {
            status,
            raised_by: item.updated_by.clone(),
            raised_at: item.updated_at.clone(),
            question: item.comment.clone().unwrap_or_default(),
            answer: None,
            days: crate::desk::days_since(&item.updated_at),
            item,
        });
    };
    let raised = &log[q];
    // The answer typed or imported, or the corrected verbatim the site sent instead.
    let since = &log[q..];
    let answer = since.iter().rev().find(|e| e.entry.action == "answer").and_then(|e| e.entry.comment.clone()).or_else(|| {
        since.iter().rev().find(|e| e.entry.action == "supersede").and_then(|e| e.entry.reported_term.as_ref()).map(|t| format!("corrected verbatim: {t}"))
    });
    Some(Listed {
        status,
        raised_by: raised.entry.user.clone(),
        raised_at: raised.at.clone(),
        question: raised.entry.comment.clone().unwrap_or_default(),
        answer,
        days: crate::desk::days_since(&raised.at),
        item,
    })
}

fn queries(store: &dyn DeskStore, show: Show, older_than: Option<i64>, study: Option<String>) -> Result<Vec<Listed>> {
    let states = match (show.open, show.all) {
        (true, _) => vec![State::Query],
        (_, true) => vec![],
        _ => vec![State::Query, State::Answered],
    };
    let items = store.items(&ItemFilter { states, study, text: None })?;
    let log = store.log_entries(None)?;
    let mut by_item: std::collections::HashMap<i64, Vec<LoggedEntry>> = std::collections::HashMap::new();
    for e in log.into_iter().filter(|e| e.entry.item_id.is_some()) {
        by_item.entry(e.entry.item_id.unwrap_or_default()).or_default().push(e);
    }
    let mut list: Vec<Listed> = items
        .into_iter()
        .filter_map(|it| {
            let log = by_item.get(&it.id).map(Vec::as_slice).unwrap_or_default();
            from_log(it, log)
        })
        .filter(|q| older_than.is_none_or(|d| q.days > d))
        .collect();
    list.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then(a.item.id.cmp(&b.item.id)));
    Ok(list)
}

fn list(store: &dyn DeskStore, show: Show, older_than: Option<i64>, study: Option<String>, csv: Option<PathBuf>) -> Result<ExitCode> {
    let list = queries(store, show, older_than, study)?;
    let what = if show.open { "open quer" } else { "quer" };
    let plural = |n: usize| if n == 1 { "y" } else { "ies" };
    if let Some(path) = csv {
        let out = (path.as_os_str() != "-").then_some(path.as_path());
        let mut w = csv::Writer::from_writer(super::export::output(out)?);
        // `answer` and `corrected_term` are what the site fills in: the file comes back to
        // `query import-answers` as it is.
        w.write_record(["item_id", "study", "subject", "reported_term", "query", "raised_by", "raised_at", "days_open", "status", "answer", "corrected_term"])?;
        for q in &list {
            let it = &q.item;
            crate::text::write_sheet_record(
                &mut w,
                [
                    it.external_id.clone(),
                    it.study.clone(),
                    it.subject.clone(),
                    it.reported_term.clone(),
                    q.question.clone(),
                    q.raised_by.clone(),
                    q.raised_at.clone(),
                    q.days.to_string(),
                    q.status.to_string(),
                    q.answer.clone().unwrap_or_default(),
                    String::new(),
                ],
            )?;
        }
        w.flush()?;
        if let Some(path) = out {
            eprintln!("Wrote {} {what}{} to {}", list.len(), plural(list.len()), path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("No {what}ies.");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} {what}{}, oldest first:", list.len(), plural(list.len()));
    for q in &list {
        let it = &q.item;
        let answer = q.answer.as_deref().map(|a| format!(" => {}", p(a))).unwrap_or_default();
        println!(
            "{:<10} {:<9} {:<8} {:<8} {:>3} day(s)  by {:<10} {}  — {}{answer}",
            p(&it.external_id),
            p(&it.study),
            p(&it.subject),
            q.status,
            q.days,
            p(&q.raised_by),
            p(&it.reported_term),
            p(&q.question),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One row of a file of answers.
struct AnswerRow {
    line: usize,
    id: String,
    answer: String,
    term: Option<String>,
}

/// Reads a CSV of answers (item_id, answer[, corrected_term]), every row checked before any is
/// recorded: the item exists and is on query, the answer has text without control characters.
fn read_answers(store: &dyn DeskStore, file: &Path) -> Result<Vec<AnswerRow>> {
    let name = file.display();
    let mut r = csv::ReaderBuilder::new().flexible(true).from_path(file).with_context(|| format!("reading {name}"))?;
    let headers: Vec<String> = r.headers().with_context(|| format!("{name}: reading the header"))?.iter().map(|h| h.trim().to_lowercase()).collect();
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (Some(id_col), Some(answer_col)) = (col("item_id"), col("answer")) else {
        anyhow::bail!("{name}, line 1: the header needs the columns item_id and answer (and optionally corrected_term)");
    };
    let term_col = col("corrected_term");
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, rec) in r.records().enumerate() {
        let line = i + 2;
        let rec = rec.with_context(|| format!("{name}, line {line}: not a CSV record"))?;
        let field = |c: usize| rec.get(c).map(str::trim).unwrap_or_default().to_string();
        let (id, answer) = (field(id_col), field(answer_col));
        let term = term_col.map(field).filter(|t| !t.is_empty());
        let at = |f: &str| format!("{name}, line {line}, field {f}");
        if id.is_empty() {
            anyhow::bail!("{}: empty", at("item_id"));
        }
        if !seen.insert(id.clone()) {
            anyhow::bail!("{}: item {} is answered twice in this file", at("item_id"), p(&id));
        }
        if answer.is_empty() {
            anyhow::bail!("{}: empty", at("answer"));
        }
        for (f, v) in [("answer", Some(&answer)), ("corrected_term", term.as_ref())] {
            if let Some(c) = v.and_then(|v| crate::text::forbidden_char(v)) {
                anyhow::bail!("{}: contains the control or format character U+{:04X}", at(f), c as u32);
            }
        }
        for (f, v) in [("answer", Some(&answer)), ("corrected_term", term.as_ref())] {
            if v.is_some_and(|v| v.chars().count() > crate::intake::queue::MAX_FIELD_CHARS) {
                anyhow::bail!("{}: over {} characters", at(f), crate::intake::queue::MAX_FIELD_CHARS);
            }
        }
        let item = store.item(&id).with_context(|| at("item_id"))?;
        if item.state != State::Query {
            anyhow::bail!("{}: item {} is {}, not on an open query", at("item_id"), p(&id), item.state);
        }
        // A split item's verbatim lives in its parts: the whole file would stop at this row.
        if term.is_some() && store.parts(&id)?.iter().any(|x| x.state != State::Void) {
            anyhow::bail!("{}: item {} was split into parts: a corrected verbatim goes to its parts", at("corrected_term"), p(&id));
        }
        rows.push(AnswerRow { line, id, answer, term });
    }
    Ok(rows)
}

fn import_answers(s: &mut Session, file: &Path) -> Result<ExitCode> {
    let user = s.user()?;
    let store = s.store()?;
    let rows = read_answers(store, file).map_err(|e| e.context(format!("no answer from {} was recorded", file.display())))?;
    let mut corrected = 0;
    for row in &rows {
        let it = store
            .decide(&user, &row.id, None, Action::Answer { text: row.answer.clone(), term: row.term.clone() })
            .with_context(|| format!("{}, line {}: recording the answer for {} (the rows above it are recorded)", file.display(), row.line, p(&row.id)))?;
        if row.term.as_deref() == Some(it.reported_term.as_str()) {
            corrected += 1;
        }
    }
    println!("Recorded {} answer(s) from {} ({corrected} with a corrected verbatim)", rows.len(), p(&file.display().to_string()));
    Ok(ExitCode::SUCCESS)
}
