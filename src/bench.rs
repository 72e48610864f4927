//! `medcoder bench`: speed targets measured on generated data of real MedDRA size.
//! Results are recorded in BENCHMARKS.md with date, machine and command.

use std::time::{Duration, Instant};

use anyhow::Result;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::meddra::search::SearchIndex;
use crate::meddra::{synth, Dictionary, Release};
use crate::store::Store;

/// The q-quantile (nearest rank) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// p50, p95 and max of `v`.
fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (quantile(&v, 0.5), quantile(&v, 0.95), quantile(&v, 1.0))
}

/// Reported terms for timing: the demo queue's, cycled.
fn sample_terms(n: usize) -> Result<Vec<String>> {
    let (items, _, _) = crate::intake::queue::read_file(&crate::paths::assets_dir().join("demo/queue.csv"))?;
    Ok(items.iter().map(|i| i.reported_term.clone()).cycle().take(n).collect())
}

pub fn propose(db: &std::path::Path, runs: usize, batch: usize, precision: crate::model::precision::Precision) -> Result<()> {
    let mut store = Store::open(db)?;
    let dict = store.dictionary_or_active(None)?;
    let engine = crate::engine::Engine::builder(dict).memory(&mut store).precision(precision).progress(true).build()?;
    println!("{}", engine.describe());
    println!("torch threads: {}", tch::get_num_threads());
    let terms = sample_terms(runs.max(batch))?;
    // Warm-up: first calls allocate and pick kernels, for a full batch (the batch timing below)
    // and for single terms; the reference pipeline warms up the same way.
    let refs: Vec<&str> = terms.iter().take(batch).map(String::as_str).collect();
    engine.propose(&refs)?;
    for t in terms.iter().take(5) {
        engine.propose(&[t.as_str()])?;
    }
    let mut ms = Vec::with_capacity(runs);
    for t in terms.iter().take(runs) {
        let s = Instant::now();
        engine.propose(&[t.as_str()])?;
        ms.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p95, max) = percentiles(ms);
    println!("one term's top-5 ({runs} terms, one at a time): p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");
    let refs: Vec<&str> = terms.iter().take(batch).map(String::as_str).collect();
    let tok0 = crate::model::tokenize::host_seconds();
    let s = Instant::now();
    let out = engine.propose(&refs)?;
    let secs = s.elapsed().as_secs_f64();
    let tok = crate::model::tokenize::host_seconds() - tok0;
    println!("batch of {}: {:.2} s, {:.0} terms/s", out.len(), secs, out.len() as f64 / secs);
    println!("  of which tokenizing on the host: {:.1} ms ({:.1}% of the batch)", tok * 1e3, 100.0 * tok / secs);
    Ok(())
}

