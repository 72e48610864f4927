//! `medcoder train`: the classifier ensemble, the XTARS reranker and the fusion, end to end.

pub mod amp;
pub mod data;
pub mod stages;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Tensor};

use crate::engine::{self, CandidateSet, Engine, Trained};
use crate::meddra::Dictionary;
use crate::model::bert::BertConfig;
use crate::model::classifier::{self, Classifier};
use crate::model::registry::{ComponentScore, Fusion, Hyper, Manifest, Staging};
use crate::model::tokenize::{upload, Tok};
use crate::model::xtars::CrossEncoder;
use crate::model::{BaseModel, Encoder};
use data::{Coded, Sample, TrainingSet};

/// Where the encoders start from (the weights they are initialised with).
pub enum Init {
    Base(BaseModel),
    /// Random weights of a given config (tests: fast and deterministic).
    Random {
        config: BertConfig,
        tok: Arc<Tok>,
    },
}

impl Init {
    fn encoder(&self, device: Device, seed: u64) -> Result<Encoder> {
        match self {
            Init::Base(b) => Encoder::pretrained(b, device),
            Init::Random { config, tok } => {
                tch::manual_seed(seed as i64);
                Ok(Encoder::random(config, tok.clone(), device))
            }
        }
    }
    fn config(&self) -> BertConfig {
        match self {
            Init::Base(b) => b.config.clone(),
            Init::Random { config, .. } => config.clone(),
        }
    }
    fn describe(&self) -> (String, String) {
        match self {
            Init::Base(b) => (b.dir.display().to_string(), b.fingerprint().unwrap_or_default()),
            Init::Random { .. } => ("random".into(), "random".into()),
        }
    }
}

/// The paper-scale recipe on a GPU; on a CPU, 3 classifier epochs and 1 XTARS epoch so that the
/// demo dictionary trains within 10 minutes on 2 cores (BENCHMARKS.md).
pub fn default_hyper(device: Device) -> Hyper {
    let gpu = device.is_cuda();
    Hyper {
        members: 3,
        epochs: if gpu { 5 } else { 3 },
        batch: 32,
        lr_encoder: 2e-5,
        lr_head: 1e-3,
        warmup: 0.1,
        xtars_epochs: if gpu { 2 } else { 1 },
        negatives_m: 5,
        negative_temperature: 1.0,
        candidates: 10,
        max_steps_per_epoch: None,
        mixed_precision: gpu,
        length_buckets: true,
    }
}

/// The batch the learning rates of `default_hyper` are set for, and the batch on a CPU.
pub const BASE_BATCH: usize = 32;
/// The largest batch the device recipe chooses.
pub const MAX_DEVICE_BATCH: usize = 1024;
/// Optimiser steps an epoch keeps at least when the device recipe enlarges the batch: a big batch
/// on a small training set leaves too few updates (the demo's 2,316 samples at 1,024 would be 3).
pub const MIN_STEPS_PER_EPOCH: usize = 1000;
/// The encoder's learning rate is not raised above this by a larger batch: the top of the range
/// BERT is usually fine-tuned in, above which fine-tuning is known to turn unstable.
const MAX_LR_ENCODER: f64 = 1e-4;

/// The batch for `samples` training samples on `device`: on a CPU always `BASE_BATCH` (a step
/// costs in proportion to its rows there, so a bigger batch only means fewer updates); on a GPU,
/// where a step at batch 32 is bound by kernel launches (27 ms on an H100 whatever the rows), the
/// largest power of two up to `MAX_DEVICE_BATCH` that keeps `MIN_STEPS_PER_EPOCH` steps an epoch.
pub fn device_batch(device: Device, samples: usize) -> usize {
    if !device.is_cuda() {
        return BASE_BATCH;
    }
    let mut b = BASE_BATCH;
    while b * 2 <= MAX_DEVICE_BATCH && samples / (b * 2) >= MIN_STEPS_PER_EPOCH {
        b *= 2;
    }
    b
}

/// `h` (whose learning rates are set for `BASE_BATCH`) at `batch` rows a step, the learning rates
/// scaled by sqrt(batch / 32): the square-root rule for Adam-type optimisers. A larger batch does
/// not raise the encoder's above `MAX_LR_ENCODER`. The warm-up stays a tenth of the steps.
pub fn at_batch(h: &Hyper, batch: usize) -> Hyper {
    let batch = batch.max(1);
    let f = (batch as f64 / BASE_BATCH as f64).sqrt();
    let lr_encoder = if f > 1.0 { (h.lr_encoder * f).min(MAX_LR_ENCODER.max(h.lr_encoder)) } else { h.lr_encoder * f };
    Hyper { batch, lr_encoder, lr_head: h.lr_head * f, ..h.clone() }
}

/// Inputs drawn into pools of this many batches are sorted by length there before they are cut into
/// batches: each batch pads to its longest input, and most reported terms are a few tokens while
/// some LLT names and verbatims are twenty.
const BUCKET_POOL: usize = 64;

