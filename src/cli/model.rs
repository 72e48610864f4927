//! Model commands: predict one term, propose for the queue, evaluate on a labelled file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::engine::Engine;
use crate::model::precision::Precision;
use crate::model::BaseModel;

pub struct TrainArgs {
    pub data: Vec<PathBuf>,
    pub synonyms: Option<PathBuf>,
    pub version: Option<String>,
    pub base: Option<PathBuf>,
    pub members: Option<usize>,
    pub epochs: Option<usize>,
    pub xtars_epochs: Option<usize>,
    pub batch: Option<usize>,
    pub max_steps: Option<usize>,
    pub seed: u64,
    pub fp32: bool,
    pub no_length_buckets: bool,
}

/// `store`: SQLite's file or a team database, as the model commands read them.
pub fn train(mut store: Box<dyn crate::store::ProposalStore>, a: TrainArgs) -> Result<ExitCode> {
    use crate::train::data::Coded;
    let dict = Arc::new(store.release_of(a.version.as_deref())?);
    // Oldest first: labelled files, then synonyms, then the team's own decisions (newest wins).
    let mut coded = Vec::new();
    for f in &a.data {
        let rows = crate::intake::labelled::read_labelled(f)?;
        eprintln!("{}: {} labelled pairs", f.display(), rows.len());
        coded.extend(rows.into_iter().map(|l| Coded { term: l.term, llt: l.llt }));
    }
    if let Some(f) = &a.synonyms {
        let rows = crate::intake::labelled::read_labelled(f)?;
        eprintln!("{}: {} synonym pairs", f.display(), rows.len());
        coded.extend(rows.into_iter().map(|l| Coded { term: l.term, llt: l.llt }));
    }
    let decisions = store.confirmed_pairs()?;
    eprintln!("decision log: {} confirmed pairs", decisions.len());
    coded.extend(decisions.into_iter().map(|p| Coded { term: p.reported_term, llt: p.llt_code }));
    let device = crate::torch_env::device();
    let mut hyper = crate::train::default_hyper(device);
    if let Some(v) = a.members {
        hyper.members = v.max(1);
    }
    if let Some(v) = a.epochs {
        hyper.epochs = v.max(1);
    }
    if let Some(v) = a.xtars_epochs {
        hyper.xtars_epochs = v;
    }
    if let Some(v) = a.batch {
        hyper = crate::train::at_batch(&hyper, v);
    }
    hyper.length_buckets = !a.no_length_buckets;
    hyper.max_steps_per_epoch = a.max_steps;
    hyper.mixed_precision = device.is_cuda() && !a.fp32;
    let base = BaseModel::locate(a.base.as_deref())?;
    let data_dir = crate::paths::data_dir()?;
    eprintln!(
        "Training for MedDRA {} ({} current LLTs) on {:?}{}",
        dict.version,
        dict.current_llt_count(),
        device,
        if hyper.mixed_precision { ", mixed precision" } else { "" }
    );
    let opts = crate::train::Options { hyper, device_batch: a.batch.is_none(), seed: a.seed, device, progress: true, stages: None };
    let out = crate::train::train(dict, &coded, &crate::train::Init::Base(base), &opts, &data_dir, Some(&data_dir.join("cache")))?;
    let m = &out.manifest;
    println!("Saved model {} to {} in {:.0}s", m.id, out.dir.display(), m.training_seconds);
    println!("Validation ({} terms, measured on a seeded sample of {}):", m.valid_samples, m.validation_sample);
    for c in &m.validation {
        println!("  {:<16} LLT@1 {:5.1}  PT@1 {:5.1}  LLT@5 {:5.1}", c.component, 100.0 * c.llt_at_1, 100.0 * c.pt_at_1, 100.0 * c.llt_at_5);
    }
    let f = m.fusion;
    println!("Fusion: {:.2} x ensemble + {:.2} x XTARS + {:.2} x dense, temperature {:.2}", f.w_ensemble, f.w_xtars, f.w_dense, f.temperature);
    Ok(ExitCode::SUCCESS)
}