pub fn desk(llts: usize, items: usize) -> Result<()> {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    let tmp = tempfile::tempdir()?;
    let db = tmp.path().join("desk.db");
    let mut store = Store::open(&db)?;
    let rel = synth::generate(llts, 42, "BENCH-1");
    store.import_release(None, &rel, "bench", false, false)?;
    store.add_user(None, "coder", crate::store::users::Role::Coder)?;
    let terms = sample_terms(items)?;
    let new: Vec<crate::intake::queue::NewItem> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| crate::intake::queue::NewItem {
            line: i + 2,
            report: crate::intake::queue::Report {
                external_id: format!("B{i:05}"),
                study: format!("S{}", i % 3),
                subject: format!("{i}"),
                reported_term: t.clone(),
                ..Default::default()
            },
        })
        .collect();
    store.import_items("coder", &new, "bench")?;
    // Stored proposals for every item, as after `medcoder propose` (the queue shows each top one).
    let current: Vec<&crate::meddra::Llt> = rel.llts.iter().filter(|l| l.current).collect();
    let ids: Vec<i64> = store.items(&Default::default())?.iter().map(|i| i.id).collect();
    let sets: Vec<(i64, crate::store::proposals::ProposalSet)> = ids
        .iter()
        .enumerate()
        .map(|(k, &id)| {
            let proposals = (0..crate::engine::TOP)
                .map(|r| {
                    let l = current[(k * 7 + r * 13) % current.len()];
                    crate::store::proposals::Proposal {
                        llt_code: l.code,
                        pt_code: l.pt_code,
                        score: -(r as f64),
                        confidence: 0.5 / (r + 1) as f64,
                        evidence: None,
                        pt_confidence: None,
                        raw: None,
                    }
                })
                .collect();
            (
                id,
                crate::store::proposals::ProposalSet {
                    model_version: "bench".into(),
                    meddra_version: rel.version.clone(),
                    entropy: Some(1.0),
                    proposals,
                    computed_at: "bench".into(),
                },
            )
        })
        .collect();
    let t = Instant::now();
    store.set_proposals(&sets)?;
    println!("store proposals for {items} items (one transaction): {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    // One item in a hundred already proposed: a selective state filter next to a broad one.
    let dictionary = store.active_dictionary()?;
    for (k, (id, set)) in sets.iter().enumerate().step_by(100) {
        let llt = set.proposals[0].llt_code;
        store.act(
            &dictionary,
            "coder",
            &format!("B{k:05}"),
            None,
            crate::store::workflow::Action::Propose { llt, source: crate::store::workflow::Source::Model },
        )?;
        debug_assert!(*id > 0);
    }
    let t = Instant::now();
    let mut app = crate::tui::app::App::new(Box::new(store), Some("coder"))?;
    println!("desk start on {llts} LLTs and {items} queue items (dictionary load, search index, queue): {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    let theme = crate::tui::theme::Theme { color: false };
    let mut term = Terminal::new(TestBackend::new(120, 40))?;
    let mut frame = |app: &mut crate::tui::app::App, key: Option<KeyCode>| -> Result<f64> {
        let s = Instant::now();
        if let Some(k) = key {
            app.on_key(KeyEvent::new(k, KeyModifiers::NONE));
        }
        term.draw(|f| app.draw(f, theme))?;
        Ok(s.elapsed().as_secs_f64() * 1e3)
    };
    let mut moves = Vec::new();
    for _ in 0..200 {
        moves.push(frame(&mut app, Some(KeyCode::Down))?);
    }
    let mut opens = Vec::new();
    let mut typing = Vec::new();
    let words = ["hepatic pain", "renal failure", "cardiac", "skin ulcer", "muscle atrophy"];
    for w in words {
        opens.push(frame(&mut app, Some(KeyCode::Enter))?);
        frame(&mut app, Some(KeyCode::Char('/')))?;
        for c in w.chars() {
            typing.push(frame(&mut app, Some(KeyCode::Char(c)))?);
        }
        frame(&mut app, Some(KeyCode::Esc))?;
        frame(&mut app, Some(KeyCode::Esc))?;
        frame(&mut app, Some(KeyCode::Down))?;
    }
    // Reloading the whole list (`r`, or back to the list from an item), then lists filtered by
    // state, by study and by text (the filters are SQL).
    let reload = |app: &mut crate::tui::app::App, filter: &dyn Fn(&mut crate::tui::screens::queue::Queue)| -> Result<Vec<f64>> {
        let saved = (app.queue.state_filter, app.queue.study_filter.clone(), app.queue.text_filter.clone());
        filter(&mut app.queue);
        let mut v = Vec::new();
        for _ in 0..10 {
            let s = Instant::now();
            app.queue.refresh(&app.ctx)?;
            v.push(s.elapsed().as_secs_f64() * 1e3);
        }
        (app.queue.state_filter, app.queue.study_filter, app.queue.text_filter) = saved;
        app.queue.refresh(&app.ctx)?;
        Ok(v)
    };
    let refreshes = reload(&mut app, &|_| {})?;
    let by_state = reload(&mut app, &|q| q.state_filter = Some(crate::store::item::State::New))?;
    let by_rare_state = reload(&mut app, &|q| q.state_filter = Some(crate::store::item::State::Proposed))?;
    let by_study = reload(&mut app, &|q| q.study_filter = Some("S1".into()))?;
    let by_text = reload(&mut app, &|q| q.text_filter = "pain".into())?;
    // Proposing the top proposal: store write and log entry, row update, the next item opened.
    frame(&mut app, Some(KeyCode::Enter))?;
    let mut actions = Vec::new();
    for _ in 0..10 {
        actions.push(frame(&mut app, Some(KeyCode::Char('1')))?);
    }
    for (name, v) in [
        ("move in the queue list", moves),
        ("open an item", opens),
        ("type in search (per key)", typing),
        ("propose the top code", actions),
        ("reload the whole queue", refreshes),
        ("reload, state new (99%)", by_state),
        ("reload, state proposed (1%)", by_rare_state),
        ("reload, study (33%)", by_study),
        ("reload, text 'pain'", by_text),
    ] {
        let n = v.len();
        let (p50, p95, max) = percentiles(v);
        println!("{name:<28} {n:>4} frames: p50 {p50:.2} ms, p95 {p95:.2} ms, max {max:.2} ms");
    }
    Ok(())
}

pub fn dict(llts: usize, queries: usize) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let rel = synth::generate(llts, 42, "BENCH-1");
    synth::write_ascii(&rel, tmp.path())?;
    let db = tmp.path().join("bench.db");
    let mut store = Store::open(&db)?;

    let t = Instant::now();
    let (read, _) = Release::read(tmp.path())?;
    let parse = t.elapsed();
    store.import_release(None, &read, "bench", false, false)?;
    let import = t.elapsed();
    println!(
        "import of {llts} LLTs ({} PTs): {:.2} s (read + validate {:.2} s, write {:.2} s)",
        rel.pts.len(),
        import.as_secs_f64(),
        parse.as_secs_f64(),
        (import - parse).as_secs_f64()
    );

    let t = Instant::now();
    let dictionary: Dictionary = store.active_dictionary()?;
    let load = t.elapsed();
    let t = Instant::now();
    let index = SearchIndex::new(&dictionary);
    let build = t.elapsed();
    println!("load from store: {:.0} ms; search index build: {:.0} ms", load.as_secs_f64() * 1e3, build.as_secs_f64() * 1e3);

    let qs = queries_from(&dictionary, queries);
    let mut times: Vec<Duration> = Vec::with_capacity(qs.len());
    let mut found = 0;
    for q in &qs {
        let t = Instant::now();
        let hits = index.search(q, 20);
        times.push(t.elapsed());
        found += usize::from(!hits.is_empty());
    }
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "search over {} queries (whole words, prefixes, typos, shuffled words; {} with results): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        qs.len(),
        found,
        quantile(&ms, 0.5),
        quantile(&ms, 0.95),
        quantile(&ms, 0.99),
        quantile(&ms, 1.0)
    );
    Ok(())
}

