//! Reviewer tools: `confirm-bulk` (one signature for every proposed item a filter covers) and
//! `history` (how a verbatim was coded before).

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use super::session::Session;
use crate::store::bulk::{BulkFilter, Route};
use crate::store::item::{ItemFilter, State};
use crate::text::printable as p;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RouteArg {
    /// The exact-name rule.
    Rule,
    /// The synonym list.
    Synonym,
    /// Model-first coding.
    ModelFirst,
    /// A coder accepting a model proposal.
    Model,
    /// A coder's search, browse or typed code.
    Person,
}

impl From<RouteArg> for Route {
    fn from(r: RouteArg) -> Route {
        match r {
            RouteArg::Rule => Route::Rule,
            RouteArg::Synonym => Route::Synonym,
            RouteArg::ModelFirst => Route::ModelFirst,
            RouteArg::Model => Route::Model,
            RouteArg::Person => Route::Person,
        }
    }
}

#[derive(Args, Debug)]
pub struct BulkArgs {
    /// Only this study's items.
    #[arg(long)]
    pub study: Option<String>,
    /// Only items coded this way.
    #[arg(long, value_enum)]
    pub route: Option<RouteArg>,
    /// Only items proposed with this LLT.
    #[arg(long)]
    pub llt: Option<u32>,
    /// Only items of this reported term (case, spaces and punctuation ignored).
    #[arg(long)]
    pub term: Option<String>,
    /// Confirm them. Without it the items are listed and nothing changes.
    #[arg(long)]
    pub yes: bool,
    /// With --yes: confirm only if the items (ids, revisions, codes) are still the ones a listing
    /// named with this token; anything changed since refuses the whole confirmation.
    #[arg(long, value_name = "TOKEN", requires = "yes")]
    pub expect: Option<String>,
}

/// A short digest of what a selection holds (each item's id, revision and LLT), so that a
/// confirmation can be held to the listing the reviewer read.
fn token(items: &[crate::store::item::Item]) -> String {
    use sha2::Digest;
    let mut rows: Vec<String> = items.iter().map(|i| format!("{}\t{}\t{}", i.external_id, i.revision, i.llt_code.unwrap_or(0))).collect();
    rows.sort();
    hex::encode(&sha2::Sha256::digest(rows.join("\n").as_bytes())[..6])
}

/// `confirm-bulk`: the proposed items the filter covers, read once; each is then confirmed at the
/// revision read, as its own decision.
pub fn confirm_bulk(s: &mut Session, args: BulkArgs) -> Result<ExitCode> {
    let filter = BulkFilter { study: args.study, route: args.route.map(Route::from), llt: args.llt, term: args.term };
    if filter.is_empty() {
        bail!("name what you sign for: --study, --route, --llt or --term (a bulk confirmation never covers the whole queue by default)");
    }
    let user = s.user()?;
    let store = s.store()?;
    let dict = store.active_dictionary()?;
    let seen: Vec<_> = store
        .items(&ItemFilter { states: vec![State::Proposed], study: filter.study.clone(), text: None })?
        .into_iter()
        .filter(|i| filter.matches(i))
        .collect();
    if seen.is_empty() {
        bail!("no proposed item matches {}", p(&filter.describe()));
    }
    let now = token(&seen);
    if let Some(expected) = &args.expect {
        if expected.trim() != now {
            bail!(
                "the selection changed since it was listed ({} proposed item(s) match {} now): list it again and confirm with its new token; nothing was confirmed",
                seen.len(),
                p(&filter.describe())
            );
        }
    }
    if !args.yes {
        println!("{} proposed item(s) match {}:", seen.len(), p(&filter.describe()));
        for it in &seen {
            let own = if it.proposer.as_deref() == Some(&user) { "  (your proposal: left out)" } else { "" };
            println!(
                "  {:<14} rev {:<3} {:<36} -> {:>9} {:<30} {} by {}{own}",
                p(&it.external_id),
                it.revision,
                p(&crate::text::truncate(&it.reported_term, 36)),
                it.llt_code.map_or("-".into(), |c| c.to_string()),
                p(&crate::text::truncate(&it.llt_code.and_then(|c| dict.llt(c)).map(|l| l.name.clone()).unwrap_or_default(), 30)),
                it.source.as_deref().unwrap_or("-"),
                p(it.proposer.as_deref().unwrap_or("-")),
            );
        }
        println!("Codes you may not confirm for another reason (a synonym you imported, a model-first code of your run) are left out too, and named when confirming.");
        println!("Nothing changed. To confirm exactly these with one signature (each item logged on its own), add: --yes --expect {now}");
        return Ok(ExitCode::SUCCESS);
    }
    let out = store.confirm_seen(&dict, &user, &seen, None)?;
    println!("{} item(s) confirmed ({}), signed by {}", out.done.len(), p(&filter.describe()), p(&user));
    for it in &out.done {
        println!("  {} (revision {})", p(&it.external_id), it.revision);
    }
    for (id, why) in &out.skipped {
        println!("  left out {}: {}", p(id), p(why));
    }
    Ok(if out.done.is_empty() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
