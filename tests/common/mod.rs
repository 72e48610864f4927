//! Helpers for tests that drive the medcoder binary as a user would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

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

    /// Runs and returns (success, stdout, stderr). With `--user NAME`, NAME's password (see
    /// `password`) is typed on standard input as often as medcoder asks for it: to act as NAME from
    /// this OS login and to sign; `user passwd NAME` gets NAME's password as the new one.
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let after = |flag: &str| args.iter().position(|a| *a == flag).and_then(|i| args.get(i + 1)).copied();
        let who = match (after("passwd"), after("--user")) {
            (Some(target), _) if !target.starts_with('-') => Some(target),
            (_, acting) => acting,
        };
        let input = who.map(|w| format!("{}\n", password(w)).repeat(3));
        self.run_with_input(args, input.as_deref())
    }

    /// Runs with `input` on standard input (and `--password-stdin` when there is input).
    pub fn run_with_input(&self, args: &[&str], input: Option<&str>) -> (bool, String, String) {
        use std::io::Write;
        let mut c = self.cmd(args);
        if input.is_some() {
            c.arg("--password-stdin");
        }
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(text) = input {
            // A command that asks for fewer lines closes its end early: that is fine.
            let _ = child.stdin.take().unwrap().write_all(text.as_bytes());
        }
        drop(child.stdin.take());
        let out: Output = child.wait_with_output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// The first user `admin` (bound to this OS login, as whoever sets medcoder up), then `users`,
    /// each with the password `password(name)`.
    pub fn add_users(&self, users: &[(&str, &str)]) {
        if !self.ok(&["user", "list"]).contains("admin") {
            self.ok(&["user", "add", "admin", "--role", "admin"]);
            self.ok(&["--user", "admin", "user", "passwd"]);
        }
        for (name, role) in users {
            self.ok(&["--user", "admin", "user", "add", name, "--role", role]);
            self.ok(&["--user", "admin", "user", "passwd", name]);
        }
    }

    /// Queues (id, term) rows from a CSV `file` in the test folder as alice.
    pub fn queue(&self, file: &str, rows: &[(&str, &str)]) -> String {
        let q = self.dir.path().join(file);
        let mut text = "id,study,subject,reported_term\n".to_string();
        for (id, term) in rows {
            text.push_str(&format!("{id},ST1,001,\"{term}\"\n"));
        }
        std::fs::write(&q, text).unwrap();
        self.ok(&["--user", "alice", "queue", "import", s(&q)])
    }

    /// An item as `queue list --json` shows it.
    pub fn state(&self, id: &str) -> serde_json::Value {
        let out = self.ok(&["queue", "list", "--json", "--text", id]);
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).find(|v| v["external_id"] == id).unwrap()
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

/// The password tests give user `name`.
pub fn password(name: &str) -> String {
    format!("{}-secret", name.to_lowercase())
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

/// The real binary in a tmux session of its own, driven with keys.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// The desk on `env`'s database, with `args`.
    pub fn start(env: &Env, args: &str) -> Option<Tmux> {
        Tmux::command(&format!(
            "MEDCODER_DB={} MEDCODER_HOME={} NO_COLOR=1 {} {args}",
            env.db().display(),
            env.dir.path().join("home").display(),
            env!("CARGO_BIN_EXE_medcoder")
        ))
    }

    /// Any command line (a shell command) in an 80x24 terminal; None where tmux is missing.
    pub fn command(cmd: &str) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            eprintln!("skipped: tmux is not installed (scripts/test installs it)");
            return None;
        }
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let socket = format!("medcoder-e2e-{}-{}", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let ok = Command::new("tmux").args(["-L", &socket, "new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", cmd]).status().unwrap().success();
        assert!(ok, "tmux did not start");
        Some(Tmux { socket })
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket, "capture-pane", "-p", "-t", "e2e"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", "e2e", k]).status().unwrap();
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    pub fn text(&self, s: &str) {
        Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", "e2e", "-l", s]).status().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }

    pub fn wait_for(&self, what: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(what) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what:?}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_exit(&self) {
        let start = Instant::now();
        while Command::new("tmux").args(["-L", &self.socket, "has-session", "-t", "e2e"]).stderr(std::process::Stdio::null()).status().unwrap().success() {
            assert!(start.elapsed() < Duration::from_secs(10), "the desk did not quit:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The server is gone already when the desk quit: nothing to say then.
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).stderr(std::process::Stdio::null()).status();
    }
}