/// Queries a coder would type: real names, typed prefixes, one typo, words shuffled.
fn queries_from(d: &Dictionary, n: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..n)
        .map(|i| {
            let name = d.llts[rng.gen_range(0..d.llts.len())].name.to_lowercase();
            let mut words: Vec<String> = name.split_whitespace().map(str::to_string).collect();
            match i % 4 {
                0 => name,
                1 => {
                    let w = &words[0];
                    w.chars().take(w.chars().count().clamp(1, 4)).collect()
                }
                2 => {
                    let wi = rng.gen_range(0..words.len());
                    let mut cs: Vec<char> = words[wi].chars().collect();
                    if cs.len() > 3 {
                        let j = rng.gen_range(1..cs.len() - 1);
                        cs.swap(j, j + 1);
                    }
                    words[wi] = cs.into_iter().collect();
                    words.join(" ")
                }
                _ => {
                    words.reverse();
                    words.join(" ")
                }
            }
        })
        .collect()
}

/// The coded-term memory at `terms` remembered terms on the demo dictionary: memory load at desk
/// start (synonym rows and cached embeddings), one term's top-5, learning one confirmed decision,
/// and a replay of `replay_rows` rows. Targets (CPU): top-5 < 100 ms, learning < 50 ms, load < 1 s,
/// replay of 10,000 rows < 5 minutes.
pub fn memory(terms: usize, replay_rows: usize) -> Result<()> {
    use crate::engine::Engine;
    use crate::intake::labelled::Labelled;
    use std::sync::Arc;

    let tmp = tempfile::tempdir()?;
    let cache = tmp.path().join("cache");
    let mut store = Store::open(&tmp.path().join("memory.db"))?;
    let (rel, _) = Release::read(&crate::paths::assets_dir().join("demo"))?;
    store.import_release(None, &rel, "bench", true, false)?;
    store.add_user(None, "admin", crate::store::users::Role::Admin)?;
    store.add_user(Some("admin"), "coder", crate::store::users::Role::Coder)?;
    store.add_user(Some("admin"), "reviewer", crate::store::users::Role::Reviewer)?;
    let dict = Arc::new(store.active_dictionary()?);
    let current: Vec<&crate::meddra::Llt> = dict.llts.iter().filter(|l| l.current).collect();
    // Distinct verbatim-like terms: an LLT name with a numbered qualifier.
    let rows: Vec<Labelled> = (0..terms)
        .map(|i| Labelled { term: format!("{} episode {i}", current[i % current.len()].name), llt: current[i % current.len()].code, line: i + 2 })
        .collect();
    let t = Instant::now();
    store.import_synonyms("admin", &dict, "", &rows, "bench")?;
    println!("synonym list of {terms} terms written: {:.1} s", t.elapsed().as_secs_f64());

    // The embedding cache a desk finds after its first start (random unit rows: timing does not
    // depend on the values; embedding 100,000 terms once takes minutes on a CPU).
    let base = crate::model::BaseModel::locate(None)?;
    let device = crate::torch_env::device();
    let mut engine = Engine::builder(dict.clone()).base(&base).device(device).data_dir(tmp.path()).zero_shot().build()?;
    let hidden = base.config.hidden_size;
    for (i, r) in rows.iter().enumerate() {
        let v = tch::Tensor::randn([hidden], (tch::Kind::Float, device));
        engine.remember(&crate::text::normalize(&r.term), r.llt, Some(format!("B{i}")), &(&v / v.norm()));
    }
    engine.memory.save_cache(&cache, &base.fingerprint()?)?;

    let mut engine = Engine::builder(dict.clone()).base(&base).device(device).data_dir(tmp.path()).zero_shot().build()?;
    let t = Instant::now();
    engine.sync_memory(&mut store)?;
    println!("memory load at desk start ({} terms, synonym rows + cached embeddings): {:.0} ms", engine.memory.len(), t.elapsed().as_secs_f64() * 1e3);

    let queries = sample_terms(100)?;
    for q in queries.iter().take(5) {
        engine.propose(&[q.as_str()])?;
    }
    let mut ms = Vec::new();
    for q in &queries {
        let s = Instant::now();
        engine.propose(&[q.as_str()])?;
        ms.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p95, max) = percentiles(ms);
    println!("one term's top-5 with {terms} remembered terms: p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms");

    // Learning one confirmed decision: the confirm writes the synonym, the engine learns it.
    let (items, _, _) = crate::intake::queue::read_file(&crate::paths::assets_dir().join("demo/queue.csv"))?;
    let fresh: Vec<crate::intake::queue::NewItem> = items.into_iter().take(20).collect();
    store.import_items("coder", &fresh, "bench")?;
    let (mut confirm_ms, mut learn_ms) = (Vec::new(), Vec::new());
    for it in &fresh {
        let llt = current[it.line % current.len()].code;
        let Ok(item) =
            store.act(&dict, "coder", &it.external_id, None, crate::store::workflow::Action::Propose { llt, source: crate::store::workflow::Source::Manual })
        else {
            continue;
        };
        let s = Instant::now();
        store.act(&dict, "reviewer", &item.external_id, None, crate::store::workflow::Action::Confirm)?;
        confirm_ms.push(s.elapsed().as_secs_f64() * 1e3);
        let s = Instant::now();
        engine.sync_memory(&mut store)?;
        learn_ms.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let (c50, c95, _) = percentiles(confirm_ms);
    let (l50, l95, lmax) = percentiles(learn_ms);
    println!("confirm (store, synonym, autocode): p50 {c50:.1} ms, p95 {c95:.1} ms; engine learns it: p50 {l50:.1} ms, p95 {l95:.1} ms, max {lmax:.1} ms");

    // A replay of a stream of verbatim-like terms (names with a typo or words swapped).
    let names = queries_from(&dict, replay_rows);
    let stream: Vec<Labelled> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| dict.llts.iter().find(|l| l.name.to_lowercase() == *n || n.contains(&l.name.to_lowercase())).map(|l| (i, n, l)))
        .map(|(i, n, l)| Labelled { term: n.clone(), llt: l.code, line: i + 2 })
        .collect();
    let stream: Vec<Labelled> = stream.into_iter().cycle().take(replay_rows).collect();
    let t = Instant::now();
    let r = crate::replay::replay(&mut engine, &stream, crate::replay::Learning::Memory, true, false)?;
    println!("replay of {} rows (zero-shot + synonyms + memory): {:.1} s", r.n, t.elapsed().as_secs_f64());
    Ok(())
}

