//! `medcoder dict ...`: releases in and out of the store, and looking terms up.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::session::Session;
use crate::meddra::release::ReadReport;
use crate::meddra::search::SearchIndex;
use crate::meddra::{diff, outline, synth, Dictionary, Release};
use crate::store::api::DeskStore;
use crate::store::Store;
use crate::text::printable;

#[derive(Subcommand, Debug)]
pub enum DictCmd {
    /// Import an official MedDRA ASCII release (its MedAscii folder or the folder above it).
    Import {
        dir: PathBuf,
        /// Load again over an already loaded copy of the same version.
        #[arg(long)]
        replace: bool,
        /// Make this release the active one.
        #[arg(long)]
        activate: bool,
    },
    /// List the loaded releases; the active one is marked.
    Versions,
    /// Make a loaded release the active one.
    Use { version: String },
    /// What changed between two loaded releases (new, non-current and moved LLTs, PTs whose primary SOC changed).
    Diff {
        old: String,
        new: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Search LLTs: words in any order, typos tolerated, current LLTs first; digits look up a code.
    Search {
        text: Vec<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Search this loaded version instead of the active one.
        #[arg(long)]
        version: Option<String>,
    },
    /// Full path(s) of an LLT or PT code: LLT > PT > HLT > HLGT > SOC.
    Show {
        code: u32,
        /// Look up in this loaded version instead of the active one.
        #[arg(long)]
        version: Option<String>,
    },
    /// Write a synthetic release in the MedDRA ASCII layout (for tests and benchmarks).
    Generate {
        out: PathBuf,
        /// Number of LLTs.
        #[arg(long, default_value_t = 80_000)]
        llts: usize,
        /// Random seed (the same seed writes the same release).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Version name written into the release.
        #[arg(long, default_value = "SYN-1.0")]
        version: String,
    },
    /// Compile a dictionary outline (assets/demo/outline.txt) into the MedDRA ASCII layout.
    BuildOutline { outline: PathBuf, out: PathBuf },
}

pub fn run(cmd: DictCmd, s: &mut Session) -> Result<ExitCode> {
    match cmd {
        DictCmd::Import { dir, replace, activate } => {
            let user = s.user_if_any()?;
            import(user.as_deref(), s.store()?, &dir, replace, activate)?;
        }
        DictCmd::Versions => {
            let store = s.store()?;
            let rs = store.releases()?;
            if rs.is_empty() {
                println!("No MedDRA release loaded. Import one with `medcoder dict import <MedAscii folder>`.");
            }
            for r in rs {
                let extras = match store.release_extras(&r.version)? {
                    Some((smq, hist)) => format!(" {smq:>4} SMQs {hist:>6} history rows "),
                    None => " ".into(),
                };
                println!(
                    "{} {:<12} {:<10} {:>6} LLTs {:>6} PTs{extras} imported {}  from {}",
                    if r.active { "*" } else { " " },
                    printable(&r.version),
                    printable(&r.language),
                    r.llt_count,
                    r.pt_count,
                    r.imported_at,
                    printable(&r.source)
                );
            }
        }
        DictCmd::Use { version } => {
            let user = s.user_if_any()?;
            let store = s.store()?;
            let carried = store.use_version(user.as_deref(), &version)?;
            println!("Active MedDRA version: {}", printable(&version));
            if carried > 0 {
                let held = store.synonyms(&version)?.iter().filter(|s| s.origin == "carried" && s.hold.is_some()).count();
                println!("Carried {carried} synonym(s) over; {held} held for review (see `medcoder recode-check`).");
            }
        }
        DictCmd::Diff { old, new, json } => {
            let store = s.store()?;
            let d = diff::diff(&store.dictionary(Some(&old))?, &store.dictionary(Some(&new))?);
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                // Release names come from files: each line is escaped (no terminal control).
                for line in diff::render(&d).lines() {
                    println!("{}", printable(line));
                }
            }
        }
        DictCmd::Search { text, limit, version } => {
            let dict = s.store()?.dictionary(version.as_deref())?;
            return Ok(search(&dict, &text.join(" "), limit));
        }
        DictCmd::Show { code, version } => {
            let dict = s.store()?.dictionary(version.as_deref())?;
            print!("{}", show(&dict, code)?);
        }
        DictCmd::Generate { .. } | DictCmd::BuildOutline { .. } => return offline(cmd),
    }
    Ok(ExitCode::SUCCESS)
}