/// `medcoder model list`.
pub fn list_models() -> Result<ExitCode> {
    let data_dir = crate::paths::data_dir()?;
    let all = crate::model::registry::list(&data_dir)?;
    if all.is_empty() {
        println!("No trained models in {}.", crate::model::registry::models_dir(&data_dir).display());
    }
    for (dir, m) in all {
        let fusion = m.validation.iter().find(|c| c.component == "fusion").map(|c| format!("validation LLT@1 {:.1}", 100.0 * c.llt_at_1)).unwrap_or_default();
        println!(
            "{}  MedDRA {}  {} members  {} train / {} valid  {}  {}",
            crate::text::printable(&m.id),
            crate::text::printable(&m.meddra_version),
            m.hyper.members,
            m.train_samples,
            m.valid_samples,
            fusion,
            crate::text::printable(&dir.display().to_string())
        );
        if let Err(e) = m.check() {
            println!("  refused: {e:#}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn predict(
    mut store: Box<dyn crate::store::ProposalStore>,
    text: &str,
    base: Option<&Path>,
    version: Option<&str>,
    model: Option<&str>,
    precision: Precision,
) -> Result<ExitCode> {
    let engine = Engine::builder(store.release_of(version)?).base_dir(base).model(model).memory(store.as_mut()).precision(precision).progress(true).build()?;
    let t = std::time::Instant::now();
    let p = engine.propose(&[text])?.remove(0);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    println!("{}", crate::text::printable(&engine.describe()));
    println!("'{}'  (entropy {:.2}, {ms:.0} ms; LLT confidence, then its PT's)", crate::text::printable(text), p.entropy);
    for (i, s) in p.proposals.iter().enumerate() {
        let llt = engine.dict.llt(s.llt_code).map(|l| l.name.as_str()).unwrap_or("?");
        let pt = engine.dict.pt(s.pt_code).map(|x| x.name.as_str()).unwrap_or("?");
        let soc = engine.dict.primary_path(s.pt_code).map(|p| p.soc.name).unwrap_or_default();
        let pt_conf = s.pt_confidence.unwrap_or(s.confidence);
        println!("  {}. {:>5.1}%  {:>9} {:<36} PT {:>5.1}% {:<32} {}", i + 1, 100.0 * s.confidence, s.llt_code, llt, 100.0 * pt_conf, pt, soc);
        if let Some(e) = &s.evidence {
            println!("                        {}", crate::text::printable(e));
        }
    }
    if let Some(g) = p.gate {
        println!("(the trained model's weight for this term: {:.0}%; the rest is the untuned dense index's)", 100.0 * g);
    }
    if !engine.memory.is_empty() {
        println!("(memory: {} confirmed term(s) of MedDRA {})", engine.memory.len(), engine.dict.version);
    }
    let learned: Vec<String> = engine.calibration.pt.observed().iter().map(|(b, n)| format!("{} {n}", b.name())).collect();
    if !learned.is_empty() {
        println!("(confidences calibrated from the team's confirmed decisions: {})", learned.join(", "));
    }
    if let Some(t) = engine.trained.as_ref().filter(|t| !t.record.is_empty()) {
        let (f, d) = t.record.tally();
        println!("(the model's record on held-out confirmed terms where it and the dense index disagreed: model right {f}, dense index right {d})");
    }
    Ok(ExitCode::SUCCESS)
}

/// Computes proposals for queue items that have none from this model (all open items with --all).
/// The proposal service on either store: `open` connects to it.
pub fn serve_on(
    open: &dyn Fn() -> Result<Box<dyn crate::store::ProposalStore>>,
    base: Option<&Path>,
    model: Option<&str>,
    precision: Precision,
    once: bool,
    poll: f64,
) -> Result<ExitCode> {
    let o = crate::engine::service::Options { poll: std::time::Duration::from_secs_f64(poll.max(0.05)), rounds: once.then_some(1) };
    let load = |store: &mut dyn crate::store::ProposalStore| {
        Engine::builder(store.active_release()?).base_dir(base).model(model).memory(store).precision(precision).progress(true).build()
    };
    crate::engine::service::serve(open, &load, &o, &mut |line| eprintln!("{} {line}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")))?;
    Ok(ExitCode::SUCCESS)
}

pub fn propose(mut store: Box<dyn crate::store::ProposalStore>, all: bool, base: Option<&Path>, model: Option<&str>, precision: Precision) -> Result<ExitCode> {
    let engine = Engine::builder(store.active_release()?).base_dir(base).model(model).memory(store.as_mut()).precision(precision).progress(true).build()?;
    let todo = store.needing_proposals(&engine.model_version, &engine.dict.version, all)?;
    println!("{}", crate::text::printable(&engine.describe()));
    if todo.is_empty() {
        println!("Every open item already has proposals from this model.");
        return Ok(ExitCode::SUCCESS);
    }
    let pb = indicatif::ProgressBar::new(todo.len() as u64);
    pb.set_style(indicatif::ProgressStyle::with_template("Proposing [{bar:30}] {pos}/{len} ETA {eta}").unwrap().progress_chars("=> "));
    let started = std::time::Instant::now();
    for chunk in todo.chunks(64) {
        let terms: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
        let sets = engine.propose(&terms)?;
        let stored: Vec<_> = chunk.iter().zip(&sets).map(|((id, _), set)| (*id, set.to_store(&engine.model_version, &engine.dict.version))).collect();
        store.store_proposals(&stored)?;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    println!("Stored proposals for {} item(s) in {:.1}s", todo.len(), started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::too_many_arguments)]
pub struct EvalArgs {
    pub file: PathBuf,
    pub train: Option<PathBuf>,
    pub version: Option<String>,
    pub base: Option<PathBuf>,
    pub model: Option<String>,
    pub components: bool,
    pub json: bool,
    pub replay: bool,
    pub plot: Option<PathBuf>,
    pub precision: Precision,
    pub pt_first: bool,
    pub no_calibration: bool,
}

pub fn eval(mut store: Box<dyn crate::store::ProposalStore>, a: EvalArgs) -> Result<ExitCode> {
    let dict = store.release_of(a.version.as_deref())?;
    // A model's accuracy on a file, not the team's memory's: that is what --replay measures.
    let mut engine = Engine::builder(dict).base_dir(a.base.as_deref()).model(a.model.as_deref()).precision(a.precision).progress(true).build()?;
    engine.pt_first = a.pt_first;
    let (file, components, json) = (a.file.as_path(), a.components, a.json);
    if a.replay {
        return replay(&mut engine, file, components, json, !a.no_calibration, a.plot.as_deref());
    }
    let train = a.train.as_deref();
    let data = crate::intake::labelled::read_labelled(file)?;
    let seen: Option<HashSet<String>> = match train {
        Some(t) => Some(crate::intake::labelled::read_labelled(t)?.into_iter().map(|l| crate::text::normalize(&l.term)).collect()),
        None => None,
    };
    // Terms the model trained on count as seen unless a training file is named.
    let seen = seen.or_else(|| {
        engine.trained.as_ref().and_then(|t| {
            // The coded terms too: validation terms were not trained on, but the model had them
            // (its fusion was fitted and its record starts on them).
            let coded = crate::paths::data_dir().ok()?.join("models").join(&t.manifest.id).join("coded_terms.txt");
            let mut seen = t.trained_on.clone();
            seen.extend(std::fs::read_to_string(coded).unwrap_or_default().lines().map(str::to_string));
            Some(seen)
        })
    });
    let mut runs = vec![("final", None)];
    if components {
        runs.extend(crate::engine::component_fusions().into_iter().map(|(n, f)| (n, Some(f))));
        // The model's fusion without the per-term gate, to show what the gate changes.
        if let Some(t) = &engine.trained {
            runs.push(("fusion, not gated", Some(t.manifest.fusion)));
        }
    }
    let mut reports = Vec::new();
    for (name, fusion) in runs {
        if fusion.is_some() && engine.trained.is_none() {
            break;
        }
        let report = crate::eval::evaluate_with(&engine, &data, seen.as_ref(), fusion, true)?;
        if !json {
            println!("{} — {name}", file.display());
            print!("{}", crate::eval::render(&report));
        }
        if let (Some(p), None) = (&a.plot, fusion) {
            let c = &report.all.calibration;
            let svg = crate::calibration::render_svg(&[("PT", &c.pt, c.pt_ece), ("LLT", &c.llt, c.llt_ece)], &format!("Reliability on {}", file.display()))?;
            std::fs::write(p, svg).with_context(|| format!("writing {}", p.display()))?;
        }
        reports.push(serde_json::json!({ "component": name, "report": report }));
    }
    if components && engine.trained.is_none() && !json {
        println!("(no trained model: the dense index is the only component)");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a replay's reliability diagram goes beside its learning curve: NAME-reliability.svg.
fn reliability_path(plot: &Path) -> PathBuf {
    let stem = plot.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "replay".into());
    plot.with_file_name(format!("{stem}-reliability.svg"))
}

/// `medcoder model half SRC DST`: config and tokenizer copied, float weights stored as fp16.
pub fn half(src: &Path, dst: &Path) -> Result<ExitCode> {
    use anyhow::Context;
    let base = BaseModel::locate(Some(src))?;
    std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(base.dir.join(f), dst.join(f)).with_context(|| format!("copying {f}"))?;
    }
    let tensors = tch::Tensor::read_safetensors(&base.weights)?;
    let half: Vec<(String, tch::Tensor)> =
        tensors.into_iter().map(|(n, t)| (n, if t.kind() == tch::Kind::Float { t.to_kind(tch::Kind::Half) } else { t })).collect();
    let out = dst.join("model.fp16.safetensors");
    tch::Tensor::write_safetensors(&half, &out)?;
    let _ = std::fs::remove_file(dst.join("model.safetensors"));
    println!("Wrote {} ({} MB)", out.display(), std::fs::metadata(&out)?.len() / 1_000_000);
    Ok(ExitCode::SUCCESS)
}

fn replay(engine: &mut Engine, file: &Path, components: bool, json: bool, calibrate: bool, plot: Option<&Path>) -> Result<ExitCode> {
    use crate::replay::{self, Learning};
    let data = crate::intake::labelled::read_labelled(file)?;
    let stages = if components { vec![Learning::ZeroShot, Learning::Synonyms, Learning::Memory] } else { vec![Learning::Memory] };
    let started = std::time::Instant::now();
    let mut reports = Vec::new();
    for learning in stages {
        reports.push(replay::replay(engine, &data, learning, calibrate, !json)?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        println!("{}", file.display());
        print!("{}", replay::render(&reports));
        println!("({:.1} s)", started.elapsed().as_secs_f64());
    }
    if let Some(p) = plot {
        std::fs::write(p, replay::render_svg(&reports, &format!("Replay of {}", file.display()))?).with_context(|| format!("writing {}", p.display()))?;
        // The reliability of the last replay (with the memory), beside the learning curve.
        if let Some(r) = reports.last() {
            let c = &r.calibration;
            let rel = reliability_path(p);
            let svg =
                crate::calibration::render_svg(&[("PT", &c.pt, c.pt_ece), ("LLT", &c.llt, c.llt_ece)], &format!("Reliability, replay of {}", file.display()))?;
            std::fs::write(&rel, svg).with_context(|| format!("writing {}", rel.display()))?;
            if !json {
                println!("Wrote {} and {}", p.display(), rel.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