/// One epoch's batches: `order` (already shuffled) is cut into pools of `BUCKET_POOL` batches, each
/// pool sorted by `len` and cut into batches, and the batches of all pools shuffled, so an epoch
/// still sees every input once in a random order of batches that pad little.
pub fn length_bucketed(order: &[usize], batch: usize, len: impl Fn(usize) -> usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let batch = batch.max(1);
    let mut out: Vec<Vec<usize>> = Vec::with_capacity(order.len().div_ceil(batch));
    for pool in order.chunks(batch * BUCKET_POOL) {
        let mut pool = pool.to_vec();
        // Stable: equal lengths keep their shuffled order.
        pool.sort_by_key(|&i| len(i));
        out.extend(pool.chunks(batch).map(<[usize]>::to_vec));
    }
    out.shuffle(rng);
    out
}

/// One epoch's batches of `n` inputs in a fresh random order, length-bucketed when `h` says so.
fn epoch_batches(n: usize, h: &Hyper, len: impl Fn(usize) -> usize, rng: &mut StdRng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    if h.length_buckets {
        length_bucketed(&order, h.batch, len, rng)
    } else {
        order.chunks(h.batch.max(1)).map(<[usize]>::to_vec).collect()
    }
}

#[derive(Clone)]
pub struct Options {
    pub hyper: Hyper,
    /// Choose the batch for the device and the training set (`device_batch`, learning rates by
    /// `at_batch`) once the training set is built; false keeps `hyper.batch` (`train --batch`).
    pub device_batch: bool,
    pub seed: u64,
    pub device: Device,
    pub progress: bool,
    /// Where each stage's time and peak memory are recorded (benchmarks and the scale test).
    pub stages: Option<Arc<stages::Stages>>,
}

impl Options {
    fn mark(&self, stage: &str, steps: usize) {
        if let Some(s) = &self.stages {
            s.mark(stage, steps);
        }
    }
}

/// The most validation terms a run measures its members and fits its fusion on: a seeded sample
/// (stated in the manifest). At 80,000 LLTs the validation tenth is about 22,000 terms, and
/// scoring all of them with XTARS took longer than the training steps (issue #25); 2,000 terms
/// give the fusion's accuracy to about one point (one standard error at 90% is 0.7 points).
pub const VALIDATION_SAMPLE: usize = 2000;

/// A seeded sample of at most `n` of `len` indices, in ascending order (all when `len <= n`).
pub fn sample_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..len).collect();
    if len > n {
        all.shuffle(&mut StdRng::seed_from_u64(seed));
        all.truncate(n);
        all.sort_unstable();
    }
    all
}

/// Linear warm-up then linear decay to zero.
pub fn schedule(step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        (step + 1) as f64 / warmup.max(1) as f64
    } else {
        ((total - step) as f64 / (total - warmup).max(1) as f64).max(0.0)
    }
}

/// One AdamW step at the scheduled fraction `f` of the learning rates (encoder: group 0, head:
/// group 1), gradients clipped at norm 1.
fn optimise(opt: &mut nn::Optimizer, stepper: &mut amp::Stepper, loss: &Tensor, h: &Hyper, f: f64, pb: &indicatif::ProgressBar) {
    opt.set_lr(h.lr_encoder * f);
    opt.set_lr_group(1, h.lr_head * f);
    stepper.step(opt, loss, 1.0);
    // Reading the loss waits for the GPU; the progress line does not need it every step.
    if pb.position().is_multiple_of(LOSS_EVERY) && !pb.is_hidden() {
        pb.set_message(format!("loss {:.3}", loss.double_value(&[])));
    }
    pb.inc(1);
}

/// Steps between two readings of the loss for the progress line.
const LOSS_EVERY: u64 = 25;

/// Says how many steps were skipped for non-finite gradients (expected now and then while the
/// mixed-precision loss scale settles; many mean the run diverged).
fn report_skipped(what: &str, stepper: &amp::Stepper, total: usize, progress: bool) {
    if progress && stepper.skipped > 0 {
        eprintln!("  {what}: {} of {total} steps skipped (non-finite gradients; loss scale now {})", stepper.skipped, stepper.scale());
    }
}

fn progress_bar(show: bool, len: u64, msg: String) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(indicatif::ProgressStyle::with_template("{prefix:<28} [{bar:30}] {pos}/{len} {msg} ETA {eta}").unwrap().progress_chars("=> "));
    pb.set_prefix(msg);
    pb
}

fn steps_per_epoch(n: usize, h: &Hyper) -> usize {
    let s = n.div_ceil(h.batch.max(1));
    h.max_steps_per_epoch.map_or(s, |m| s.min(m))
}

