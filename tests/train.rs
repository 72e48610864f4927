//! Training end to end on a tiny random BERT saved as a checkpoint folder (fast enough for CI):
//! train -> saved model with manifest -> the engine uses it; refusals for other versions and
//! corrupted files; the CLI train / model list / eval --components / propose.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use medcoder::engine::Engine;
use medcoder::meddra::{Dictionary, Release};
use medcoder::model::registry::{self, Fusion};
use medcoder::model::BaseModel;
use medcoder::store::synonyms::Synonym;
use medcoder::train::data::Coded;
use medcoder::train::{self, Init, Options};

/// libtorch's random generator is one per process and the tests of this file run in threads:
/// whatever seeds it and draws from it (random weights, dropout) holds this lock, so that a run is
/// reproducible whatever else runs beside it.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The loss-scaling comparison needs the process to itself: a test beside it running libtorch
/// changed its results by a few 1e-6 (about one run in three on 2 cores). The others share.
static ALONE: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    ALONE.read().unwrap_or_else(|e| e.into_inner())
}

fn alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    ALONE.write().unwrap_or_else(|e| e.into_inner())
}

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn train_locked(dict: Arc<Dictionary>, coded: &[Coded], base: &BaseModel, o: &Options, data_dir: &Path) -> train::Outcome {
    let _g = rng_lock();
    train::train(dict, coded, &Init::Base(base.clone()), o, data_dir, None).unwrap()
}

/// A BERT-format folder with random tiny weights and the real MiniLM tokenizer.
fn tiny_base(dir: &Path) -> BaseModel {
    let _g = rng_lock();
    BaseModel::write_tiny(dir, 5).unwrap()
}

fn demo_dict() -> Arc<Dictionary> {
    Arc::new(Dictionary::new(&Release::read(&demo_dir()).unwrap().0))
}

fn quick() -> Options {
    let mut h = train::default_hyper(tch::Device::Cpu);
    h.members = 2;
    h.epochs = 1;
    h.xtars_epochs = 1;
    h.max_steps_per_epoch = Some(3);
    Options { hyper: h, device_batch: true, seed: 7, device: tch::Device::Cpu, progress: false, stages: None }
}

/// A tiny base, a data folder, the demo dictionary and 40 coded "sore leg N" -> Leg pain.
fn sore_legs() -> (tempfile::TempDir, BaseModel, std::path::PathBuf, Arc<Dictionary>, Vec<Coded>) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_base(&tmp.path().join("base"));
    let data_dir = tmp.path().join("data");
    let dict = demo_dict();
    let leg_pain = dict.llts.iter().find(|l| l.name == "Leg pain").unwrap().code;
    let coded: Vec<Coded> = (0..40).map(|i| Coded { term: format!("sore leg {i}"), llt: leg_pain }).collect();
    (tmp, base, data_dir, dict, coded)
}

