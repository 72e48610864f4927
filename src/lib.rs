//! medcoder: a coding desk that turns adverse-event reported terms into MedDRA codes.
//!
//! Data flows one way: `meddra` (reading releases) -> `store` (SQLite) -> engine -> TUI.

pub mod backtest;
pub mod bench;
pub mod engine;
pub mod eval;
pub mod cli;
pub mod desk;
pub mod meddra;
pub mod model;
pub mod paths;
pub mod store;
pub mod text;
pub mod torch_env;
pub mod train;
pub mod tui;