/// The encoder `bench train` trains from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainEncoder {
    /// A random 2-layer, 32-wide BERT with the base tokenizer: the stages' memory depends on the
    /// label and sample counts, not on the encoder, and it runs in minutes on a CPU.
    Tiny,
    /// The installed base encoder (MiniLM): realistic step times, hours of CPU at this scale.
    Base,
}

/// The whole training pipeline on a generated release of `llts` LLTs with `pairs` coded pairs,
/// `steps` optimiser steps per epoch: each stage's time and peak memory, then one term's top-5 at
/// that scale with the model just trained.
/// The recipe a bench run trains with, beside the defaults of the device.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrainShape {
    /// Terms (or XTARS pairs) per optimiser step; None: the device's default.
    pub batch: Option<usize>,
    pub members: Option<usize>,
    pub epochs: Option<usize>,
    pub xtars_epochs: Option<usize>,
}

/// The full recipe's time from measured step times: every member's epochs over all training
/// samples, and XTARS's epochs over all its pairs (1 + 5 + m per sample), at `batch` per step.
pub fn project_full_recipe(samples: usize, h: &crate::model::registry::Hyper, member_s_per_step: f64, xtars_s_per_step: f64) -> (usize, usize, f64) {
    let member_steps = h.members * h.epochs * samples.div_ceil(h.batch.max(1));
    let pairs = samples * (1 + 5 + h.negatives_m);
    let xtars_steps = h.xtars_epochs * pairs.div_ceil(h.batch.max(1));
    (member_steps, xtars_steps, member_steps as f64 * member_s_per_step + xtars_steps as f64 * xtars_s_per_step)
}

