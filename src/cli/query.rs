//! `medcoder query ...`: putting an item on query (a question to the site), and the list of open
//! queries to send to sites and chase by age, on either store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::session::Session;
use crate::store::api::DeskStore;
use crate::store::item::{Item, ItemFilter, State};
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
    /// The items on query, oldest first: id, study, subject, days open, who asked, term, question.
    List {
        /// Only queries open longer than this many days.
        #[arg(long)]
        older_than: Option<i64>,
        /// Only items of this study.
        #[arg(long)]
        study: Option<String>,
        /// Write them as CSV for the sites instead (item_id, study, subject, reported_term, query,
        /// raised_by, raised_at, days_open) to this file, `-` for standard output.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

pub fn run(args: QueryArgs, s: &mut Session) -> Result<ExitCode> {
    match (args.cmd, args.id) {
        (Some(QueryCmd::List { older_than, study, csv }), _) => list(s.store()?, older_than, study, csv),
        (None, Some(id)) => {
            let note = args.note.context("a query needs the question for the site: --note TEXT")?;
            super::coding::act(s, &id, args.rev, Action::Query { note })
        }
        (None, None) => anyhow::bail!("name the item to put on query (`query ID --note TEXT`), or `query list`"),
    }
}

/// An open query as a site is sent it: the item on query since its last change.
struct Open {
    item: Item,
    days: i64,
}

fn open_queries(store: &dyn DeskStore, older_than: Option<i64>, study: Option<String>) -> Result<Vec<Open>> {
    let mut list: Vec<Open> = store
        .items(&ItemFilter { states: vec![State::Query], study, text: None })?
        .into_iter()
        .map(|item| Open { days: crate::desk::days_since(&item.updated_at), item })
        .filter(|q| older_than.is_none_or(|d| q.days > d))
        .collect();
    list.sort_by(|a, b| a.item.updated_at.cmp(&b.item.updated_at).then(a.item.id.cmp(&b.item.id)));
    Ok(list)
}

fn list(store: &dyn DeskStore, older_than: Option<i64>, study: Option<String>, csv: Option<PathBuf>) -> Result<ExitCode> {
    let list = open_queries(store, older_than, study)?;
    if let Some(path) = csv {
        let out = (path.as_os_str() != "-").then_some(path.as_path());
        let mut w = csv::Writer::from_writer(super::export::output(out)?);
        w.write_record(["item_id", "study", "subject", "reported_term", "query", "raised_by", "raised_at", "days_open"])?;
        for q in &list {
            let it = &q.item;
            crate::text::write_sheet_record(
                &mut w,
                [
                    it.external_id.clone(),
                    it.study.clone(),
                    it.subject.clone(),
                    it.reported_term.clone(),
                    it.comment.clone().unwrap_or_default(),
                    it.updated_by.clone(),
                    it.updated_at.clone(),
                    q.days.to_string(),
                ],
            )?;
        }
        w.flush()?;
        if let Some(path) = out {
            eprintln!("Wrote {} open quer{} to {}", list.len(), if list.len() == 1 { "y" } else { "ies" }, path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!("No open queries.");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} open quer{}, oldest first:", list.len(), if list.len() == 1 { "y" } else { "ies" });
    for q in &list {
        let it = &q.item;
        println!(
            "{:<10} {:<9} {:<8} {:>3} day(s)  by {:<10} {}  — {}",
            p(&it.external_id),
            p(&it.study),
            p(&it.subject),
            q.days,
            p(&it.updated_by),
            p(&it.reported_term),
            p(it.comment.as_deref().unwrap_or_default())
        );
    }
    Ok(ExitCode::SUCCESS)
}