#[test]
fn trained_model_is_saved_complete_and_used_by_the_engine() {
    let _shared = shared();
    let (_tmp, base, data_dir, dict, coded) = sore_legs();
    let out = train_locked(dict.clone(), &coded, &base, &quick(), &data_dir);
    let m = &out.manifest;
    assert_eq!((m.meddra_version.as_str(), m.labels, m.hyper.members), ("DEMO-1.0", 865, 2));
    assert_eq!(m.coded_pairs, 40);
    assert_eq!(m.valid_samples, 4, "10% of the coded pairs");
    // 4 held-out coded terms are no evidence about real reported terms: the dense ranking stays.
    assert!(!m.fusion_fitted_on_coded_validation);
    assert_eq!((m.fusion.w_ensemble, m.fusion.w_xtars, m.fusion.w_dense), (0.0, 0.0, 1.0));
    assert_eq!(m.seeds.len(), 2);
    assert_eq!(m.base_fingerprint, base.fingerprint().unwrap());
    let names: Vec<&str> = m.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["coded_terms.txt", "labels.json", "member-0.safetensors", "member-1.safetensors", "train_terms.txt", "validation_record.tsv", "xtars.safetensors"]
    );
    assert!(m.files.iter().all(|f| f.sha256.len() == 64 && f.bytes > 0));
    assert_eq!(m.validation.iter().map(|c| c.component.as_str()).collect::<Vec<_>>(), ["dense (untuned)", "ensemble", "xtars", "fusion"]);
    let train_terms = std::fs::read_to_string(out.dir.join("train_terms.txt")).unwrap();
    assert!(train_terms.contains("leg pain\n") && train_terms.contains("sore leg"));
    // The gate's reference: the coded terms alone, not the LLT names.
    let coded_terms = std::fs::read_to_string(out.dir.join("coded_terms.txt")).unwrap();
    assert_eq!((coded_terms.lines().count(), coded_terms.contains("sore leg 7\n"), coded_terms.contains("leg pain\n")), (40, true, false));

    let engine = Engine::builder(dict.clone()).base(&base).device(tch::Device::Cpu).data_dir(&data_dir).notes(&mut |_| {}).build().unwrap();
    assert_eq!(engine.model_version, m.id);
    assert!(engine.describe().contains("2-member ensemble + XTARS reranker"));
    let p = engine.propose(&["sore leg 3", "nausea"]).unwrap();
    assert_eq!(p.len(), 2);
    for t in &p {
        assert_eq!(t.proposals.len(), 5);
        let sum: f64 = t.proposals.iter().map(|s| s.confidence).sum();
        assert!(sum <= 1.0 + 1e-9 && t.proposals.iter().all(|s| (0.0..=1.0).contains(&s.confidence)));
        assert!(t.proposals.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(t.entropy.is_finite() && t.entropy >= 0.0);
        assert!(t.proposals.iter().all(|s| dict.llt(s.llt_code).unwrap().current), "never a non-current LLT");
        assert_eq!(t.ensemble_candidates.len(), 10);
    }
    assert!(engine.trained.as_ref().unwrap().coded.as_ref().is_some_and(|c| c.size()[0] == 40), "the gate's reference is loaded");
}

/// A one-member model trained on the demo dictionary alone, in a folder of its own.
fn one_member_model() -> (tempfile::TempDir, BaseModel, std::path::PathBuf, Arc<Dictionary>, train::Outcome) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_base(&tmp.path().join("base"));
    let data_dir = tmp.path().join("data");
    let dict = demo_dict();
    let mut o = quick();
    o.hyper.members = 1;
    let out = train_locked(dict.clone(), &[], &base, &o, &data_dir);
    (tmp, base, data_dir, dict, out)
}

#[test]
fn models_for_other_versions_and_corrupt_files_are_refused() {
    let _shared = shared();
    let (_tmp, base, data_dir, dict, out) = one_member_model();

    // Another dictionary version: named -> refused; automatic -> not used, with a note.
    let mut rel = Release::read(&demo_dir()).unwrap().0;
    rel.version = "DEMO-2.0".into();
    let other = Arc::new(Dictionary::new(&rel));
    let err = registry::choose(&data_dir, "DEMO-2.0", Some(&out.manifest.id)).unwrap_err().to_string();
    assert!(err.contains("trained for MedDRA DEMO-1.0") && err.contains("retrain"), "{err}");
    let mut notes = Vec::new();
    let e = Engine::builder(other).base(&base).device(tch::Device::Cpu).data_dir(&data_dir).notes(&mut |n| notes.push(n)).build().unwrap();
    assert!(e.trained.is_none());
    assert!(notes[0].contains("No model trained for MedDRA DEMO-2.0"), "{notes:?}");

    // A model folder whose file changed is refused.
    let f = out.dir.join("xtars.safetensors");
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let err = Engine::builder(dict).base(&base).device(tch::Device::Cpu).data_dir(&data_dir).notes(&mut |_| {}).build().err().unwrap().to_string();
    assert!(err.contains("does not match its checksum"), "{err}");
}

