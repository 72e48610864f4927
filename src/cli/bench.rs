//! `medcoder bench ...`: the arguments; the measurements are in `crate::bench`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use crate::bench;
use crate::model::precision::Precision;

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
    /// The whole training pipeline on a generated release with a small step cap: each stage's time
    /// and peak memory, then one term's top-5 at that scale (targets on CPU at 80,000 LLTs and
    /// 300,000 pairs: peak memory under 8 GB, hard negatives under 2 minutes, top-5 under 100 ms).
    Train {
        #[arg(long, default_value_t = 80_000)]
        llts: usize,
        #[arg(long, default_value_t = 300_000)]
        pairs: usize,
        /// Optimiser steps per epoch.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// tiny: a random 2-layer BERT (memory does not depend on the encoder); base: the installed one.
        #[arg(long, value_enum, default_value = "tiny")]
        encoder: TrainEncoderArg,
        /// Terms (XTARS: pairs) per step (default: the device's recipe: 32 on a CPU, on a GPU the
        /// largest of 32..1024 that keeps 1,000 steps an epoch); the projection of the full recipe
        /// uses it.
        #[arg(long)]
        batch: Option<usize>,
        /// Members, epochs and XTARS epochs of this run (default: the device's recipe); the
        /// projection is always of the full recipe.
        #[arg(long)]
        members: Option<usize>,
        #[arg(long)]
        epochs: Option<usize>,
        #[arg(long)]
        xtars_epochs: Option<usize>,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum TrainEncoderArg {
    Tiny,
    Base,
}

pub fn run(cmd: BenchCmd, db: &Path, precision: Precision) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Dict { llts, queries } => bench::dict(llts, queries)?,
        BenchCmd::Propose { runs, batch } => bench::propose(db, runs, batch, precision)?,
        BenchCmd::Train { llts, pairs, steps, encoder, batch, members, epochs, xtars_epochs } => {
            let encoder = match encoder {
                TrainEncoderArg::Tiny => bench::TrainEncoder::Tiny,
                TrainEncoderArg::Base => bench::TrainEncoder::Base,
            };
            bench::train(llts, pairs, steps, encoder, precision, bench::TrainShape { batch, members, epochs, xtars_epochs })?
        }
        BenchCmd::Desk { llts, items } => bench::desk(llts, items)?,
        BenchCmd::Memory { terms, replay_rows } => bench::memory(terms, replay_rows)?,
    }
    Ok(ExitCode::SUCCESS)
}
