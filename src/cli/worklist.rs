//! `medcoder assign`, `due` and `worklist`: who codes or reviews what, each study's due date, and
//! one user's work in priority order, on either store.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::session::Session;
use crate::desk::{priority, Priority};
use crate::store::item::{ItemFilter, ItemSummary};
use crate::store::worklist::{assignee, describe, Duty, Scope};
use crate::text::printable as p;

#[derive(Args, Debug)]
pub struct AssignArgs {
    /// Assign one item (its id).
    #[arg(long, group = "scope")]
    pub item: Option<String>,
    /// Assign every item of a reported term (normalised: case, spaces and punctuation ignored).
    #[arg(long, group = "scope")]
    pub term: Option<String>,
    /// Assign every item of a study.
    #[arg(long, group = "scope")]
    pub study: Option<String>,
    /// The review of those items instead of their coding.
    #[arg(long)]
    pub review: bool,
    /// Who gets the work.
    #[arg(long, conflicts_with = "clear")]
    pub to: Option<String>,
    /// Take the assignment away.
    #[arg(long)]
    pub clear: bool,
    /// List the assignments and due dates instead.
    #[arg(long, conflicts_with_all = ["item", "term", "study", "to", "clear"])]
    pub list: bool,
}

pub fn assign(a: AssignArgs, s: &mut Session) -> Result<ExitCode> {
    if a.list {
        let store = s.store()?;
        let list = store.assignments()?;
        if list.is_empty() {
            println!("No assignments.");
        }
        for x in &list {
            println!("{:<6} {:<5} {:<24} {:<12} (by {} at {})", x.duty, x.scope.as_str(), p(&x.key), p(&x.user), p(&x.assigned_by), x.assigned_at);
        }
        for (study, due) in store.due_dates()? {
            println!("{:<6} {:<5} {:<24} {due}", "due", "study", p(&study));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (scope, key) = match (&a.item, &a.term, &a.study) {
        (Some(k), _, _) => (Scope::Item, k),
        (_, Some(k), _) => (Scope::Term, k),
        (_, _, Some(k)) => (Scope::Study, k),
        _ => bail!("name what to assign: --item ID, --term TEXT or --study S (or --list)"),
    };
    if a.to.is_none() && !a.clear {
        bail!("name who gets it (--to USER), or take it away (--clear)");
    }
    let duty = if a.review { Duty::Review } else { Duty::Code };
    let user = s.user()?;
    s.store()?.assign(&user, scope, key, duty, a.to.as_deref())?;
    println!("{}", p(&describe(scope, &crate::store::worklist::key_of(scope, key), duty, a.to.as_deref().map(str::to_lowercase).as_deref())));
    if scope == Scope::Study && !s.store()?.studies()?.iter().any(|x| x == key.trim()) {
        println!("  (no item of study {} is queued yet)", p(key.trim()));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn due(study: &str, date: Option<&str>, clear: bool, s: &mut Session) -> Result<ExitCode> {
    if date.is_none() && !clear {
        bail!("give the due date (YYYY-MM-DD), or --clear");
    }
    let user = s.user()?;
    s.store()?.set_due_date(&user, study, date)?;
    match date {
        Some(d) => println!("Study {} is due {d}", p(study.trim())),
        None => println!("Study {} has no due date now", p(study.trim())),
    }
    // Said, not refused: a due date may be set before the study's items arrive, or to mark late work.
    if date.is_some_and(|d| d < crate::desk::today().as_str()) {
        println!("  (that day has passed: the study's open items count as overdue now)");
    }
    if !s.store()?.studies()?.iter().any(|x| x == study.trim()) {
        println!("  (no item of study {} is queued yet)", p(study.trim()));
    }
    Ok(ExitCode::SUCCESS)
}

/// `worklist`: the items waiting for the user (assigned to them, or with --all also unassigned
/// ones they may act on), most pressing first.
pub fn worklist(s: &mut Session, for_user: Option<String>, all: bool, json: bool) -> Result<ExitCode> {
    let me = match for_user {
        Some(u) => u,
        None => s.user()?,
    };
    let store = s.store()?;
    let user = store.user(&me)?;
    let assignments = store.assignments()?;
    let due = store.due_dates()?;
    let version = store.active_meddra_version()?.unwrap_or_default();
    let rows: Vec<ItemSummary> = store.queue_rows(&ItemFilter::default(), &version)?.into_iter().map(|(it, _)| it).collect();
    let today = crate::desk::today();
    let mut work: Vec<(Priority, ItemSummary)> = rows
        .into_iter()
        .filter(|it| crate::desk::can_act(it, &user))
        .filter(|it| match assignee(&assignments, it) {
            Some(who) => who == user.name,
            None => all,
        })
        .map(|it| (priority(&it, &due, &today), it))
        .collect();
    work.sort_by(|a, b| a.0.cmp(&b.0));
    if json {
        for (pr, it) in &work {
            let v = serde_json::json!({"id": it.external_id, "study": it.study, "state": it.state, "reported_term": it.reported_term,
                "why": pr.why(), "days_waiting": pr.days_waiting, "due": pr.due});
            println!("{v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if work.is_empty() {
        println!("Nothing waits for {}.", p(&user.name));
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} item(s) wait for {}, most pressing first:", work.len(), p(&user.name));
    for (pr, it) in &work {
        let due = pr.due.as_ref().map(|d| format!("  due {d}")).unwrap_or_default();
        println!(
            "{:<12} {:<9} {:<9} {:<15} {:>3} day(s){due}  {}",
            p(&it.external_id),
            p(&it.study),
            it.state,
            pr.why(),
            pr.days_waiting,
            p(&it.reported_term)
        );
    }
    Ok(ExitCode::SUCCESS)
}
