//! Helpers for tests that drive the medcoder binary as a user would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("medcoder.db")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medcoder"));
        c.args(args).env("MEDCODER_DB", self.db()).env("MEDCODER_HOME", self.dir.path().join("home")).env_remove("MEDCODER_USER").env("NO_COLOR", "1");
        c
    }

    /// Runs and returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out: Output = self.cmd(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Runs and panics with the output unless it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "medcoder {args:?} failed\nstdout:\n{out}\nstderr:\n{err}");
        out
    }

    /// Runs and panics unless it failed; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "medcoder {args:?} should have failed\nstdout:\n{out}");
        err
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_dir() -> PathBuf {
    repo().join("assets/demo")
}

/// ../shared/data beside the repository, when present.
pub fn shared_data() -> Option<PathBuf> {
    let p = repo().join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared/data is not present");
        None
    }
}

/// Copies the demo MedAscii files into `dst/MedAscii` for tests that alter them.
pub fn copy_demo(dst: &Path) -> PathBuf {
    let to = dst.join("MedAscii");
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(demo_dir().join("MedAscii")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    to
}

/// The code of a demo LLT, by name.
pub fn llt_code(name: &str) -> String {
    let text = std::fs::read_to_string(demo_dir().join("MedAscii/llt.asc")).unwrap();
    text.lines().find(|l| l.split('$').nth(1) == Some(name)).unwrap().split('$').next().unwrap().to_string()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
