//! `medcoder bench ...`: the arguments; the measurements are in `crate::bench`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::bench;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Import of a generated release, then LLT search latency (target: import < 10 s, search p95 < 20 ms).
    Dict {
        #[arg(long, default_value_t = 80_000)]
        llts: usize,
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
    },
    /// Proposal latency for one term and throughput for a batch, with the model the database's
    /// active dictionary would use (target on CPU: one term's top-5 under 100 ms with 3 members).
    Propose {
        #[arg(long, default_value_t = 100)]
        runs: usize,
        #[arg(long, default_value_t = 1024)]
        batch: usize,
    },
    /// Coding desk frame times on a generated release (target: every frame under 16 ms).
    Desk {
        #[arg(long, default_value_t = 80_000)]
        llts: usize,
        #[arg(long, default_value_t = 2_000)]
        items: usize,
    },
    /// The coded-term memory: load at desk start, one term's top-5 and learning one decision with
    /// `--terms` remembered terms, and a replay (targets on CPU: < 1 s, < 100 ms, < 50 ms; a
    /// 10,000-row replay < 5 minutes).
    Memory {
        #[arg(long, default_value_t = 100_000)]
        terms: usize,
        #[arg(long, default_value_t = 10_000)]
        replay_rows: usize,
    },
}

pub fn run(cmd: BenchCmd, db: &Path) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Dict { llts, queries } => bench::dict(llts, queries)?,
        BenchCmd::Propose { runs, batch } => bench::propose(db, runs, batch)?,
        BenchCmd::Desk { llts, items } => bench::desk(llts, items)?,
        BenchCmd::Memory { terms, replay_rows } => bench::memory(terms, replay_rows)?,
    }
    Ok(ExitCode::SUCCESS)
}