/// The dict commands that write release folders and use no store.
pub fn offline(cmd: DictCmd) -> Result<ExitCode> {
    match cmd {
        DictCmd::Generate { out, llts, seed, version } => {
            let rel = synth::generate(llts, seed, &version);
            synth::write_ascii(&rel, &out)?;
            println!("Wrote a synthetic release of {llts} LLTs ({} PTs) to {}", rel.pts.len(), out.join("MedAscii").display());
        }
        DictCmd::BuildOutline { outline: src, out } => {
            let text = std::fs::read_to_string(&src).with_context(|| format!("reading {}", src.display()))?;
            let rel = outline::compile(&src, &text)?;
            synth::write_ascii(&rel, &out)?;
            // Check the result the way a user's import will.
            Release::read(&out)?;
            println!("Wrote {} LLTs, {} PTs, {} SOCs to {}", rel.llts.len(), rel.pts.len(), rel.socs.len(), out.join("MedAscii").display());
        }
        _ => unreachable!("the other dict commands use a store"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `medcoder demo`: a new SQLite file becomes a demo (never a real one), gets the bundled
/// dictionary, users and queue once, then opens the desk.
pub fn demo(s: &mut Session, print: bool, precision: crate::model::precision::Precision, no_model: bool) -> Result<ExitCode> {
    let db = s.sqlite("demo", "the demo runs on a new SQLite file (--db NEW.db)")?.to_path_buf();
    let mut store = Store::open(&db)?;
    if !store.is_demo()? {
        if store.log_head()?.is_some() || !store.users()?.is_empty() {
            anyhow::bail!("{} is not a demo database: `medcoder demo` needs a new database file (--db NEW.db)", db.display());
        }
        store.mark_demo()?;
    }
    ensure_demo(&mut store)?;
    super::coding::ensure_demo(&mut store)?;
    if print {
        return overview(&store);
    }
    drop(store);
    s.run_desk(precision, no_model)?;
    Ok(ExitCode::SUCCESS)
}

pub fn import(acting: Option<&str>, store: &mut dyn DeskStore, dir: &Path, replace: bool, activate: bool) -> Result<()> {
    let started = Instant::now();
    let spinner = spinner();
    spinner.set_message(format!("reading and validating {}", dir.display()));
    let (rel, report) = Release::read(dir).map_err(anyhow::Error::from).context("the release was not imported; the store is unchanged")?;
    write(acting, store, &rel, &report, replace, activate, started, spinner)
}

fn spinner() -> indicatif::ProgressBar {
    let s = indicatif::ProgressBar::new_spinner();
    s.enable_steady_tick(std::time::Duration::from_millis(100));
    s
}

/// Writes a release already read and validated, then prints the import summary.
#[allow(clippy::too_many_arguments)]
fn write(
    acting: Option<&str>,
    store: &mut dyn DeskStore,
    rel: &Release,
    report: &ReadReport,
    replace: bool,
    activate: bool,
    started: Instant,
    spinner: indicatif::ProgressBar,
) -> Result<()> {
    spinner.set_message(format!("writing MedDRA {} ({} LLTs)", rel.version, rel.llts.len()));
    let counts = store.import_release(acting, rel, report, replace, activate)?;
    spinner.finish_and_clear();
    println!("Imported MedDRA {} ({}) from {} in {:.1}s", rel.version, rel.language, report.dir.display(), started.elapsed().as_secs_f64());
    println!(
        "  {} SOCs, {} HLGTs, {} HLTs, {} PTs ({} multi-axial), {} LLTs ({} non-current), {} SMQs ({} terms), {} history rows",
        counts.socs,
        counts.hlgts,
        counts.hlts,
        counts.pts,
        counts.multi_axial_pts,
        counts.llts,
        counts.non_current,
        counts.smqs,
        counts.smq_terms,
        counts.history
    );
    if !report.cp1252_files.is_empty() {
        println!("  read as cp1252 (not UTF-8): {}", report.cp1252_files.join(", "));
    }
    if !report.optional_missing.is_empty() {
        println!("  optional files not in the release: {}", report.optional_missing.join(", "));
    }
    let active = store.active_meddra_version()?.unwrap_or_default();
    println!("  active version: {active}");
    Ok(())
}

/// Imports the bundled demo dictionary unless its version is loaded already.
pub fn ensure_demo(store: &mut Store) -> Result<()> {
    let dir = crate::paths::demo_dictionary();
    let started = Instant::now();
    let (rel, report) = Release::read(&dir).map_err(anyhow::Error::from).context("reading the bundled demo dictionary")?;
    if !store.releases()?.iter().any(|r| r.version == rel.version) {
        write(None, store, &rel, &report, false, false, started, spinner())?;
    }
    Ok(())
}

/// `dict search`: exit status 1 when nothing matches.
fn search(dict: &Dictionary, query: &str, limit: usize) -> ExitCode {
    let hits = SearchIndex::new(dict).search(query, limit);
    if hits.is_empty() {
        println!("No LLT matches '{}'.", printable(query));
        return ExitCode::from(1);
    }
    print_hits(dict, &hits);
    ExitCode::SUCCESS
}

fn print_hits(dict: &Dictionary, hits: &[crate::meddra::search::Hit]) {
    println!("{:>9}  {:<40} {:<36} primary SOC", "LLT code", "LLT", "PT");
    for h in hits {
        let l = &dict.llts[h.llt];
        let pt = dict.pt(l.pt_code).map(|p| p.name.as_str()).unwrap_or("?");
        let soc = dict.primary_path(l.pt_code).map(|p| p.soc.name).unwrap_or_default();
        let name = if l.current { l.name.clone() } else { format!("{} [non-current]", l.name) };
        println!("{:>9}  {:<40} {:<36} {}", l.code, printable(&name), printable(pt), printable(&soc));
    }
}

/// The text of `dict show`.
pub fn show(dict: &Dictionary, code: u32) -> Result<String> {
    use std::fmt::Write;
    let mut s = String::new();
    let (pt_code, llt) = match dict.llt(code) {
        Some(l) => (l.pt_code, Some(l)),
        None if dict.pt(code).is_some() => (code, None),
        None => anyhow::bail!("{code} is neither an LLT nor a PT code in MedDRA {}", dict.version),
    };
    let pt = dict.pt(pt_code).context("PT missing from the dictionary")?;
    if let Some(l) = llt {
        writeln!(s, "LLT  {}  {}{}", l.code, printable(&l.name), if l.current { "" } else { "  [non-current: may not be chosen as a new code]" })?;
    }
    writeln!(s, "PT   {}  {}", pt.code, printable(&pt.name))?;
    let paths = dict.paths(pt_code);
    for p in &paths {
        writeln!(s, "  {} path:", if p.primary { "primary" } else { "secondary" })?;
        writeln!(s, "    HLT  {}  {}", p.hlt.code, printable(&p.hlt.name))?;
        writeln!(s, "    HLGT {}  {}", p.hlgt.code, printable(&p.hlgt.name))?;
        writeln!(s, "    SOC  {}  {}", p.soc.code, printable(&p.soc.name))?;
    }
    if llt.is_none() {
        writeln!(s, "LLTs of this PT:")?;
        for l in dict.llts_of(pt_code) {
            writeln!(s, "  {}  {}{}", l.code, printable(&l.name), if l.current { "" } else { "  [non-current]" })?;
        }
    }
    Ok(s)
}

/// The main job until the coding desk exists: the active dictionary's summary and a sample search.
pub fn overview(store: &Store) -> Result<ExitCode> {
    let dict = store.active_dictionary()?;
    println!("medcoder {} — database {}", env!("CARGO_PKG_VERSION"), store.path().display());
    println!(
        "Active dictionary: {} ({}): {} SOCs, {} HLGTs, {} HLTs, {} PTs ({} multi-axial), {} LLTs ({} current)",
        dict.version,
        dict.language,
        dict.socs.len(),
        dict.hlgts.len(),
        dict.hlts.len(),
        dict.pts.len(),
        dict.multi_axial_pt_count(),
        dict.llts.len(),
        dict.current_llt_count()
    );
    let index = SearchIndex::new(&dict);
    for q in ["pain leg unilateral", "hedache", "rash itchy"] {
        println!("\nSearch '{q}':");
        print_hits(&dict, &index.search(q, 5));
    }
    Ok(ExitCode::SUCCESS)
}