fn member_accuracy(m: &Classifier, valid: &[Sample]) -> Result<f64> {
    if valid.is_empty() {
        return Ok(0.0);
    }
    let _g = tch::no_grad_guard();
    let mut right = 0usize;
    for chunk in valid.chunks(128) {
        let terms: Vec<&str> = chunk.iter().map(|s| s.term.as_str()).collect();
        let b = m.enc.tok.encode(&terms, m.enc.device())?;
        let pred: Vec<i64> = Vec::<i64>::try_from(m.logits(&b, false).argmax(-1, false).to_device(Device::Cpu))?;
        right += pred.iter().zip(chunk).filter(|(p, s)| **p as usize == s.label).count();
    }
    Ok(right as f64 / valid.len() as f64)
}

fn train_member(i: usize, init: &Init, label_emb: &Tensor, ts: &TrainingSet, valid: &[Sample], o: &Options, file: &Path) -> Result<Classifier> {
    let h = &o.hyper;
    let seed = o.seed + 1000 * i as u64;
    // Seeded before anything random is created (the head's scale, dropout); on CUDA some kernels
    // are not deterministic, so runs there are reproducible only up to that.
    tch::manual_seed(seed as i64);
    let m = Classifier::with_head(init.encoder(o.device, seed)?, label_emb);
    let mut opt = nn::AdamW::default().build(&m.enc.vs, h.lr_encoder)?;
    let mut stepper = amp::Stepper::new(&m.enc.vs, h.mixed_precision);
    let spe = steps_per_epoch(ts.train.len(), h);
    let total = spe * h.epochs;
    let warm = (h.warmup * total as f64) as usize;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut best = f64::NEG_INFINITY;
    let mut step = 0;
    for epoch in 0..h.epochs {
        let pb = progress_bar(o.progress, spe as u64, format!("member {}/{} epoch {}/{}", i + 1, h.members, epoch + 1, h.epochs));
        let first = step;
        for chunk in epoch_batches(ts.train.len(), h, |j| ts.train[j].term.len(), &mut rng).iter().take(spe) {
            let terms: Vec<&str> = chunk.iter().map(|&j| ts.train[j].term.as_str()).collect();
            let targets = upload(Tensor::from_slice(&chunk.iter().map(|&j| ts.train[j].label as i64).collect::<Vec<_>>()), o.device);
            let b = m.enc.tok.encode(&terms, o.device)?;
            let loss = stepper.forward(|| m.logits(&b, true).cross_entropy_for_logits(&targets));
            optimise(&mut opt, &mut stepper, &loss, h, schedule(step, total, warm), &pb);
            step += 1;
        }
        pb.finish_and_clear();
        // The steps apart from the validation pass: `bench train` projects a run from them.
        o.mark(&format!("member {} steps", i + 1), step - first);
        let acc = member_accuracy(&m, valid)?;
        // Keep the best epoch on validation (the last one when there is no validation data).
        if acc >= best {
            best = acc;
            m.save(file)?;
        }
        if o.progress {
            eprintln!("  member {} epoch {}: validation LLT@1 {:.1}%", i + 1, epoch + 1, 100.0 * acc);
        }
        o.mark(&format!("member {} validation", i + 1), 0);
    }
    report_skipped(&format!("member {}", i + 1), &stepper, total, o.progress);
    Classifier::load(file, &init.config(), m.enc.tok.clone(), label_emb.size()[0], o.device)
}

/// Elements of one block of a [rows x labels] matrix: 64 MB of fp32, whatever the label count.
const BLOCK_ELEMENTS: i64 = 1 << 24;

/// Rows per block so that a [rows x labels] block stays within `BLOCK_ELEMENTS`.
fn block_rows(labels: i64) -> usize {
    (BLOCK_ELEMENTS / labels.max(1)).clamp(1, 1024) as usize
}