/// Issue #19, case 14: the manifest is covered by a checksum too, and a manifest whose figures
/// would give NaN confidences or panic fails with the field named; nothing is proposed from it.
#[test]
fn an_edited_or_broken_manifest_is_refused_with_its_field() {
    let _shared = shared();
    let (_tmp, base, data_dir, dict, out) = one_member_model();
    let manifest = out.dir.join("manifest.json");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let load =
        || Engine::builder(dict.clone()).base(&base).device(tch::Device::Cpu).data_dir(&data_dir).notes(&mut |_| {}).build().err().map(|e| format!("{e:#}"));
    assert_eq!(load(), None, "the model as trained loads");
    let mut json: serde_json::Value = serde_json::from_str(&original).unwrap();
    json["fusion"]["temperature"] = 0.0.into();
    let edited = serde_json::to_string_pretty(&json).unwrap();
    std::fs::write(&manifest, &edited).unwrap();
    let err = load().unwrap();
    assert!(err.contains("manifest.json does not match manifest.sha256"), "{err}");
    // Even with its checksum rewritten to match, the figures are checked.
    let rehash = |text: &str| {
        use sha2::Digest;
        std::fs::write(&manifest, text).unwrap();
        std::fs::write(out.dir.join("manifest.sha256"), format!("{}  manifest.json\n", hex::encode(sha2::Sha256::digest(text.as_bytes())))).unwrap();
    };
    rehash(&edited);
    let err = load().unwrap();
    assert!(err.contains("field fusion.temperature"), "{err}");
    for (path, value, field) in [
        (&["hyper", "members"][..], serde_json::json!(0), "hyper.members"),
        (&["bert_config", "num_attention_heads"][..], serde_json::json!(0), "bert_config.num_attention_heads"),
        (&["id"][..], serde_json::json!("m\u{1b}[31m"), "field id"),
    ] {
        let mut j: serde_json::Value = serde_json::from_str(&original).unwrap();
        let mut at = &mut j;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[path[path.len() - 1]] = value;
        rehash(&serde_json::to_string_pretty(&j).unwrap());
        let err = registry::list(&data_dir)
            .unwrap()
            .into_iter()
            .map(|(d, m)| registry::verify(&d, &m).err().map(|e| format!("{e:#}")))
            .next()
            .flatten()
            .unwrap_or_default();
        assert!(err.contains(field) && !err.contains('\u{1b}'), "{field}: {err}");
    }
    // A file added to the folder after training is refused.
    rehash(&original);
    std::fs::write(out.dir.join("extra.safetensors"), b"x").unwrap();
    assert!(load().unwrap().contains("extra.safetensors is not listed in its manifest"));
}

#[test]
fn enough_coded_validation_lets_the_fusion_be_fitted() {
    let _shared = shared();
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_base(&tmp.path().join("base"));
    let dict = demo_dict();
    let current: Vec<u32> = dict.llts.iter().filter(|l| l.current).map(|l| l.code).collect();
    let coded: Vec<Coded> = (0..600).map(|i| Coded { term: format!("reported term number {i}"), llt: current[i % current.len()] }).collect();
    let mut o = quick();
    o.hyper.members = 1;
    let out = train_locked(dict, &coded, &base, &o, &tmp.path().join("data"));
    assert_eq!(out.manifest.valid_samples, 60);
    assert!(out.manifest.fusion_fitted_on_coded_validation);
    // The record starts from the validation terms where the fitted fusion and the dense index
    // disagreed (the file's rows are checked to be such on reading).
    let text = std::fs::read_to_string(out.dir.join(medcoder::engine::record::VALIDATION_FILE)).unwrap();
    let (terms, _) = medcoder::engine::record::parse_validation(&text).unwrap();
    let trained_on = std::fs::read_to_string(out.dir.join("train_terms.txt")).unwrap();
    let trained_on: std::collections::HashSet<&str> = trained_on.lines().collect();
    assert!(terms.iter().all(|t| t.starts_with("reported term number") && !trained_on.contains(t.as_str())), "validation terms only: {text}");
}

