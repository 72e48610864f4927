//! Training at a label count where a [LLTs x LLTs] or [samples x LLTs] matrix no longer fits a
//! small memory budget (issue #13: at 80,000 LLTs they are 25.6 GB and hundreds of GB). A test
//! binary of its own, so that the process's peak resident memory is this test's alone.

use std::path::Path;
use std::sync::Arc;

use medcoder::meddra::{synth, Dictionary};
use medcoder::model::classifier::Classifier;
use medcoder::model::tokenize::Tok;
use medcoder::model::BaseModel;
use medcoder::train::data::Coded;
use medcoder::train::{self, stages, Init, Options};

/// 30,000 labels: the label-similarity matrix alone is 3.6 GB in fp32, the ensemble's
/// probabilities over the training terms 10 GB; the budget is well under both.
const LLTS: usize = 30_000;
const BUDGET: u64 = 1_500_000_000;

fn tiny_base(dir: &Path) -> BaseModel {
    BaseModel::write_tiny(dir, 5).unwrap()
}

#[test]
fn training_at_scale_stays_within_a_small_memory_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tiny_base(&tmp.path().join("base"));
    let dict = Arc::new(Dictionary::new(&synth::generate(LLTS, 42, "SCALE-1")));
    let current: Vec<u32> = dict.llts.iter().filter(|l| l.current).map(|l| l.code).collect();
    let coded: Vec<Coded> = (0..3_000)
        .map(|i| Coded { term: format!("{} on day {i}", dict.llt(current[i * 7 % current.len()]).unwrap().name), llt: current[i * 7 % current.len()] })
        .collect();
    let mut h = train::default_hyper(tch::Device::Cpu);
    h.members = 1;
    h.epochs = 1;
    h.max_steps_per_epoch = Some(2);
    let log = Arc::new(stages::Stages::new());
    let o = Options { hyper: h, device_batch: true, seed: 3, device: tch::Device::Cpu, progress: false, stages: Some(log.clone()) };
    let out = train::train(dict.clone(), &coded, &Init::Base(base.clone()), &o, &tmp.path().join("data"), None).unwrap();
    assert_eq!(out.manifest.labels, current.len());
    let names: Vec<String> = log.stages().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, ["training set", "dense index", "member 1 steps", "member 1 validation", "hard negatives", "XTARS", "fusion on validation", "save"]);

    // The ensemble's hard negatives over every training term (uncapped runs mine them all).
    let member = Classifier::load(
        &out.dir.join("member-0.safetensors"),
        &base.config,
        Arc::new(Tok::load(&base.tokenizer).unwrap()),
        current.len() as i64,
        tch::Device::Cpu,
    )
    .unwrap();
    let terms: Vec<String> = dict.llts.iter().filter(|l| l.current).map(|l| l.name.to_lowercase()).collect();
    let refs: Vec<&str> = terms.iter().map(String::as_str).collect();
    let top = train::ensemble_top(&[member], &refs, 6, tch::Device::Cpu, &indicatif::ProgressBar::hidden()).unwrap();
    assert_eq!(top.len(), terms.len());
    assert!(top.iter().all(|t| t.len() == 6 && t.iter().all(|&l| l < current.len())));

    let peak = stages::peak_rss().expect("/proc/self/status has VmHWM");
    let per_stage: Vec<String> = log.stages().iter().map(|s| format!("{} {:.2} GB", s.name, s.peak_rss.unwrap_or(0) as f64 / 1e9)).collect();
    // Without resets (a kernel that refuses clear_refs) VmHWM is the whole process's peak: the
    // bound still holds.
    let worst = log.stages().iter().filter_map(|s| s.peak_rss).max().unwrap_or(0).max(peak);
    assert!(worst < BUDGET, "peak resident memory {:.2} GB over the {:.1} GB budget: {per_stage:?}", worst as f64 / 1e9, BUDGET as f64 / 1e9);
}

#[test]
fn label_neighbours_match_the_full_similarity_matrix() {
    // Small enough to compute the old way, with more rows than one block holds.
    tch::manual_seed(1);
    let emb = tch::Tensor::randn([3_000, 8], (tch::Kind::Float, tch::Device::Cpu));
    let emb = &emb / emb.norm_scalaropt_dim(2, [1], true);
    let got = train::label_neighbours(&emb, 4).unwrap();
    let (v, i) = emb.matmul(&emb.tr()).topk(4, -1, true, true);
    for r in [0i64, 1, 1_500, 2_999] {
        let want: Vec<i64> = Vec::<i64>::try_from(i.get(r)).unwrap();
        let vals: Vec<f64> = Vec::<f64>::try_from(v.get(r).to_kind(tch::Kind::Double)).unwrap();
        let row = &got[r as usize];
        assert_eq!(row.iter().map(|x| x.0 as i64).collect::<Vec<_>>(), want);
        assert!(row.iter().zip(&vals).all(|(a, b)| (a.1 - b).abs() < 1e-5));
        assert_eq!(row[0].0, r as usize, "a label is its own nearest");
    }
}
