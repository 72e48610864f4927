//! `medcoder bench`: speed targets measured on generated data of real MedDRA size.
//! Results are recorded in BENCHMARKS.md with date, machine and command.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Subcommand;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::meddra::search::SearchIndex;
use crate::meddra::{synth, Dictionary, Release};
use crate::store::Store;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Import of a generated release, then LLT search latency (target: import < 10 s, search p95 < 20 ms).
    Dict {
        #[arg(long, default_value_t = 80_000)]
        llts: usize,
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
    },
}

pub fn run(cmd: BenchCmd) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Dict { llts, queries } => dict(llts, queries),
    }
}

fn dict(llts: usize, queries: usize) -> Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let rel = synth::generate(llts, 42, "BENCH-1");
    synth::write_ascii(&rel, tmp.path())?;
    let db = tmp.path().join("bench.db");
    let mut store = Store::open(&db)?;

    let t = Instant::now();
    let (read, _) = Release::read(tmp.path())?;
    let parse = t.elapsed();
    store.import_release(&read, "bench", false)?;
    let import = t.elapsed();
    println!("import of {llts} LLTs ({} PTs): {:.2} s (read + validate {:.2} s, write {:.2} s)", rel.pts.len(), import.as_secs_f64(), parse.as_secs_f64(), (import - parse).as_secs_f64());

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
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3;
    println!(
        "search over {} queries (whole words, prefixes, typos, shuffled words; {} with results): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        qs.len(),
        found,
        pct(0.5),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    );
    Ok(ExitCode::SUCCESS)
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
