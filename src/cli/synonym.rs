//! `medcoder synonym ...` and coding a group of identical terms at once.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

use super::export::output;
use super::session::Session;
use crate::intake::labelled::read_labelled;
use crate::meddra::Dictionary;
use crate::store::item::State;
use crate::store::synonyms::Synonym;
use crate::store::workflow::{GroupOutcome, Source};
use crate::text::printable as p;

/// Which list a synonym command is about: the global list, or one study's (a study's entry for a
/// key decides for that study's items; the global list decides the keys a study's list lacks).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ListScope {
    /// The study whose own synonym list this is about (default: the global list).
    #[arg(long, value_name = "STUDY")]
    pub study: Option<String>,
}

impl ListScope {
    fn study(&self) -> &str {
        self.study.as_deref().unwrap_or("")
    }
}

#[derive(Subcommand, Debug)]
pub enum SynonymCmd {
    /// The synonym lists of the active MedDRA version: term, list (global or a study's), LLT,
    /// provenance, hold.
    List {
        /// Only one study's list (`--study S`); by default every list.
        #[command(flatten)]
        scope: ListScope,
        /// Only terms confirmed to more than one LLT (the newest confirmation wins).
        #[arg(long)]
        conflicts: bool,
        /// Only candidates awaiting approval (setting synonym-approval review).
        #[arg(long, conflicts_with = "conflicts")]
        candidates: bool,
        /// Print JSON Lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Import a synonym list (CSV/TSV with reported_term and llt_code columns) for the active version; admins only.
    /// `--from-sdtm FILE` learns from a coded SDTM AE or MH dataset (.xpt, .json, .ndjson, .csv):
    /// xxTERM to the LLT of xxLLTCD, else of the exact name xxLLT; what does not resolve is listed.
    /// `--study S` imports onto study S's own list, which wins over the global list there.
    Import {
        #[arg(required_unless_present = "from_sdtm")]
        file: Option<PathBuf>,
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        from_sdtm: Option<PathBuf>,
        #[command(flatten)]
        scope: ListScope,
    },
    /// Write the active version's synonym lists as CSV (reported_term, llt_code, llt_name, origin,
    /// confirmations, hold, study; study empty for the global list).
    Export {
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only one study's list.
        #[command(flatten)]
        scope: ListScope,
    },
    /// Stop a synonym from autocoding (it stays listed, held); admins only. A study's retired
    /// entry keeps the global one from coding that study's items too.
    Retire {
        #[arg(required = true)]
        term: Vec<String>,
        #[command(flatten)]
        scope: ListScope,
    },
    /// Approve a synonym candidate: it autocodes from now on. Reviewers and admins who proposed
    /// or confirmed none of the codes behind it.
    Approve {
        #[arg(required = true)]
        term: Vec<String>,
        #[command(flatten)]
        scope: ListScope,
    },
    /// Decline a synonym candidate, saying why: it stays listed, held, and never autocodes.
    Decline {
        #[arg(required = true)]
        term: Vec<String>,
        #[arg(long)]
        why: String,
        #[command(flatten)]
        scope: ListScope,
    },
    /// The synonym key of a reported term: what the list matches it by, and the synonym that
    /// decides it (for the items of `--study S`: that study's entry, else the global one).
    Key {
        #[arg(required = true)]
        term: Vec<String>,
        #[command(flatten)]
        scope: ListScope,
    },
    /// The qualifiers the synonym key drops (severity, grade, frequency, time of day; <n> stands
    /// for a number). Changing the list rekeys items and synonyms; admins only.
    #[command(subcommand)]
    Qualifiers(QualifierCmd),
}

#[derive(Subcommand, Debug)]
pub enum QualifierCmd {
    /// The list in force.
    List,
    /// Add a phrase ("left" to drop laterality too, "x<n>", "at night").
    Add {
        #[arg(required = true)]
        phrase: Vec<String>,
    },
    /// Remove a phrase.
    Remove {
        #[arg(required = true)]
        phrase: Vec<String>,
    },
    /// Back to medcoder's default list.
    Reset,
}

pub fn run(cmd: SynonymCmd, s: &mut Session) -> Result<ExitCode> {
    // Importing and retiring are done as somebody; listing is not.
    s.store()?;
    let acting = s.user();
    let store = s.store()?;
    let dict = store.active_dictionary()?;
    let name = |code: u32| llt_name(&dict, code);
    match cmd {
        SynonymCmd::List { conflicts: true, json, .. } => {
            let list = store.synonym_conflicts(&dict.version)?;
            if json {
                for c in &list {
                    println!("{}", serde_json::to_string(c)?);
                }
            } else if list.is_empty() {
                println!("No term is confirmed to more than one LLT in MedDRA {}.", dict.version);
            } else {
                for c in &list {
                    println!("{}", p(&c.term));
                    for (i, (llt, n, at)) in c.llts.iter().enumerate() {
                        let mark = if i == 0 { "synonym (newest)" } else { "older" };
                        println!("  {llt:>9} {:<40} {n} confirmed, last {} — {mark}", p(&name(*llt)), at.get(..10).unwrap_or(at));
                    }
                }
            }
        }
        SynonymCmd::List { conflicts: false, candidates, json, scope } => {
            let mut list = store.synonyms(&dict.version)?;
            if let Some(study) = &scope.study {
                list.retain(|s| s.study == *study);
            }
            if candidates {
                list.retain(|s| s.approval == "pending");
                if list.is_empty() && !json {
                    println!("No synonym candidate awaits approval in MedDRA {}.", dict.version);
                    return Ok(ExitCode::SUCCESS);
                }
            }
            print_list(&list, &dict, json)?
        }
        SynonymCmd::Approve { term, .. } | SynonymCmd::Decline { term, .. } if term.join(" ").trim().is_empty() => bail!("give the candidate's reported term"),
        SynonymCmd::Approve { term, scope } => {
            let acting = acting?;
            let syn = store.decide_synonym(&acting, &dict, scope.study(), &term.join(" "), None)?;
            println!("Approved the synonym '{}' -> {} {} ({}): it autocodes from now on.", p(&syn.term), syn.llt_code, p(&name(syn.llt_code)), syn.scope());
        }
        SynonymCmd::Decline { term, why, scope } => {
            let acting = acting?;
            let syn = store.decide_synonym(&acting, &dict, scope.study(), &term.join(" "), Some(&why))?;
            println!(
                "Declined the synonym '{}' -> {} {} ({}): it stays listed, held, and never autocodes.",
                p(&syn.term),
                syn.llt_code,
                p(&name(syn.llt_code)),
                syn.scope()
            );
        }
        SynonymCmd::Key { term, scope } => {
            let term = term.join(" ");
            let key = store.synonym_key(&term)?;
            println!("{}", p(&key));
            match store.synonym(scope.study(), &term, &dict.version)? {
                Some(syn) => println!("  synonym ({}) -> {} {} ({})", syn.scope(), syn.llt_code, p(&name(syn.llt_code)), p(&syn.provenance())),
                None => println!("  no synonym has this key in MedDRA {}", dict.version),
            }
        }
        SynonymCmd::Qualifiers(cmd) => {
            let mut list = store.synonym_qualifiers()?;
            let changed = match cmd {
                QualifierCmd::List => {
                    let default = list.iter().map(String::as_str).eq(crate::qualifiers::DEFAULT.iter().copied());
                    println!("{} qualifier(s){} dropped from synonym keys:", list.len(), if default { " (the default list)" } else { "" });
                    for q in &list {
                        println!("  {}", p(q));
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                QualifierCmd::Add { phrase } => {
                    let q = crate::qualifiers::canonical(&phrase.join(" "))?;
                    if list.contains(&q) {
                        bail!("'{}' is already on the qualifier list", p(&q));
                    }
                    list.push(q);
                    list
                }
                QualifierCmd::Remove { phrase } => {
                    let q = crate::qualifiers::canonical(&phrase.join(" "))?;
                    let before = list.len();
                    list.retain(|x| *x != q);
                    if list.len() == before {
                        bail!("'{}' is not on the qualifier list (see `medcoder synonym qualifiers list`)", p(&q));
                    }
                    list
                }
                QualifierCmd::Reset => crate::qualifiers::DEFAULT.iter().map(|s| s.to_string()).collect(),
            };
            let acting = acting?;
            let r = store.set_synonym_qualifiers(&acting, &changed)?;
            println!(
                "The qualifier list has {} phrase(s): {} item key(s) changed, {} synonym(s) moved to their new key, {} merged into a newer one.",
                changed.len(),
                r.items,
                r.synonyms,
                r.merged
            );
        }
        SynonymCmd::Import { file: Some(file), scope, .. } => {
            let acting = acting?;
            let rows = read_labelled(&file)?;
            let n = store.import_synonyms(&acting, &dict, scope.study(), &rows, &file.display().to_string())?;
            println!(
                "Imported {n} synonym(s) onto the {} list for MedDRA {} from {}",
                crate::store::synonyms::scope_name(scope.study()),
                p(&dict.version),
                p(&file.display().to_string())
            );
            warn_unknown_study(store.studies()?, scope.study());
        }
        SynonymCmd::Import { from_sdtm: Some(file), scope, .. } => {
            let acting = acting?;
            let name = file.display().to_string();
            let table = crate::intake::sdtm::read(&file)?;
            let (coded, uncoded) = crate::intake::sdtm::coded_terms(&table, &name)?;
            let (rows, listed) = crate::intake::sdtm::to_synonyms(&dict, &coded);
            // An imported list like any other: never auto-confirmed, its importer never confirms.
            let n = if rows.is_empty() { 0 } else { store.import_synonyms(&acting, &dict, scope.study(), &rows, &name)? };
            println!(
                "Imported {n} synonym(s) onto the {} list for MedDRA {} from the {} dataset {} ({} coded record(s), {uncoded} without a term or an LLT)",
                crate::store::synonyms::scope_name(scope.study()),
                p(&dict.version),
                p(&table.domain),
                p(&name),
                coded.len()
            );
            if !listed.is_empty() {
                println!("Not imported ({} reason(s)):", listed.len());
                for l in &listed {
                    println!("  {}", p(l));
                }
            }
        }
        SynonymCmd::Import { .. } => unreachable!("clap requires the file or --from-sdtm"),
        SynonymCmd::Export { out, scope } => {
            let mut list = store.synonyms(&dict.version)?;
            if let Some(study) = &scope.study {
                list.retain(|s| s.study == *study);
            }
            export(list, &dict, out)?
        }
        SynonymCmd::Retire { term, scope } => {
            let acting = acting?;
            let syn = store.retire_synonym(&acting, &dict.version, scope.study(), &term.join(" "))?;
            let there = if syn.study.is_empty() { String::new() } else { format!(" in study {} (nor does the global list there)", p(&syn.study)) };
            println!("Retired the synonym '{}' -> {} {} ({}): it no longer autocodes{there}.", p(&syn.term), syn.llt_code, p(&name(syn.llt_code)), syn.scope());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A study list named for a study with no items yet is kept (its items may come later), but said.
fn warn_unknown_study(studies: Vec<String>, study: &str) {
    if !study.is_empty() && !studies.iter().any(|s| s == study) {
        println!("  note: no item of study '{}' is queued yet; the list applies to its items when they come", p(study));
    }
}

/// An LLT's name in the dictionary, or why it has none.
fn llt_name(dict: &Dictionary, code: u32) -> String {
    dict.llt(code).map(|l| l.name.clone()).unwrap_or_else(|| format!("(not in MedDRA {})", dict.version))
}

/// `synonym list`.
fn print_list(list: &[Synonym], dict: &Dictionary, json: bool) -> Result<()> {
    if json {
        for s in list {
            println!("{}", serde_json::to_string(s)?);
        }
        return Ok(());
    }
    println!("{} synonym(s) in MedDRA {} ({} held)", list.len(), dict.version, list.iter().filter(|s| s.hold.is_some()).count());
    for s in list {
        let state = s.hold.as_ref().map(|h| format!(" [held: {h}]")).unwrap_or_default();
        println!("  {:<36} {:<14} {:>9} {:<32} {}{}", p(&s.term), p(&s.scope()), s.llt_code, p(&llt_name(dict, s.llt_code)), p(&s.provenance()), p(&state));
    }
    Ok(())
}

/// `synonym export`.
fn export(list: Vec<Synonym>, dict: &Dictionary, out: Option<PathBuf>) -> Result<()> {
    let mut w = csv::Writer::from_writer(output(out.as_deref())?);
    w.write_record(["reported_term", "llt_code", "llt_name", "origin", "confirmations", "hold", "study"])?;
    for s in list {
        crate::text::write_sheet_record(
            &mut w,
            [s.term.clone(), s.llt_code.to_string(), llt_name(dict, s.llt_code), s.origin, s.confirmations.to_string(), s.hold.unwrap_or_default(), s.study],
        )?;
    }
    w.flush()?;
    Ok(())
}

fn report(out: &GroupOutcome, done: &str) -> Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{} item(s) {done}", out.done.len())?;
    for it in &out.done {
        writeln!(stdout, "  {} (revision {})", p(&it.external_id), it.revision)?;
    }
    for (id, why) in &out.skipped {
        writeln!(stdout, "  left out {}: {}", p(id), p(why))?;
    }
    Ok(if out.done.is_empty() && !out.skipped.is_empty() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// `code-group TERM LLT`: every new or returned item of the term.
pub fn code_group(s: &mut Session, term: &str, llt: u32, source: Source) -> Result<ExitCode> {
    let user = s.user()?;
    let store = s.store()?;
    let dict = store.active_dictionary()?;
    let seen = store.items_of_term(term, &[State::New, State::Returned])?;
    let out = store.propose_group(&dict, &user, &seen, llt, source)?;
    if out.done.is_empty() && out.skipped.is_empty() {
        bail!("no new or returned item has the reported term '{}'", crate::text::normalize(term));
    }
    report(&out, "proposed")
}

/// `confirm-group TERM --llt CODE`: every proposed item of the term with that LLT, except the
/// reviewer's own. The reviewer names the LLT they sign for: a group whose code changed after
/// they looked is never confirmed with the new code.
pub fn confirm_group(s: &mut Session, term: &str, llt: u32) -> Result<ExitCode> {
    let user = s.user()?;
    let store = s.store()?;
    let dict = store.active_dictionary()?;
    let seen = store.items_of_term(term, &[State::Proposed])?;
    let codes = store.group_proposed_llts(term)?;
    if dict.llt(llt).is_none() {
        bail!("{llt} is not an LLT code in MedDRA {}", dict.version);
    }
    if codes.is_empty() {
        bail!("no proposed item has the reported term '{}'", crate::text::normalize(term));
    }
    if !codes.contains(&llt) {
        bail!(
            "no proposed item of '{}' has LLT {llt} (proposed: {})",
            crate::text::normalize(term),
            codes.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        );
    }
    let out = store.confirm_group(&dict, &user, &seen, llt)?;
    report(&out, "confirmed")
}