pub fn train(llts: usize, pairs: usize, steps: usize, encoder: TrainEncoder, precision: crate::model::precision::Precision, shape: TrainShape) -> Result<()> {
    use crate::engine::Engine;
    use crate::model::BaseModel;
    use crate::train::{self, data::Coded, stages, Init, Options};
    use std::sync::Arc;

    let gb = |b: Option<u64>| b.map_or("-".to_string(), |b| format!("{:.2} GB", b as f64 / 1e9));
    let tmp = tempfile::tempdir()?;
    let t = Instant::now();
    let dict = Arc::new(Dictionary::new(&synth::generate(llts, 42, "BENCH-1")));
    let current: Vec<&crate::meddra::Llt> = dict.llts.iter().filter(|l| l.current).collect();
    // Verbatim-like coded terms: a current LLT's name with a typo or a qualifier, each term unique.
    let mut rng = StdRng::seed_from_u64(9);
    let qualifiers = ["mild", "severe", "worsening", "intermittent", "grade 2", "on day 3", "left", "right"];
    let coded: Vec<Coded> = (0..pairs)
        .map(|i| {
            let l = current[rng.gen_range(0..current.len())];
            let name = train::data::char_change(&l.name.to_lowercase(), &mut rng).unwrap_or_else(|| l.name.to_lowercase());
            Coded { term: format!("{} {} {i}", qualifiers[i % qualifiers.len()], name), llt: l.code }
        })
        .collect();
    println!("release: {} LLTs ({} current), {} coded pairs, generated in {:.1} s", dict.llts.len(), current.len(), coded.len(), t.elapsed().as_secs_f64());

    let device = crate::torch_env::device();
    let base = match encoder {
        TrainEncoder::Base => BaseModel::locate(None)?,
        TrainEncoder::Tiny => BaseModel::write_tiny(&tmp.path().join("tiny"), 5)?,
    };
    let mut hyper = train::default_hyper(device);
    hyper.max_steps_per_epoch = Some(steps);
    if let Some(b) = shape.batch {
        hyper = train::at_batch(&hyper, b);
    }
    hyper.members = shape.members.unwrap_or(hyper.members);
    hyper.epochs = shape.epochs.unwrap_or(hyper.epochs);
    hyper.xtars_epochs = shape.xtars_epochs.unwrap_or(hyper.xtars_epochs);
    println!(
        "encoder: {} ({} layers, hidden {}), {:?}, {} members x {} epochs + {} XTARS epoch(s), at most {steps} steps each",
        base.dir.display(),
        base.config.num_hidden_layers,
        base.config.hidden_size,
        device,
        hyper.members,
        hyper.epochs,
        hyper.xtars_epochs
    );
    let log = Arc::new(stages::Stages::new());
    let o = Options { hyper, device_batch: shape.batch.is_none(), seed: 13, device, progress: true, stages: Some(log.clone()) };
    let t = Instant::now();
    let out = train::train(dict.clone(), &coded, &Init::Base(base.clone()), &o, tmp.path(), None)?;
    println!(
        "trained {} in {:.1} s: {} training samples, {} labels",
        out.manifest.id,
        t.elapsed().as_secs_f64(),
        out.manifest.train_samples,
        out.manifest.labels
    );
    println!("{:<24} {:>9} {:>10} {:>7} {:>10}", "stage", "seconds", "peak RSS", "steps", "s/step");
    let mut peak = 0u64;
    for s in log.stages() {
        peak = peak.max(s.peak_rss.unwrap_or(0));
        let per = if s.steps > 0 { format!("{:.3}", s.seconds / s.steps as f64) } else { "-".into() };
        println!("{:<24} {:>9.1} {:>10} {:>7} {:>10}", s.name, s.seconds, gb(s.peak_rss), s.steps, per);
    }
    println!("peak resident memory of any stage: {}", gb(Some(peak)));
    // Step times from the step stages alone (validation and saving apart), the first member's
    // first epoch left out where there are more (it carries the warm-up).
    let rate = |prefix: &str| {
        let st: Vec<_> = log.stages().into_iter().filter(|s| s.name.starts_with(prefix) && s.steps > 0).collect();
        let used = if st.len() > 1 { &st[1..] } else { &st[..] };
        let (secs, n) = used.iter().fold((0.0, 0usize), |(a, n), s| (a + s.seconds, n + s.steps));
        (n > 0).then(|| secs / n as f64)
    };
    // What the projection is for: the default recipe of this device, at the batch this run used.
    let full = crate::model::registry::Hyper { batch: out.manifest.hyper.batch, ..train::default_hyper(device) };
    if let (Some(m), Some(x)) = (rate("member "), rate("XTARS")) {
        let (ms, xs, secs) = project_full_recipe(out.manifest.train_samples, &full, m, x);
        println!(
            "steps/s at batch {}: ensemble {:.2}, XTARS {:.2}; the full recipe ({} members x {} epochs, {} XTARS epochs) over {} samples: {ms} + {xs} steps, projected {:.1} min of steps",
            full.batch,
            1.0 / m,
            1.0 / x,
            full.members,
            full.epochs,
            full.xtars_epochs,
            out.manifest.train_samples,
            secs / 60.0
        );
    }

    let engine =
        Engine::builder(dict).base(&base).device(device).data_dir(tmp.path()).model(Some(&out.manifest.id)).notes(&mut |_| {}).precision(precision).build()?;
    let terms: Vec<String> = coded.iter().take(300).map(|c| c.term.clone()).collect();
    // Warm-up with a full batch, then single terms as the desk asks for them.
    engine.propose(&terms.iter().take(64).map(String::as_str).collect::<Vec<_>>())?;
    let mut ms = Vec::new();
    for term in terms.iter().skip(64).take(100) {
        let s = Instant::now();
        engine.propose(&[term.as_str()])?;
        ms.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let (p50, p95, max) = percentiles(ms);
    println!("one term's top-5 at {llts} LLTs ({}): p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms", engine.describe());
    Ok(())
}
