//! medcoder: a coding desk that turns adverse-event reported terms into MedDRA codes.
//!
//! Data flows one way: `intake` (queue files) and `meddra` (releases) -> `store` (SQLite, the
//! only place with SQL) -> `engine` (proposals; `model` and `train` beneath it) -> `desk` (what a
//! coder or reviewer sees and does) -> `tui`. `cli` parses arguments and prints; nothing below it
//! imports it.

pub mod backtest;
pub mod bench;
pub mod calibration;
pub mod charts;
pub mod cli;
pub mod desk;
pub mod engine;
pub mod eval;
pub mod identity;
pub mod intake;
pub mod meddra;
pub mod model;
pub mod paths;
pub mod qualifiers;
pub mod replay;
pub mod report;
pub mod sdtm;
pub mod store;
pub mod text;
pub mod torch_env;
pub mod train;
pub mod tui;