/// Loss scaling (the CUDA mixed-precision path; autocast itself is CUDA-only) must not change
/// what is learnt: power-of-two scales are exact in fp32, so the weights match the fp32 run.
#[test]
fn loss_scaled_training_learns_what_fp32_training_learns() {
    let _alone = alone();
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_base(&tmp.path().join("base"));
    let dict = demo_dict();
    let code = |n: &str| dict.llts.iter().find(|l| l.name == n).unwrap().code;
    let coded: Vec<Coded> = (0..40).map(|i| Coded { term: format!("sore leg {i}"), llt: code("Leg pain") }).collect();
    let mut weights = Vec::new();
    for mixed in [false, true] {
        let mut o = quick();
        o.hyper.members = 1;
        o.hyper.mixed_precision = mixed;
        let out = train_locked(dict.clone(), &coded, &base, &o, &tmp.path().join(format!("data-{mixed}")));
        assert_eq!(out.manifest.hyper.mixed_precision, mixed);
        weights.push(tch::Tensor::read_safetensors(out.dir.join("member-0.safetensors")).unwrap());
    }
    assert_eq!(weights[0].len(), weights[1].len());
    for (name, a) in &weights[0] {
        let b = &weights[1].iter().find(|(m, _)| m == name).unwrap().1;
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "{name} differs by {diff}");
    }
    // And training moved the weights at all (the comparison above is not vacuous).
    let start = tch::Tensor::read_safetensors(base.dir.join("model.safetensors")).unwrap();
    let moved = start.iter().any(|(n, s)| weights[0].iter().any(|(m, w)| m == n && (s - w).abs().max().double_value(&[]) > 1e-6));
    assert!(moved);
}

