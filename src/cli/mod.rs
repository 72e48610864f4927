//! Command-line interface: argument parsing and one handler module per command group.

mod dict;
mod doctor;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::store::Store;

#[derive(Parser, Debug)]
#[command(name = "medcoder", version, about = "Code adverse-event reported terms to MedDRA, with four-eye review")]
pub struct Cli {
    /// Database file (default: medcoder.db in the data directory).
    #[arg(long, global = true, env = "MEDCODER_DB")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Versions, libtorch and CUDA, data directory, loaded dictionary: what to run first when something is wrong.
    Doctor,
    /// MedDRA releases: import, versions, diff, search, show.
    #[command(subcommand)]
    Dict(dict::DictCmd),
    /// Load the bundled demo dictionary (if not loaded yet) and show what medcoder does with it.
    Demo,
    /// Benchmarks (speed targets live here, not in tests).
    #[command(subcommand)]
    Bench(crate::bench::BenchCmd),
}

pub fn run() -> Result<ExitCode> {
    let cli = Cli::parse();
    let db = match &cli.db {
        Some(p) => p.clone(),
        None => crate::paths::default_db()?,
    };
    match cli.command {
        Some(Command::Doctor) => doctor::run(&db),
        Some(Command::Dict(cmd)) => dict::run(cmd, &db),
        Some(Command::Demo) => {
            let mut store = Store::open(&db)?;
            dict::ensure_demo(&mut store)?;
            dict::overview(&store)
        }
        Some(Command::Bench(cmd)) => crate::bench::run(cmd),
        None => {
            let store = Store::open(&db)?;
            dict::overview(&store)
        }
    }
}