/// Each term's top-`k` labels under the ensemble's mean softmax. The top-k is taken on the device
/// block by block and only the indices come back: the whole [terms x labels] matrix is hundreds of
/// GB at real MedDRA scale.
pub fn ensemble_top(members: &[Classifier], terms: &[&str], k: i64, device: Device, pb: &indicatif::ProgressBar) -> Result<Vec<Vec<usize>>> {
    let _g = tch::no_grad_guard();
    let labels = members[0].head.size()[0];
    let k = k.min(labels);
    let mut out = Vec::with_capacity(terms.len());
    for chunk in terms.chunks(block_rows(labels).min(256)) {
        let b = members[0].enc.tok.encode(chunk, device)?;
        let top = classifier::mean_softmax(members, &b).topk(k, -1, true, true).1;
        let flat = Vec::<i64>::try_from(top.flatten(0, -1).to_device(Device::Cpu))?;
        out.extend(flat.chunks(k as usize).map(|r| r.iter().map(|&x| x as usize).collect::<Vec<_>>()));
        pb.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// Each label's `k` most cosine-similar labels (itself first) with their similarity, computed in
/// row blocks on the device; the [labels x labels] matrix (25.6 GB at 80,000 LLTs) never exists.
pub fn label_neighbours(label_emb: &Tensor, k: i64) -> Result<Vec<Vec<(usize, f64)>>> {
    let all: Vec<usize> = (0..label_emb.size()[0] as usize).collect();
    Ok(neighbours_of(label_emb, &all, k)?.into_iter().map(|(_, n)| n).collect())
}

/// A label's nearest labels by cosine similarity, with the similarity, nearest first.
pub type Neighbours = Vec<(usize, f64)>;

/// The `k` most cosine-similar labels of each label in `rows` only: a step-capped run mines hard
/// negatives for a few gold labels, and the similarity of all 80,000 labels to all others (91 s
/// on 2 cores) is then work nobody asked for.
pub fn neighbours_of(label_emb: &Tensor, rows: &[usize], k: i64) -> Result<Vec<(usize, Neighbours)>> {
    let _g = tch::no_grad_guard();
    let n = label_emb.size()[0];
    let k = k.min(n);
    let emb = label_emb.to_kind(Kind::Float);
    let mut out = Vec::with_capacity(rows.len());
    for block in rows.chunks(block_rows(n)) {
        let idx = Tensor::from_slice(&block.iter().map(|&r| r as i64).collect::<Vec<_>>()).to_device(emb.device());
        let (v, i) = emb.index_select(0, &idx).matmul(&emb.tr()).topk(k, -1, true, true);
        let v = Vec::<f64>::try_from(v.flatten(0, -1).to_kind(Kind::Double).to_device(Device::Cpu))?;
        let i = Vec::<i64>::try_from(i.flatten(0, -1).to_device(Device::Cpu))?;
        out.extend(
            block
                .iter()
                .zip(i.chunks(k as usize).zip(v.chunks(k as usize)))
                .map(|(&r, (i, v))| (r, i.iter().map(|&x| x as usize).zip(v.iter().copied()).collect())),
        );
    }
    Ok(out)
}

/// The training samples XTARS trains on: all of them, unless a step cap lets its epochs use fewer
/// pairs than they make; then a random subset that fills the capped epochs, so that hard negatives
/// (a pass of the whole ensemble) are mined only for samples that train.
fn xtars_samples(n: usize, h: &Hyper, rng: &mut StdRng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if let Some(cap) = h.max_steps_per_epoch {
        let pairs_per_sample = 1 + 5 + h.negatives_m;
        let want = (cap * h.batch).div_ceil(pairs_per_sample).max(1);
        if want < n {
            all.shuffle(rng);
            all.truncate(want);
            all.sort_unstable();
        }
    }
    all
}

/// XTARS training pairs (`samples` index the training set, `ens_top` is aligned with them): the positive, the ensemble's top-5 wrong labels, and m labels drawn
/// from the 3m labels most cosine-similar to the gold one, with softmax(sim / T) probabilities.
fn xtars_pairs(
    ts: &TrainingSet,
    samples: &[usize],
    ens_top: &[Vec<usize>],
    label_sims_top: &std::collections::HashMap<usize, Neighbours>,
    h: &Hyper,
    rng: &mut StdRng,
) -> Vec<(usize, usize, i64)> {
    let mut pairs = Vec::new();
    for (k, &si) in samples.iter().enumerate() {
        let s = &ts.train[si];
        pairs.push((s.label, si, 1));
        let mut negs: Vec<usize> = ens_top[k].iter().copied().filter(|&l| l != s.label).take(5).collect();
        let mut pool: Vec<(usize, f64)> =
            label_sims_top.get(&s.label).into_iter().flatten().copied().filter(|(l, _)| *l != s.label && !negs.contains(l)).collect();
        for _ in 0..h.negatives_m {
            if pool.is_empty() {
                break;
            }
            let max = pool.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = pool.iter().map(|p| ((p.1 - max) / h.negative_temperature).exp()).collect();
            let total: f64 = w.iter().sum();
            let mut r = rng.gen::<f64>() * total;
            let mut pick = pool.len() - 1;
            for (k, wk) in w.iter().enumerate() {
                if r < *wk {
                    pick = k;
                    break;
                }
                r -= wk;
            }
            negs.push(pool.remove(pick).0);
        }
        pairs.extend(negs.into_iter().map(|l| (l, si, 0)));
    }
    pairs
}

fn train_xtars(init: &Init, names: &[String], ts: &TrainingSet, pairs: &[(usize, usize, i64)], o: &Options, file: &Path) -> Result<CrossEncoder> {
    let h = &o.hyper;
    tch::manual_seed(o.seed as i64 + 77);
    let x = CrossEncoder::with_head(init.encoder(o.device, o.seed + 77)?);
    let mut opt = nn::AdamW::default().build(&x.enc.vs, h.lr_encoder)?;
    let mut stepper = amp::Stepper::new(&x.enc.vs, h.mixed_precision);
    let spe = steps_per_epoch(pairs.len(), h);
    let total = spe * h.xtars_epochs;
    let warm = (h.warmup * total as f64) as usize;
    let mut rng = StdRng::seed_from_u64(o.seed + 78);
    let mut step = 0;
    for epoch in 0..h.xtars_epochs {
        let pb = progress_bar(o.progress, spe as u64, format!("XTARS epoch {}/{}", epoch + 1, h.xtars_epochs));
        let len = |k: usize| names[pairs[k].0].len() + ts.train[pairs[k].1].term.len();
        for chunk in epoch_batches(pairs.len(), h, len, &mut rng).iter().take(spe) {
            let ls: Vec<&str> = chunk.iter().map(|&k| names[pairs[k].0].as_str()).collect();
            let tt: Vec<&str> = chunk.iter().map(|&k| ts.train[pairs[k].1].term.as_str()).collect();
            let y = upload(Tensor::from_slice(&chunk.iter().map(|&k| pairs[k].2).collect::<Vec<_>>()), o.device);
            let b = x.enc.tok.encode_pairs(&ls, &tt, o.device)?;
            let loss = stepper.forward(|| x.logits(&b, true).cross_entropy_for_logits(&y));
            optimise(&mut opt, &mut stepper, &loss, h, schedule(step, total, warm), &pb);
            step += 1;
        }
        pb.finish_and_clear();
    }
    report_skipped("XTARS", &stepper, total, o.progress);
    o.mark("XTARS", step);
    x.save(file)?;
    Ok(x)
}

fn score(sets: &[CandidateSet], gold: &[usize], pt_of: &dyn Fn(usize) -> u32, f: Fusion) -> (f64, f64, f64, f64) {
    let (mut l1, mut p1, mut l5, mut nll, mut nn) = (0usize, 0usize, 0usize, 0.0, 0usize);
    for (s, &g) in sets.iter().zip(gold) {
        let r = s.ranked(f);
        l1 += usize::from(r.first().is_some_and(|x| x.0 == g));
        p1 += usize::from(r.first().is_some_and(|x| pt_of(x.0) == pt_of(g)));
        l5 += usize::from(r.iter().take(5).any(|x| x.0 == g));
        if let Some(x) = r.iter().find(|x| x.0 == g) {
            nll -= x.2.max(1e-9).ln();
            nn += 1;
        }
    }
    let n = sets.len().max(1) as f64;
    (l1 as f64 / n, p1 as f64 / n, l5 as f64 / n, nll / nn.max(1) as f64)
}

/// Held-out coded terms needed before the fusion may move away from the dense ranking.
pub const MIN_CODED_VALIDATION: usize = 50;

/// The dense ranking with only its confidence temperature fitted: used when there is no
/// evidence on real reported terms that the trained components rank better.
pub fn dense_fusion(sets: &[CandidateSet], gold: &[usize], pt_of: &dyn Fn(usize) -> u32) -> Fusion {
    fit_temperature(sets, gold, pt_of, Fusion { w_ensemble: 0.0, w_xtars: 0.0, w_dense: 1.0, temperature: 1.0 })
}

fn fit_temperature(sets: &[CandidateSet], gold: &[usize], pt_of: &dyn Fn(usize) -> u32, mut f: Fusion) -> Fusion {
    let mut best_nll = f64::INFINITY;
    for t in [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0] {
        let (_, _, _, nll) = score(sets, gold, pt_of, Fusion { temperature: t, ..f });
        if nll < best_nll {
            best_nll = nll;
            f.temperature = t;
        }
    }
    f
}

/// Weights by validation LLT@1 (the untuned dense alone is one of the choices), then the
/// temperature that makes the confidences calibrated (lowest negative log-likelihood).
pub fn fit_fusion(sets: &[CandidateSet], gold: &[usize], pt_of: &dyn Fn(usize) -> u32) -> Fusion {
    let grid = [0.0, 0.25, 0.5, 1.0, 2.0];
    let mut best = (Fusion { w_ensemble: 0.0, w_xtars: 0.0, w_dense: 1.0, temperature: 1.0 }, f64::NEG_INFINITY);
    for &we in &grid {
        for &wx in &grid {
            for &wd in &grid {
                if we == 0.0 && wx == 0.0 && wd == 0.0 {
                    continue;
                }
                let f = Fusion { w_ensemble: we, w_xtars: wx, w_dense: wd, temperature: 1.0 };
                let (l1, p1, _, _) = score(sets, gold, pt_of, f);
                let key = l1 + 1e-3 * p1;
                if key > best.1 + 1e-12 {
                    best = (f, key);
                }
            }
        }
    }
    fit_temperature(sets, gold, pt_of, best.0)
}

pub struct Outcome {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Trains and saves a model for `dict`; returns where it was saved.
pub fn train(dict: Arc<Dictionary>, coded: &[Coded], init: &Init, o: &Options, data_dir: &Path, cache_dir: Option<&Path>) -> Result<Outcome> {
    let started = Instant::now();
    let ts = data::build(&dict, coded, o.seed);
    if ts.train.is_empty() {
        bail!("nothing to train on: the dictionary has no current LLTs");
    }
    let o = &Options { hyper: if o.device_batch { at_batch(&o.hyper, device_batch(o.device, ts.train.len())) } else { o.hyper.clone() }, ..o.clone() };
    let h = &o.hyper;
    // What the members and the fusion are measured on: a seeded sample of the validation set.
    let validation_seed = o.seed + 31;
    let valid: Vec<Sample> = sample_indices(ts.valid.len(), VALIDATION_SAMPLE, validation_seed).into_iter().map(|i| ts.valid[i].clone()).collect();
    if o.progress {
        eprintln!(
            "Training set: {} samples ({} coded pairs, {} skipped: unknown or non-current LLT), validation {} (measured on {})",
            ts.train.len(),
            ts.coded_pairs,
            ts.skipped,
            ts.valid.len(),
            valid.len()
        );
        eprintln!(
            "Batch {} ({}), learning rates {:.1e} encoder / {:.1e} head, {}",
            h.batch,
            if o.device_batch { "chosen for the device and the training set" } else { "as asked" },
            h.lr_encoder,
            h.lr_head,
            if h.length_buckets { "length-bucketed batches" } else { "batches in random order" }
        );
    }
    let created = chrono::Utc::now();
    let safe_version: String = dict.version.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    let id = format!("xtars-{safe_version}-{}", created.format("%Y%m%dT%H%M%SZ"));
    let staging = Staging::new(data_dir, &id)?;
    o.mark("training set", 0);

    let untuned = init.encoder(o.device, o.seed)?;
    let (base_name, fingerprint) = init.describe();
    let label_emb =
        engine::dense::DenseIndex::load_or_build(&untuned, &dict, &fingerprint, cache_dir.filter(|_| matches!(init, Init::Base(_))), o.progress)?.emb;
    let labels = data::labels(&dict);
    let names: Vec<String> = labels.iter().map(|&i| dict.llts[i].name.clone()).collect();
    o.mark("dense index", 0);

    let mut members = Vec::new();
    for i in 0..h.members {
        members.push(train_member(i, init, &label_emb, &ts, &valid, o, &staging.dir.join(format!("member-{i}.safetensors")))?);
    }

    // Hard negatives for XTARS from the trained ensemble and from label similarity.
    let mut rng = StdRng::seed_from_u64(o.seed + 5);
    let samples = xtars_samples(ts.train.len(), h, &mut rng);
    let terms: Vec<&str> = samples.iter().map(|&i| ts.train[i].term.as_str()).collect();
    let prep = Instant::now();
    let pb = progress_bar(o.progress, terms.len() as u64, "hard negatives".into());
    let ens_top = ensemble_top(&members, &terms, 6, o.device, &pb)?;
    pb.finish_and_clear();
    // Label neighbours only of the gold labels that train.
    let mut golds: Vec<usize> = samples.iter().map(|&i| ts.train[i].label).collect();
    golds.sort_unstable();
    golds.dedup();
    let label_sims_top: std::collections::HashMap<usize, Neighbours> = neighbours_of(&label_emb, &golds, (3 * h.negatives_m + 1) as i64)?.into_iter().collect();
    if o.progress {
        eprintln!("Hard negatives: {} terms ({} gold labels) x {} labels in {:.1} s", terms.len(), golds.len(), labels.len(), prep.elapsed().as_secs_f64());
    }
    let pairs = xtars_pairs(&ts, &samples, &ens_top, &label_sims_top, h, &mut rng);
    drop((ens_top, label_sims_top));
    o.mark("hard negatives", 0);
    if o.progress {
        eprintln!("XTARS: {} training pairs ({} positive)", pairs.len(), samples.len());
    }
    let xtars = train_xtars(init, &names, &ts, &pairs, o, &staging.dir.join("xtars.safetensors"))?;

    // Fusion weights and calibration on the validation data.
    let mut manifest = Manifest {
        id: id.clone(),
        created_at: created.to_rfc3339(),
        medcoder_version: env!("CARGO_PKG_VERSION").into(),
        base_model: base_name,
        base_fingerprint: fingerprint,
        bert_config: init.config(),
        meddra_version: dict.version.clone(),
        labels: labels.len(),
        training_data_hash: ts.hash.clone(),
        train_samples: ts.train.len(),
        valid_samples: ts.valid.len(),
        validation_sample: valid.len(),
        validation_seed,
        coded_pairs: ts.coded_pairs,
        seeds: (0..h.members).map(|i| o.seed + 1000 * i as u64).collect(),
        hyper: h.clone(),
        fusion: Fusion { w_ensemble: 1.0, w_xtars: 1.0, w_dense: 1.0, temperature: 1.0 },
        fusion_fitted_on_coded_validation: false,
        validation: vec![],
        device: format!("{:?}", o.device),
        training_seconds: 0.0,
        files: vec![],
    };
    let engine = Engine::builder(dict.clone()).encoder(untuned, Some(label_emb.shallow_clone()), &id).build()?.with_trained(Trained {
        members,
        xtars,
        manifest: manifest.clone(),
        coded: None,
        trained_on: Default::default(),
        record: engine::record::Record::empty(init.config().hidden_size, o.device),
        record_start: engine::record::Record::empty(init.config().hidden_size, o.device),
    });
    let t = engine.trained.as_ref().expect("just set");
    let vterms: Vec<&str> = valid.iter().map(|s| s.term.as_str()).collect();
    let mut sets = Vec::new();
    let pb = progress_bar(o.progress, vterms.len() as u64, "fusion on validation".into());
    for chunk in vterms.chunks(128) {
        sets.extend(engine.candidates(t, chunk, true)?);
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let gold: Vec<usize> = valid.iter().map(|s| s.label).collect();
    let pt_of = |l: usize| dict.llts[labels[l]].pt_code;
    // Validation made of augmented LLT names does not predict how the components rank real
    // reported terms (measured: +10 points there, -2.9 on investigator language), so without
    // enough coded validation the dense ranking is kept.
    let fit_on_coded = ts.valid_is_coded && valid.len() >= MIN_CODED_VALIDATION;
    let fusion = if fit_on_coded { fit_fusion(&sets, &gold, &pt_of) } else { dense_fusion(&sets, &gold, &pt_of) };
    if o.progress && !fit_on_coded {
        eprintln!(
            "Only {} held-out coded terms (fewer than {MIN_CODED_VALIDATION}): the ranking stays the untuned dense index's. Train with labelled data (--data) or confirmed decisions to let the ensemble and XTARS rank.",
            if ts.valid_is_coded { valid.len() } else { 0 }
        );
    }
    let mut validation = Vec::new();
    for (name, f) in engine::component_fusions().into_iter().chain([("fusion", fusion)]) {
        let (l1, p1, l5, _) = score(&sets, &gold, &pt_of, f);
        validation.push(ComponentScore { component: name.into(), llt_at_1: l1, pt_at_1: p1, llt_at_5: l5 });
    }
    if ts.valid_is_coded {
        // Where the fitted fusion and the dense index disagreed on held-out coded terms and one
        // was right: what the model's record starts from.
        let code = |l: usize| dict.llts[labels[l]].code;
        let rows: Vec<(String, u32, u32, u32)> = valid
            .iter()
            .zip(&sets)
            .zip(&gold)
            .filter_map(|((v, set), &g)| {
                let (f, d) = set.choices(fusion)?;
                ((f == g) != (d == g)).then(|| (v.term.clone(), code(f), code(d), code(g)))
            })
            .collect();
        std::fs::write(staging.dir.join(engine::record::VALIDATION_FILE), engine::record::format_validation(&rows))?;
    }
    o.mark("fusion on validation", 0);
    manifest.fusion = fusion;
    manifest.fusion_fitted_on_coded_validation = fit_on_coded;
    manifest.validation = validation;
    manifest.training_seconds = started.elapsed().as_secs_f64();
    std::fs::write(staging.dir.join("labels.json"), serde_json::to_string(&labels.iter().map(|&i| dict.llts[i].code).collect::<Vec<_>>())?)?;
    let mut seen: Vec<&String> = ts.seen_terms.iter().collect();
    seen.sort();
    std::fs::write(staging.dir.join("train_terms.txt"), seen.iter().map(|s| format!("{s}\n")).collect::<String>())?;
    // The coded terms alone (not the LLT names and their copies): the reference of the engine's
    // per-term gate.
    let mut coded_terms: Vec<String> = coded.iter().map(|c| crate::text::normalize(&c.term)).filter(|t| !t.is_empty()).collect();
    coded_terms.sort();
    coded_terms.dedup();
    std::fs::write(staging.dir.join("coded_terms.txt"), coded_terms.iter().map(|s| format!("{s}\n")).collect::<String>())?;
    let (dir, manifest) = staging.commit(manifest)?;
    o.mark("save", 0);
    Ok(Outcome { dir, manifest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_batch_grows_on_a_gpu_only_while_an_epoch_keeps_its_steps() {
        let gpu = Device::Cuda(0);
        for samples in [0, 2_316, 27_000, 63_999] {
            assert_eq!(device_batch(gpu, samples), BASE_BATCH, "{samples} samples");
        }
        assert_eq!(device_batch(gpu, 64_000), 64);
        assert_eq!(device_batch(gpu, 300_000), 256);
        // The real shape (80,000 LLTs, 300,000 coded pairs): 1,025,205 samples.
        assert_eq!(device_batch(gpu, 1_025_205), 1024);
        assert_eq!(device_batch(gpu, 50_000_000), MAX_DEVICE_BATCH);
        for samples in [64_000, 300_000, 1_025_205] {
            assert!(samples / device_batch(gpu, samples) >= MIN_STEPS_PER_EPOCH);
        }
        assert_eq!(device_batch(Device::Cpu, 1_025_205), BASE_BATCH, "the CPU recipe is unchanged");
    }

    #[test]
    fn learning_rates_follow_the_square_root_of_the_batch_with_the_encoder_capped() {
        let h = default_hyper(Device::Cpu);
        assert_eq!(at_batch(&h, BASE_BATCH), h, "batch 32 is the recipe as it was");
        let b = at_batch(&h, 128);
        assert_eq!(b.batch, 128);
        assert!((b.lr_encoder - 2.0 * h.lr_encoder).abs() < 1e-12 && (b.lr_head - 2.0 * h.lr_head).abs() < 1e-12);
        let big = at_batch(&h, 1024);
        assert_eq!(big.lr_encoder, MAX_LR_ENCODER);
        assert!((big.lr_head - 32f64.sqrt() * h.lr_head).abs() < 1e-12);
        assert_eq!((big.members, big.epochs, big.warmup), (h.members, h.epochs, h.warmup));
    }

    #[test]
    fn length_buckets_keep_every_input_once_and_pad_less_than_random_batches() {
        let n = 5_000;
        let len = |i: usize| (i * 7919) % 40 + 1;
        let mut rng = StdRng::seed_from_u64(1);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let buckets = length_bucketed(&order, 32, len, &mut rng);
        let mut seen: Vec<usize> = buckets.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        assert!(buckets.iter().all(|b| !b.is_empty() && b.len() <= 32));
        // Padded size: every batch as long as its longest input.
        let padded = |bs: &[Vec<usize>]| bs.iter().map(|b| b.len() * b.iter().map(|&i| len(i)).max().unwrap()).sum::<usize>();
        let random: Vec<Vec<usize>> = order.chunks(32).map(<[usize]>::to_vec).collect();
        assert!(padded(&buckets) * 3 < padded(&random) * 2, "{} vs {}", padded(&buckets), padded(&random));
        // Batches come in a shuffled order, not shortest first.
        let longest: Vec<usize> = buckets.iter().map(|b| b.iter().map(|&i| len(i)).max().unwrap()).collect();
        assert!(longest.windows(2).any(|w| w[0] > w[1]));
        // Seeded: the same seed gives the same epoch.
        let again = length_bucketed(&order, 32, len, &mut StdRng::seed_from_u64(2));
        assert_eq!(again, length_bucketed(&order, 32, len, &mut StdRng::seed_from_u64(2)));
    }

    #[test]
    fn without_length_buckets_an_epoch_is_the_shuffled_order_cut_in_batches_as_before() {
        let h = Hyper { length_buckets: false, batch: 4, ..default_hyper(Device::Cpu) };
        let got = epoch_batches(10, &h, |i| i, &mut StdRng::seed_from_u64(3));
        let mut order: Vec<usize> = (0..10).collect();
        order.shuffle(&mut StdRng::seed_from_u64(3));
        assert_eq!(got, order.chunks(4).map(<[usize]>::to_vec).collect::<Vec<_>>());
    }

    #[test]
    fn the_validation_sample_is_seeded_and_bounded() {
        assert_eq!(sample_indices(5, 10, 1), vec![0, 1, 2, 3, 4]);
        let a = sample_indices(30_000, VALIDATION_SAMPLE, 7);
        assert_eq!(a.len(), VALIDATION_SAMPLE);
        assert_eq!(a, sample_indices(30_000, VALIDATION_SAMPLE, 7));
        assert_ne!(a, sample_indices(30_000, VALIDATION_SAMPLE, 8));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn neighbours_of_a_few_labels_are_those_of_the_whole_matrix() {
        let emb = Tensor::from_slice(&[1.0f32, 0.0, 0.8, 0.6, 0.0, 1.0, 0.6, 0.8]).view([4, 2]);
        let all = label_neighbours(&emb, 2).unwrap();
        let some = neighbours_of(&emb, &[3, 1], 2).unwrap();
        assert_eq!(some, vec![(3, all[3].clone()), (1, all[1].clone())]);
        assert_eq!(all[0][0].0, 0, "a label is its own nearest");
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        assert!((schedule(0, 100, 10) - 0.1).abs() < 1e-9);
        assert!((schedule(9, 100, 10) - 1.0).abs() < 1e-9);
        assert!(schedule(50, 100, 10) < 1.0 && schedule(50, 100, 10) > 0.5);
        assert!(schedule(99, 100, 10) < 0.05);
    }

    #[test]
    fn fusion_prefers_the_component_that_ranks_right() {
        // Two candidates per term; xtars ranks gold first, dense ranks it second.
        let sets: Vec<CandidateSet> = (0..10)
            .map(|_| CandidateSet {
                gate: 1.0,
                evidence: Default::default(),
                rows: vec![
                    engine::Candidate { label: 0, ln_p: -1.0, xtars: 3.0, dense: 1.0 },
                    engine::Candidate { label: 1, ln_p: -1.0, xtars: -3.0, dense: 2.0 },
                ],
                entropy: 0.0,
                dense: vec![],
                ensemble: vec![],
            })
            .collect();
        let gold = vec![0; 10];
        let f = fit_fusion(&sets, &gold, &|l| l as u32);
        assert!(f.w_xtars > 0.0);
        assert_eq!(score(&sets, &gold, &|l| l as u32, f).0, 1.0);
    }
}