/// The model's record: where the fusion and the dense index proposed different LLTs for a held-out
/// term and the team confirmed the dense index's, the model defers to the dense index there from
/// the next proposal on; a training term, or a code neither proposed, teaches nothing; a desk
/// learns the same from the synonym list as confirmations arrive.
#[test]
fn a_confirmed_dense_win_makes_the_model_defer_to_the_dense_index_there() {
    let _shared = shared();
    let (_tmp, base, data_dir, dict, coded) = sore_legs();
    let mut o = quick();
    o.hyper.members = 1;
    // Long enough for the ensemble to move away from the dense index it starts from.
    o.hyper.max_steps_per_epoch = Some(40);
    train_locked(dict.clone(), &coded, &base, &o, &data_dir);
    let terms = ["sore legs", "leg sore", "sore leg 99", "sore leg on the left", "legs are sore", "nausea", "sore knee", "aching leg"];
    let load = || {
        let mut e = Engine::builder(dict.clone()).base(&base).device(tch::Device::Cpu).data_dir(&data_dir).notes(&mut |_| {}).build().unwrap();
        // The gate's reference: these very terms, so the nearness gate is fully open for them.
        let near = e.embed(&terms).unwrap();
        let t = e.trained.as_mut().unwrap();
        // Too little validation kept the dense ranking as this model's fusion: rank by the
        // ensemble instead, so that the two can disagree.
        t.manifest.fusion = Fusion { w_ensemble: 1.0, w_xtars: 0.0, w_dense: 0.0, temperature: 1.0 };
        t.coded = Some(near);
        e
    };
    let mut engine = load();
    let props = engine.propose(&terms).unwrap();
    let (i, (f, d)) = props.iter().enumerate().find_map(|(i, p)| p.choices.filter(|(f, d)| f != d).map(|c| (i, c))).expect("a term where they disagree");
    let term = terms[i];
    assert_eq!((props[i].proposals[0].llt_code, props[i].gate), (f, Some(1.0)), "no record: the fusion ranks");
    let emb = engine.embed(&[term]).unwrap().get(0);
    assert!(!engine.learn_record("Sore leg 7", &emb, Some((f, d)), d), "a training term is not held out");
    let other = dict.llts.iter().find(|l| l.current && l.code != f && l.code != d).unwrap().code;
    assert!(!engine.learn_record(term, &emb, Some((f, d)), other), "neither side right: no evidence");
    assert_eq!(engine.propose(&[term]).unwrap()[0].proposals[0].llt_code, f);
    let mut before_the_gate = load();
    before_the_gate.trained.as_mut().unwrap().coded = None;
    assert!(!before_the_gate.learn_record(term, &emb, Some((f, d)), d), "a model from before the gate keeps no record");
    assert!(engine.learn_record(term, &emb, Some((f, d)), d));
    let after = engine.propose(&[term]).unwrap().remove(0);
    assert_eq!((after.proposals[0].llt_code, after.gate, after.choices), (d, Some(0.0), Some((f, d))), "the dense index's ranking");
    // One fusion win there too leaves the fusion a third of the say: (1 + 1 - 1) / (1 + 1 + 1).
    assert!(engine.learn_record(term, &emb, Some((f, d)), f));
    assert!((engine.propose(&[term]).unwrap()[0].gate.unwrap() - 1.0 / 3.0).abs() < 1e-4);

    // A desk: the same confirmation arriving as a synonym change.
    let mut desk = load();
    let synonym = Synonym {
        study: String::new(),
        term: medcoder::text::normalize(term),
        meddra_version: dict.version.clone(),
        llt_code: d,
        origin: "confirmed".into(),
        confirmations: 1,
        external_id: Some("AE-0001".into()),
        reported_term: Some(term.into()),
        proposer: Some("alice".into()),
        reviewer: Some("bob".into()),
        updated_at: "2026-11-26T12:00:00Z".into(),
        updated_by: "bob".into(),
        hold: None,
        seq: 1,
        imported_by: None,
        approval: "approved".into(),
        decided_by: None,
    };
    let training_term = Synonym { term: "sore leg 3".into(), llt_code: f, seq: 2, ..synonym.clone() };
    desk.learn_changes(&[synonym.clone(), training_term]).unwrap();
    assert_eq!(desk.trained.as_ref().unwrap().record.tally(), (0, 1), "one held-out dense win; the training term does not count");
    assert_eq!(desk.propose(&[term]).unwrap()[0].proposals[0].llt_code, d);
    // A re-confirmation of a term the memory knows is not new evidence.
    desk.learn_changes(&[Synonym { confirmations: 2, seq: 3, ..synonym.clone() }]).unwrap();
    assert_eq!(desk.trained.as_ref().unwrap().record.tally(), (0, 1));
    // The choices are cached for the next desk start.
    let id = desk.model_version.clone();
    let cache = std::fs::read_to_string(data_dir.join("cache").join(format!("record-{id}.json"))).unwrap();
    assert!(cache.contains(&format!("{}\\t{d}", synonym.term)), "{cache}");
    // A restart reads them from there (choices swapped in the file: the fusion now "won").
    let cache_file = data_dir.join("cache").join(format!("record-{id}.json"));
    let swapped = std::fs::read_to_string(&cache_file).unwrap().replace(&format!("[{f},{d},"), &format!("[{d},{f},"));
    std::fs::write(&cache_file, swapped).unwrap();
    let mut restarted = load();
    restarted.learn_changes(std::slice::from_ref(&synonym)).unwrap();
    assert_eq!(restarted.trained.as_ref().unwrap().record.tally(), (1, 0), "{}", std::fs::read_to_string(&cache_file).unwrap());

    // The newest change of a term decides, also within one batch: confirmed then held is not
    // remembered; confirmed to one LLT then recoded to another is remembered with the second.
    let mut fresh = load();
    let held = Synonym { hold: Some("returned".into()), seq: 2, ..synonym.clone() };
    fresh.learn_changes(&[synonym.clone(), held]).unwrap();
    assert_eq!(fresh.memory.len(), 0);
    let mut fresh = load();
    let recoded = Synonym { llt_code: d, seq: 2, ..synonym.clone() };
    fresh.learn_changes(&[Synonym { llt_code: f, ..synonym.clone() }, recoded]).unwrap();
    assert_eq!((fresh.memory.len(), fresh.propose(&[term]).unwrap()[0].choices.map(|c| c.1)), (1, Some(d)));

    // The ensemble reads a misspelt term both ways, as the dense index does: "hedache" as written
    // and as "headache", equally.
    let t = engine.trained.as_ref().unwrap();
    let p = |text: &str| {
        let tok = &t.members[0].enc.tok;
        medcoder::model::classifier::mean_softmax(&t.members, &tok.encode(&[text], tch::Device::Cpu).unwrap()).get(0)
    };
    let both = (p("hedache") + p("headache")) / 2.0;
    let set = engine.candidates(t, &["hedache"], true).unwrap().remove(0);
    for c in &set.rows {
        let want = both.double_value(&[c.label as i64]).max(1e-12).ln();
        assert!((c.ln_p - want).abs() < 1e-4, "label {}: {} vs {want}", c.label, c.ln_p);
    }
    // XTARS too: each candidate's match logit is the mean over the two readings.
    let names: Vec<&str> = set.rows.iter().map(|c| dict.llts.iter().filter(|l| l.current).nth(c.label).unwrap().name.as_str()).collect();
    let written = t.xtars.score(&names, &vec!["hedache"; names.len()], 64).unwrap();
    let read = t.xtars.score(&names, &vec!["headache"; names.len()], 64).unwrap();
    for (j, c) in set.rows.iter().enumerate() {
        assert!((c.xtars - (written[j] + read[j]) / 2.0).abs() < 1e-4, "{} vs {} / {}", c.xtars, written[j], read[j]);
    }
}

