//! Time and peak memory of each training stage (`medcoder bench train`, the scale test).
//!
//! Peak memory is the process's peak resident set (VmHWM), reset at the start of each stage by
//! writing 5 to /proc/self/clear_refs (Linux 4.0+), so each stage reports its own peak.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Stage {
    pub name: String,
    pub seconds: f64,
    /// Peak resident memory during the stage, in bytes (None where /proc does not say).
    pub peak_rss: Option<u64>,
    /// Optimiser steps the stage ran (0 for stages without).
    pub steps: usize,
}

pub struct Stages {
    started: Mutex<(Instant, Vec<Stage>)>,
}

impl Default for Stages {
    fn default() -> Self {
        Self::new()
    }
}

impl Stages {
    pub fn new() -> Stages {
        reset_peak_rss();
        Stages { started: Mutex::new((Instant::now(), Vec::new())) }
    }

    /// Ends the stage running since the previous mark (or creation) and starts the next one.
    pub fn mark(&self, name: &str, steps: usize) {
        let mut g = self.started.lock().unwrap_or_else(|e| e.into_inner());
        let seconds = g.0.elapsed().as_secs_f64();
        g.1.push(Stage { name: name.to_string(), seconds, peak_rss: peak_rss(), steps });
        reset_peak_rss();
        g.0 = Instant::now();
    }

    pub fn stages(&self) -> Vec<Stage> {
        self.started.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
    }
}

/// The process's peak resident memory since the last reset, in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak to the current resident memory; returns false where the kernel refuses.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
