//! `medcoder audit ...`: the decision log's checks, anchors and text, on either store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::store::api::DeskStore;
use crate::store::log::Verdict;
use crate::text::printable as p;

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

pub fn run(cmd: AuditCmd, store: &mut dyn DeskStore) -> Result<ExitCode> {
    match cmd {
        AuditCmd::Verify { anchors } => verify(store, anchors),
        AuditCmd::Anchor { file } => {
            let file = match file {
                Some(f) => f,
                None => store.anchor_file()?,
            };
            match store.anchor_to(&file)? {
                Some(h) => {
                    println!("{}", h.line());
                    eprintln!("Anchored in {} (keep a copy where whoever can write the database cannot).", file.display());
                }
                None => println!("The decision log is empty: nothing to anchor."),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCmd::Log { item, json } => {
            for e in store.log_entries(item.as_deref())? {
                if json {
                    println!("{}", serde_json::to_string(&e)?);
                    continue;
                }
                let code = e.entry.llt_code.map(|c| format!("LLT {c} {}", e.entry.llt_name.clone().unwrap_or_default())).unwrap_or_default();
                let comment = e.entry.comment.as_deref().unwrap_or_default();
                println!(
                    "{:>6} {} {:<10} {:<9} {:<10} {} {}",
                    e.seq,
                    e.at,
                    p(&e.entry.user),
                    e.entry.action,
                    p(e.entry.external_id.as_deref().unwrap_or_default()),
                    p(code.trim_end()),
                    p(comment)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Exit status 3 when anything does not match.
fn verify(store: &dyn DeskStore, anchors: Option<PathBuf>) -> Result<ExitCode> {
    let report = store.audit(anchors.as_deref())?;
    for (what, v) in &report.chains {
        match v {
            Verdict::Intact { rows } => println!("{what} intact: {rows} rows, hash chain verified."),
            Verdict::Broken { seq, reason } => println!("{what} BROKEN at row {seq}: {reason}."),
        }
    }
    if report.findings.is_empty() {
        println!("Queue, users, team settings and the active MedDRA version match the log.");
    } else {
        println!("{} difference(s) between the tables and the log (changed behind the store's rules):", report.findings.len());
        for f in &report.findings {
            println!("  {}", p(f));
        }
    }
    match &report.anchors {
        Some((file, n)) if report.anchor_mismatches.is_empty() => {
            println!("Every head anchored in {} is in the chain ({n} anchored heads).", file.display())
        }
        Some(_) => {}
        None => println!("No anchor file: a consistent rewrite of the whole log cannot be detected (run `medcoder audit anchor` and keep its file elsewhere)."),
    }
    for m in &report.anchor_mismatches {
        println!("ANCHOR MISMATCH {}", p(m));
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}