#[test]
fn an_interrupted_training_leaves_no_model() {
    let _shared = shared();
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    // What a killed training leaves: a partial folder, never listed, removed by the next training.
    let partial = registry::models_dir(&data_dir).join(".partial-xtars-X");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("member-0.safetensors"), b"half").unwrap();
    assert!(registry::list(&data_dir).unwrap().is_empty());
    let staging = registry::Staging::new(&data_dir, "next").unwrap();
    assert!(!partial.exists());
    drop(staging);
    assert!(!registry::models_dir(&data_dir).join(".partial-next").exists(), "an abandoned staging folder is removed");
}

#[test]
fn cli_train_list_eval_components_and_propose() {
    let _shared = shared();
    let env = Env::new();
    let base = tiny_base(&env.dir.path().join("base"));
    let b = s(&base.dir);
    env.ok(&["demo", "--print"]);
    let out = env.ok(&["train", "--base", b, "--members", "1", "--epochs", "1", "--xtars-epochs", "1", "--max-steps", "2", "--batch", "64"]);
    assert!(out.contains("Saved model xtars-DEMO-1.0-") && out.contains("Fusion:") && out.contains("fusion "), "{out}");
    // The batch asked for, with the learning rates the square-root rule gives it, and length
    // buckets unless turned off: the manifest says what the model was trained with.
    let hyper = |env: &Env| {
        let models = env.dir.path().join("home/models");
        let newest = std::fs::read_dir(&models).unwrap().map(|e| e.unwrap().path()).max().unwrap();
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(newest.join("manifest.json")).unwrap()).unwrap();
        m["hyper"].clone()
    };
    let h = hyper(&env);
    assert_eq!((h["batch"].as_u64(), h["length_buckets"].as_bool()), (Some(64), Some(true)), "{h}");
    assert!((h["lr_encoder"].as_f64().unwrap() - 2e-5 * 2f64.sqrt()).abs() < 1e-12, "{h}");
    assert!((h["lr_head"].as_f64().unwrap() - 1e-3 * 2f64.sqrt()).abs() < 1e-12, "{h}");
    std::thread::sleep(std::time::Duration::from_millis(1100)); // model ids are per second
    env.ok(&["train", "--base", b, "--members", "1", "--epochs", "1", "--xtars-epochs", "1", "--max-steps", "1", "--no-length-buckets"]);
    let h = hyper(&env);
    assert_eq!((h["batch"].as_u64(), h["length_buckets"].as_bool(), h["lr_encoder"].as_f64()), (Some(32), Some(false), Some(2e-5)), "{h}");
    let list = env.ok(&["model", "list"]);
    assert!(list.contains("MedDRA DEMO-1.0") && list.contains("1 members"), "{list}");
    let q = demo_dir().join("queue.csv");
    let out = env.ok(&["eval", s(&q), "--base", b, "--components"]);
    for part in ["— final", "— dense (untuned)", "— ensemble", "— xtars", "unseen in training", "candidate recall (top-10): dense"] {
        assert!(out.contains(part), "missing {part:?} in\n{out}");
    }
    // Terms by the model's weight: this model has no coded terms to be near, so every term is the
    // dense index's (weight 0), and its figures are the dense index's on the same terms.
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["eval", s(&q), "--base", b, "--json"])).unwrap();
    let r = &json[0]["report"];
    let buckets = r["by_gate"].as_array().unwrap();
    assert_eq!(buckets.iter().map(|b| b["accuracy"]["n"].as_u64().unwrap()).collect::<Vec<_>>(), [r["n"].as_u64().unwrap(), 0, 0], "{r}");
    assert_eq!(buckets[0]["accuracy"]["llt_at_1"], buckets[0]["dense_llt_at_1"], "{r}");
    assert_eq!(buckets[0]["accuracy"]["pt_at_1"], buckets[0]["dense_pt_at_1"], "{r}");
    let out = env.ok(&["propose", "--base", b]);
    assert!(out.contains("Stored proposals for") && out.contains("ensemble + XTARS"), "{out}");
    let show = env.ok(&["queue", "show", "AE-0001"]);
    assert!(show.contains("proposals      model xtars-DEMO-1.0-"), "{show}");
    let err = env.fails(&["predict", "rash", "--base", b, "--model", "nope"]);
    assert!(err.contains("no trained model 'nope'"), "{err}");
}

