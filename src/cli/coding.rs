//! Workflow commands over the one store API: queue, propose/confirm/return/query/recode, export,
//! back-test, recode check, training data, settings.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};

use super::export::output;
use super::session::Session;
use crate::intake::queue as intake;
use crate::meddra::Dictionary;
use crate::store::api::{Backend, DeskStore};
use crate::store::item::{ItemFilter, State};
use crate::store::model_first;
use crate::store::users::Role;
use crate::store::workflow::{Action, Source};
use crate::store::Store;
use crate::text::printable as p;

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Import reported terms from CSV (header row) or JSON Lines (.jsonl), or an SDTM AE or MH
    /// dataset (SAS transport .xpt, Dataset-JSON .json/.ndjson, or CSV with AETERM/MHTERM).
    Import { file: PathBuf },
    /// List items, optionally filtered.
    List {
        /// Comma-separated states: new, proposed, returned, query, answered, split, void, confirmed.
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
    /// The SDTM datasets received (kept to be written back by `export --sdtm`).
    Datasets,
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
    /// Model-first coding: untouched items whose top PT confidence clears the validated threshold
    /// are proposed by the model and go straight to a reviewer (off by default). Admins only.
    ModelFirst { value: OnOff },
    /// The PT@1 the validated threshold must show (one-sided 95% lower bound), in percent
    /// (default 95). Admins only.
    ModelFirstTarget { percent: f64 },
    /// The do-not-autocode list: terms and LLTs a person always codes. Admins only.
    #[command(subcommand)]
    DoNotAutocode(ExcludeCmd),
    /// Confirmed codes become synonyms at once (immediate, default) or candidates that a reviewer
    /// or admin approves (review; `synonym approve|decline`). Admins only.
    SynonymApproval { value: ApprovalMode },
    /// Which synonym list a confirmation teaches: the global list (default) or the item's study's
    /// own list, which wins over the global one for that study's items. Admins only.
    SynonymScope { value: ScopeMode },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ApprovalMode {
    Immediate,
    Review,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ScopeMode {
    Global,
    Study,
}

#[derive(Subcommand, Debug)]
pub enum ExcludeCmd {
    /// List the entries.
    List,
    /// Add a reported term (`term TEXT`) or an LLT (`llt CODE`).
    Add { kind: ExcludeKind, value: String },
    /// Remove an entry.
    Remove { kind: ExcludeKind, value: String },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExcludeKind {
    Term,
    Llt,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OnOff {
    On,
    Off,
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

pub fn queue(cmd: QueueCmd, s: &mut Session) -> Result<ExitCode> {
    match cmd {
        QueueCmd::Import { file } => {
            let user = s.user()?;
            let name = file.display().to_string();
            if let Some(received) = crate::intake::sdtm::receive(&file)? {
                return import_dataset(s, &user, &received, &name);
            }
            let (items, bad, ignored) = intake::read_file(&file)?;
            let report = s.store()?.import_items(&user, &items, &name)?;
            println!(
                "Imported {} item(s) from {} ({} coded by the exact-name rule, {} from the synonym list)",
                report.imported,
                p(&file.display().to_string()),
                report.autocoded,
                report.by_synonym
            );
            for d in &report.superseded {
                println!("  line {}: {} (a new revision; the old term stays in the history)", d.line, p(&d.reason));
            }
            for d in &report.duplicates {
                println!("  skipped line {}: {}", d.line, p(&d.reason));
            }
            if let Some(code) = report_rejected(&bad, &ignored) {
                return Ok(code);
            }
        }
        QueueCmd::List { state, study, text, json } => {
            let store = s.store()?;
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
                let counts: Vec<String> = store.state_counts()?.iter().filter(|(s, n)| s.in_counts(*n)).map(|(s, n)| format!("{s} {n}")).collect();
                println!("{}", counts.join(" | "));
                for it in &items {
                    let code = it.llt_code.map(|c| format!(" = LLT {c}")).unwrap_or_default();
                    println!("{:<10} {:<10} {:<9} {:<8} {}{code}", p(&it.external_id), it.state, p(&it.study), p(&it.subject), p(&it.reported_term));
                }
            }
        }
        QueueCmd::Show { id } => show(s.store()?, &id)?,
        QueueCmd::Datasets => return super::dataset::list(s.store()?),
    }
    Ok(ExitCode::SUCCESS)
}

/// `queue import` of an SDTM dataset: its records queued and the dataset kept, together.
fn import_dataset(s: &mut Session, user: &str, received: &crate::intake::sdtm::Received, file: &str) -> Result<ExitCode> {
    let report = s.store()?.import_dataset(user, received, file)?;
    let ds = &received.dataset;
    println!(
        "Imported {} item(s) from the {} dataset {} ({} records; {} coded by the exact-name rule, {} from the synonym list)",
        report.imported,
        ds.domain(),
        p(file),
        ds.rows.len(),
        report.autocoded,
        report.by_synonym
    );
    match report.dataset {
        Some(id) if report.dataset_unchanged => println!("  dataset {id} again, as it stands: not kept twice"),
        Some(id) => println!("  kept as dataset {id}: `export --sdtm --out FILE` writes it back with the codes of its confirmed records"),
        None => {}
    }
    // A re-delivery that lacks records of the one before: their items stay queued.
    let store = s.store()?;
    let before: Vec<_> = store
        .datasets()?
        .into_iter()
        .filter(|d| Some(d.id) != report.dataset && d.domain == ds.domain() && received.items.first().is_some_and(|i| i.study == d.study))
        .collect();
    if let (Some(prev), false) = (before.last(), report.dataset_unchanged) {
        let now: std::collections::HashSet<&str> = received.items.iter().map(|i| i.external_id.as_str()).collect();
        let gone: Vec<String> = store.dataset_record_ids(prev.id)?.into_iter().filter(|id| !now.contains(id.as_str())).collect();
        if !gone.is_empty() {
            let shown: Vec<&str> = gone.iter().take(10).map(String::as_str).collect();
            let more = if gone.len() > 10 { format!(" and {} more", gone.len() - 10) } else { String::new() };
            println!(
                "  {} record(s) of dataset {} are not in this delivery: {}{more}; their items stay queued (a deleted event is the site's to confirm)",
                gone.len(),
                prev.id,
                p(&shown.join(", "))
            );
        }
    }
    for d in &report.superseded {
        println!("  record {}: {} (a new revision; the old term stays in the history)", d.line, p(&d.reason));
    }
    for d in &report.duplicates {
        println!("  record {}: {}", d.line, p(&d.reason));
    }
    Ok(ExitCode::SUCCESS)
}

/// `queue show`: the desk's own view (proposals made for another MedDRA version are not shown),
/// and the item's history.
fn show(store: &mut dyn DeskStore, id: &str) -> Result<()> {
    let dict = store.active_dictionary()?;
    let v = crate::desk::item_view(store, &dict, id)?;
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
    for (name, label, value) in &v.context {
        println!("  {:<14} {}  ({})", p(name), p(value), p(label));
    }
    if let (Some(code), Some(name)) = (it.llt_code, &v.code_name) {
        println!("  code           LLT {code} {} (MedDRA {}, {} by {})", p(name), p(opt(&it.meddra_version)), opt(&it.source), p(opt(&it.proposer)));
    }
    for (what, v) in [("reviewer", &it.reviewer), ("comment", &it.comment)] {
        if let Some(v) = v {
            println!("  {what:<14} {}", p(v));
        }
    }
    if let (Some(source), Some(n)) = (&it.part_of, it.part_no) {
        let whole = store.item(source)?;
        println!("  part           {n} of {} (split from '{}')", p(source), p(&whole.reported_term));
    }
    for part in store.parts(&it.external_id)? {
        let code = part.llt_code.map(|c| format!(" = LLT {c}")).unwrap_or_default();
        println!("  split part     {} [{}] {}{code}", p(&part.external_id), part.state, p(&part.reported_term));
    }
    let assignments = store.assignments()?;
    if let Some(who) = crate::store::worklist::assignee(&assignments, &it.into()) {
        let duty = crate::store::worklist::Duty::of(it.state).map(|d| d.as_str()).unwrap_or_default();
        println!("  assigned       {} ({duty})", p(who));
    }
    if let Some(syn) = &v.synonym {
        let state = syn.hold.as_ref().map(|h| format!(", held: {h}")).unwrap_or_default();
        println!("  synonym        LLT {} ({}{})", syn.llt_code, p(&syn.provenance()), p(&state));
    }
    if let Some(model) = &v.model_version {
        let flag = if v.uncertain {
            ", PT uncertain"
        } else if v.llt_uncertain {
            ", PT clear, LLT choice uncertain"
        } else {
            ""
        };
        println!("  proposals      model {} (entropy {}{flag})", p(model), v.entropy.map_or("-".into(), |e| format!("{e:.3}")));
        for (i, prop) in v.proposals.iter().enumerate() {
            let evidence = prop.evidence.as_ref().map(|e| format!("  ({})", p(e))).unwrap_or_default();
            println!(
                "    {}. LLT {:>9} {:<40} {:>5.1}%   PT {:<32} {:>5.1}%{evidence}",
                i + 1,
                prop.llt_code,
                p(&prop.llt_name),
                100.0 * prop.confidence,
                p(&prop.pt_name),
                100.0 * prop.pt_confidence
            );
        }
    }
    println!("  history");
    for e in store.log_entries(Some(id))? {
        let code = e.entry.llt_code.map(|c| format!(" LLT {c} {}", e.entry.llt_name.clone().unwrap_or_default())).unwrap_or_default();
        let rank = e.entry.chosen_rank.map(|r| format!(" (model rank {r})")).unwrap_or_default();
        let comment = e.entry.comment.as_ref().map(|c| format!(" — {c}")).unwrap_or_default();
        println!("    {} {:<10} {:<9}{}{rank}{}", e.at, p(&e.entry.user), e.entry.action, p(code.trim_end()), p(&comment));
    }
    Ok(())
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
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

/// code / confirm / return / query / recode: one decision, checked by the store's rules.
pub fn act(s: &mut Session, id: &str, rev: Option<i64>, action: Action) -> Result<ExitCode> {
    let user = s.user()?;
    let store = s.store()?;
    let it = store.decide(&user, id, rev, action)?;
    let name = match (it.llt_code, &it.meddra_version) {
        (Some(c), Some(v)) => store.llt_name(v, c)?,
        _ => None,
    };
    let code = it.llt_code.map(|c| format!(" — LLT {c} {}", name.unwrap_or_default())).unwrap_or_default();
    println!("{} is now {} (revision {}){}", p(&it.external_id), it.state, it.revision, code.trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn data(cmd: DataCmd, store: &mut dyn DeskStore) -> Result<ExitCode> {
    match cmd {
        DataCmd::ExportTraining { out } => write_training_pairs(&store.confirmed_pairs()?, out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `data export-training`: newest decision per normalised term.
fn write_training_pairs(pairs: &[crate::store::reports::TrainingPair], out: Option<PathBuf>) -> Result<()> {
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

pub fn backtest(store: &mut dyn DeskStore, json: bool, plot: Option<PathBuf>, model: Option<String>) -> Result<ExitCode> {
    let cases = store.backtest_cases(model.as_deref())?;
    // The threshold of the model asked for, else of the newest decisions' model.
    let validation = match &model {
        Some(m) => {
            let target = model_first::parse_target(store.setting(model_first::TARGET)?.as_deref())?;
            crate::backtest::validate(&cases, target).for_model(Some(m))
        }
        None => store.validation()?,
    };
    backtest_report(&cases, validation, json, plot)
}

/// The back-test of confirmed decisions.
fn backtest_report(cases: &[crate::backtest::Case], validation: crate::backtest::Validation, json: bool, plot: Option<PathBuf>) -> Result<ExitCode> {
    if cases.is_empty() {
        println!("No confirmed items with model proposals yet: nothing to back-test.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut report = crate::backtest::report(cases);
    // The team's own target and model, as model-first coding uses them.
    report.validation = validation;
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
        let c = &report.calibration;
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let months = p.with_file_name(format!("{stem}-months.svg"));
        let reliability = p.with_file_name(format!("{stem}-reliability.svg"));
        for (path, svg) in [
            (&p, crate::backtest::render_svg(&report, &title)?),
            (&months, crate::backtest::render_months_svg(&report, &format!("{title}, by month confirmed"))?),
            (&reliability, crate::calibration::render_svg(&[("PT", &c.pt, c.pt_ece), ("LLT", &c.llt, c.llt_ece)], &format!("{title}: reliability"))?),
        ] {
            std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("Wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The confirmed codes to recode in the active version and the synonyms an upgrade held.
pub fn recode_check(store: &mut dyn DeskStore) -> Result<ExitCode> {
    let dict = store.active_dictionary()?;
    let confirmed = store.items(&ItemFilter { states: vec![State::Confirmed], ..Default::default() })?;
    print_recode_check(&crate::store::reports::recode_candidates(confirmed, &dict), store.synonyms(&dict.version)?, &dict)
}

fn print_recode_check(list: &[crate::store::reports::RecodeCandidate], synonyms: Vec<crate::store::synonyms::Synonym>, dict: &Dictionary) -> Result<ExitCode> {
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

pub fn settings(cmd: SettingsCmd, s: &mut Session) -> Result<ExitCode> {
    match cmd {
        SettingsCmd::Show => {
            let store = s.store()?;
            println!("autocode-confirm  {}", store.setting("autocode_confirm")?.unwrap_or_else(|| "off".into()));
            println!("model-first       {}", store.setting(model_first::SETTING)?.unwrap_or_else(|| "off".into()));
            let target = model_first::parse_target(store.setting(model_first::TARGET)?.as_deref())?;
            println!("model-first target {:.1}% PT@1 (one-sided 95% lower bound)", 100.0 * target);
            let list = model_first::parse_list(store.setting(model_first::EXCLUDE)?.as_deref())?;
            println!("do-not-autocode   {} entr{}", list.len(), if list.len() == 1 { "y" } else { "ies" });
            println!("synonym approval  {}", store.setting(crate::store::synonyms::APPROVAL)?.unwrap_or_else(|| "immediate".into()));
            println!("synonym scope     {}", store.setting(crate::store::synonyms::SCOPE)?.unwrap_or_else(|| "global".into()));
            println!("synonym qualifiers {} phrase(s) (`medcoder synonym qualifiers list`)", store.synonym_qualifiers()?.len());
            println!("  {}", store.validation()?.summary());
            println!("active MedDRA     {}", store.active_meddra_version()?.unwrap_or_else(|| "-".into()));
            let machine = if store.backend() == Backend::Team { " (this machine)" } else { "" };
            println!("anchor file       {}{machine}", store.anchor_file()?.display());
        }
        SettingsCmd::SynonymApproval { value } => {
            let v = match value {
                ApprovalMode::Immediate => "immediate",
                ApprovalMode::Review => "review",
            };
            let user = s.user()?;
            s.store()?.set_setting(&user, crate::store::synonyms::APPROVAL, v)?;
            println!("synonym approval set to {v}");
            if v == "review" {
                println!("  confirmed codes now become candidates: `medcoder synonym list --candidates`, then `synonym approve|decline`");
            }
        }
        SettingsCmd::SynonymScope { value } => {
            let v = match value {
                ScopeMode::Global => "global",
                ScopeMode::Study => "study",
            };
            let user = s.user()?;
            s.store()?.set_setting(&user, crate::store::synonyms::SCOPE, v)?;
            println!("synonym scope set to {v}");
            println!(
                "  confirmations now teach {}; a study's own entry still wins over the global list for its items",
                if v == "study" { "each item's study's own list" } else { "the global list" }
            );
        }
        SettingsCmd::AutocodeConfirm { value } => {
            let v = match value {
                OnOff::On => "on",
                OnOff::Off => "off",
            };
            let user = s.user()?;
            s.store()?.set_setting(&user, "autocode_confirm", v)?;
            println!("autocode-confirm set to {v}");
        }
        SettingsCmd::ModelFirst { value } => {
            let v = match value {
                OnOff::On => "on",
                OnOff::Off => "off",
            };
            let user = s.user()?;
            let store = s.store()?;
            store.set_setting(&user, model_first::SETTING, v)?;
            println!("model-first set to {v}");
            if v == "on" {
                println!("  {}", store.validation()?.summary());
            }
        }
        SettingsCmd::ModelFirstTarget { percent } => {
            let user = s.user()?;
            let store = s.store()?;
            store.set_setting(&user, model_first::TARGET, &format!("{percent}"))?;
            println!("model-first target set to {percent}% PT@1 (one-sided 95% lower bound)");
            println!("  {}", store.validation()?.summary());
        }
        SettingsCmd::DoNotAutocode(cmd) => {
            let store = s.store()?;
            let list = model_first::parse_list(store.setting(model_first::EXCLUDE)?.as_deref())?;
            let (kind, value, add) = match cmd {
                ExcludeCmd::List => {
                    if list.is_empty() {
                        println!("The do-not-autocode list is empty.");
                    }
                    for e in &list {
                        println!("{}", p(&e.as_entry()));
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                ExcludeCmd::Add { kind, value } => (kind, value, true),
                ExcludeCmd::Remove { kind, value } => (kind, value, false),
            };
            let me = s.user()?;
            let store = s.store()?;
            if store.user(&me)?.role != Role::Admin {
                bail!("{} is not an admin: only admins change the do-not-autocode list", p(&me));
            }
            let e = match kind {
                ExcludeKind::Term => {
                    if let Some(c) = crate::text::forbidden_char(&value) {
                        bail!("the term has a control or format character (U+{:04X}): type it as it is written", c as u32);
                    }
                    if crate::text::normalize(&value).is_empty() {
                        bail!("'{}' has no letters or digits: give the reported term to keep from autocoding", p(&value));
                    }
                    model_first::Excluded::Term(crate::text::normalize(&value))
                }
                ExcludeKind::Llt => {
                    let code: u32 = value.trim().parse().map_err(|_| anyhow::anyhow!("'{}' is not an LLT code (a number of up to 9 digits)", p(&value)))?;
                    // Only an LLT of a loaded release can be kept from autocoding; one already on
                    // the list can always be taken off.
                    let known = store.releases()?.iter().any(|r| store.llt_name(&r.version, code).ok().flatten().is_some());
                    if add && !known {
                        bail!("LLT {code} is in no loaded MedDRA release");
                    }
                    model_first::Excluded::Llt(code)
                }
            };
            let changed: Vec<model_first::Excluded> = match (add, list.contains(&e)) {
                (true, true) => bail!("{} is already on the do-not-autocode list", p(&e.as_entry())),
                (false, false) => bail!("{} is not on the do-not-autocode list", p(&e.as_entry())),
                (true, false) => list.iter().cloned().chain([e.clone()]).collect(),
                (false, true) => list.iter().filter(|x| **x != e).cloned().collect(),
            };
            let user = s.user()?;
            s.store()?.set_setting(&user, model_first::EXCLUDE, &model_first::list_value(&changed))?;
            println!("{} {}", if add { "added" } else { "removed" }, p(&e.as_entry()));
        }
        SettingsCmd::AnchorFile { path } => {
            let path = std::path::absolute(&path).with_context(|| format!("resolving {}", path.display()))?;
            let user = s.user()?;
            s.store()?.set_setting(&user, "anchor_file", &path.to_string_lossy())?;
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
        // The demo's admin sets it up: the log must not say the coder imported (and autocoded) the queue.
        let r = store.import_items("admin", &new, "assets/demo/queue.csv")?;
        println!("Demo queue: {} reported terms imported ({} coded by the exact-name rule, awaiting review)", r.imported, r.autocoded);
        println!("Demo users: admin (admin), alice (coder), bob and carol (reviewers)");
    }
    Ok(())
}

/// `split ID PART...`: the item becomes one part per event; with --query, the site is asked to
/// split its record too (the query is on the split item, its parts are coded meanwhile).
pub fn split(s: &mut Session, id: &str, parts: Vec<String>, query: Option<String>, rev: Option<i64>) -> Result<ExitCode> {
    let user = s.user()?;
    let store = s.store()?;
    let mut it = store.decide(&user, id, rev, Action::Split { parts })?;
    let parts = store.parts(&it.external_id)?;
    if let Some(note) = query {
        it = store.decide(&user, id, Some(it.revision), Action::Query { note })?;
    }
    println!("{} is now {} (revision {}), in {} parts:", p(&it.external_id), it.state, it.revision, parts.iter().filter(|x| x.state != State::Void).count());
    for part in parts.iter().filter(|x| x.state != State::Void) {
        let code = part.llt_code.map(|c| format!(" — coded LLT {c} by the {}", opt(&part.source))).unwrap_or_default();
        println!("  {} [{}] {}{code}", p(&part.external_id), part.state, p(&part.reported_term));
    }
    Ok(ExitCode::SUCCESS)
}