#[test]
fn ctrl_c_during_training_leaves_no_model() {
    let _shared = shared();
    let env = Env::new();
    let base = tiny_base(&env.dir.path().join("base"));
    env.ok(&["dict", "import", s(&demo_dir())]);
    let mut cmd = env.cmd(&["train", "--base", s(&base.dir), "--members", "3", "--epochs", "3"]);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    // As in a terminal's foreground job: a test run started in the background inherits SIGINT
    // ignored, and an ignored signal stays ignored across exec. SAFETY: signal() is
    // async-signal-safe, as pre_exec requires.
    #[allow(unsafe_code)]
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let models = env.dir.path().join("home/models");
    let start = std::time::Instant::now();
    // Wait until the first member has been written into the partial folder, then interrupt.
    loop {
        let partial = std::fs::read_dir(&models).ok().and_then(|rd| rd.flatten().find(|e| e.file_name().to_string_lossy().starts_with(".partial-")));
        if partial.is_some_and(|p| p.path().join("member-0.safetensors").exists()) {
            break;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(120), "training never wrote a member");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the training was interrupted");
    assert!(env.ok(&["model", "list"]).contains("No trained models"), "an interrupted training left a model");
    // The next training clears the leftovers before it starts.
    env.ok(&["train", "--base", s(&base.dir), "--members", "1", "--epochs", "1", "--xtars-epochs", "1", "--max-steps", "2"]);
    let names: Vec<String> = std::fs::read_dir(&models).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("xtars-DEMO-1.0-"), "{names:?}");
}

/// The proposal service (issue #12's, working on SQLite by polling): one round proposes for every
/// open item lacking this model's proposals, the next finds nothing, new items are picked up, and
/// a desk started with --no-model reads what it stored.
#[test]
fn the_proposal_service_fills_proposals_for_every_desk() {
    let _shared = shared();
    let env = Env::new();
    let base = tiny_base(&env.dir.path().join("base"));
    let b = s(&base.dir);
    env.ok(&["demo", "--print"]);
    let (ok, _, err) = env.run(&["serve-proposals", "--once", "--base", b]);
    assert!(ok, "{err}");
    let open = env.ok(&["queue", "list", "--state", "new,proposed,returned,query", "--json"]).lines().count();
    assert!(err.contains("serving proposals: zero-shot-dense") && err.contains(&format!("proposed for {open} item(s)")), "{open} open\n{err}");
    let show = env.ok(&["queue", "show", "AE-0001"]);
    assert!(show.contains("proposals      model zero-shot-dense"), "{show}");
    let (_, _, err) = env.run(&["serve-proposals", "--once", "--base", b]);
    assert!(!err.contains("proposed for"), "nothing left to do: {err}");
    let q = env.dir.path().join("more.csv");
    std::fs::write(&q, "id,study,subject,reported_term\nN1,S,1,tummy ache\nN2,S,2,sore throat\n").unwrap();
    env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    let (_, _, err) = env.run(&["serve-proposals", "--once", "--base", b]);
    assert!(err.contains("proposed for 2 item(s)"), "{err}");
}
