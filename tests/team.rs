//! Team mode on PostgreSQL (issue #12): the CLI against a team database, and the rules the
//! database enforces, attacked with direct SQL as a coder and a reviewer who open their own
//! connection. Needs the throw-away server that `scripts/test` starts (MEDCODER_TEST_PG_SOCKET,
//! MEDCODER_TEST_PG_PORT); skipped with a message without it.

mod common;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Tmux;

use postgres::{Client, NoTls};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh team database on the test server with an admin, a coder and two reviewers.
struct Team {
    db: String,
    socket: String,
    port: String,
    /// MEDCODER_HOME of every run: model and embedding caches stay out of the user's.
    home: tempfile::TempDir,
}

const PW: &str = "correct horse battery";

impl Team {
    /// Just made by `team init`: no users, no dictionary, no items.
    fn bare() -> Option<Team> {
        let (Ok(socket), Ok(port)) = (std::env::var("MEDCODER_TEST_PG_SOCKET"), std::env::var("MEDCODER_TEST_PG_PORT")) else {
            eprintln!("skipped: no test PostgreSQL (scripts/test starts one; MEDCODER_TEST_PG_SOCKET and MEDCODER_TEST_PG_PORT are unset)");
            return None;
        };
        let db = format!("t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let t = Team { db, socket, port, home: tempfile::tempdir().unwrap() };
        t.ok(&t.superuser(), &["team", "init"], None);
        Some(t)
    }

    fn new() -> Option<Team> {
        let t = Team::bare()?;
        t.ok(&t.superuser(), &["team", "user", "add", &t.role("admin"), "--role", "admin", "--set-password"], Some(PW));
        t.ok(&t.superuser(), &["team", "user", "add", &t.role("coder"), "--role", "coder", "--set-password"], Some(PW));
        for r in ["rev1", "rev2"] {
            t.ok(&t.superuser(), &["team", "user", "add", &t.role(r), "--role", "reviewer", "--set-password"], Some(PW));
        }
        t.ok(&t.url("admin"), &["dict", "import", "assets/demo/MedAscii"], Some(PW));
        let queue = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(queue.path(), "id,study,subject,reported_term\nAE-1,S1,P1,my head really hurts\nAE-2,S1,P2,sick to stomach\nAE-3,S1,P3,rash on arms\n")
            .unwrap();
        t.ok(&t.url("coder"), &["queue", "import", queue.path().to_str().unwrap()], Some(PW));
        Some(t)
    }

    /// Role names are cluster-wide: each test database gets its own.
    fn role(&self, who: &str) -> String {
        format!("{}_{who}", self.db)
    }

    fn superuser(&self) -> String {
        format!("postgresql://postgres@/{}?host={}&port={}", self.db, self.socket, self.port)
    }

    /// A user on the server's machine: the local socket (the test cluster trusts it; a real one maps
    /// the OS login by peer authentication).
    fn local(&self, who: &str) -> String {
        format!("postgresql://{}@/{}?host={}&port={}", self.role(who), self.db, self.socket, self.port)
    }

    /// A user's desk on another machine: password over TCP.
    fn url(&self, who: &str) -> String {
        format!("postgresql://{}@127.0.0.1:{}/{}", self.role(who), self.port, self.db)
    }

    fn run(&self, url: &str, args: &[&str], password: Option<&str>) -> (bool, String) {
        match password {
            Some(pw) => self.run_with_stdin(url, args, &format!("{pw}\n{pw}\n")),
            None => {
                let out = self.command(url, args).stdin(std::process::Stdio::null()).output().unwrap();
                (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
            }
        }
    }

    fn command(&self, url: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medcoder"));
        c.arg("--db").arg(url).args(args).env_remove("MEDCODER_USER").env_remove("MEDCODER_DB").env("MEDCODER_HOME", self.home.path());
        c
    }

    /// With `input` on standard input as it is (several passwords, one a line).
    fn run_with_stdin(&self, url: &str, args: &[&str], input: &str) -> (bool, String) {
        use std::io::Write;
        let mut c = self.command(url, &[&["--password-stdin"], args].concat());
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }

    fn ok_with_stdin(&self, url: &str, args: &[&str], input: &str) -> String {
        let (ok, out) = self.run_with_stdin(url, args, input);
        assert!(ok, "medcoder {args:?} failed: {out}");
        out
    }

    fn ok(&self, url: &str, args: &[&str], password: Option<&str>) -> String {
        let (ok, out) = self.run(url, args, password);
        assert!(ok, "medcoder {args:?} failed: {out}");
        out
    }

    fn refused(&self, url: &str, args: &[&str], why: &str) {
        let (ok, out) = self.run(url, args, Some(PW));
        assert!(!ok, "medcoder {args:?} was not refused: {out}");
        assert!(out.contains(why), "medcoder {args:?}: expected '{why}' in: {out}");
    }

    /// Direct SQL, as `who` would type it in psql with their own credentials.
    fn sql(&self, who: &str) -> Client {
        postgres::Config::new().host("127.0.0.1").port(self.port.parse().unwrap()).user(&self.role(who)).password(PW).dbname(&self.db).connect(NoTls).unwrap()
    }

    /// Imports queue rows ("id,study,subject,reported_term" lines) as the coder.
    fn import(&self, rows: &str) {
        let queue = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(queue.path(), format!("id,study,subject,reported_term\n{rows}")).unwrap();
        self.ok(&self.url("coder"), &["queue", "import", queue.path().to_str().unwrap()], Some(PW));
    }

    fn superuser_sql(&self) -> Client {
        postgres::Config::new().host_path(&self.socket).port(self.port.parse().unwrap()).user("postgres").dbname(&self.db).connect(NoTls).unwrap()
    }
}

/// The first `n` LLTs of the demo dictionary that are current / non-current.
fn demo_llts(current: bool, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string("assets/demo/MedAscii/llt.asc").unwrap();
    let codes: Vec<String> = text
        .lines()
        .map(|l| l.split('$').collect::<Vec<_>>())
        .filter(|f| f.get(9) == Some(&if current { "Y" } else { "N" }))
        .map(|f| f[0].to_string())
        .take(n)
        .collect();
    assert_eq!(codes.len(), n, "demo dictionary has {n} such LLTs");
    codes
}

/// The first LLT of the demo dictionary that is current / non-current.
fn demo_llt(current: bool) -> String {
    demo_llts(current, 1).remove(0)
}

#[test]
fn the_workflow_runs_on_a_team_database() {
    let Some(t) = Team::new() else { return };
    let llt = demo_llt(true);
    let out = t.ok(&t.url("coder"), &["code", "AE-1", &llt, "--source", "search"], Some(PW));
    assert!(out.contains("AE-1 is now proposed (revision 1)"), "{out}");
    t.refused(&t.url("rev1"), &["confirm", "AE-1"], "confirm needs the revision you reviewed");
    t.refused(&t.url("coder"), &["confirm", "AE-1", "--rev", "1"], "only reviewers and admins confirm");
    t.refused(&t.url("rev1"), &["confirm", "AE-1", "--rev", "0"], "after you read it (revision 0, now 1)");
    let out = t.ok(&t.url("rev1"), &["confirm", "AE-1", "--rev", "1"], Some(PW));
    assert!(out.contains("AE-1 is now confirmed (revision 2)"), "{out}");
    // A reviewer's own proposal goes to another reviewer.
    t.ok(&t.url("rev1"), &["code", "AE-2", &llt], Some(PW));
    t.refused(&t.url("rev1"), &["confirm", "AE-2", "--rev", "1"], "four-eye rule");
    t.refused(&t.url("rev2"), &["return", "AE-2", "--comment", " ", "--rev", "1"], "return needs a comment");
    t.ok(&t.url("rev2"), &["return", "AE-2", "--comment", "too broad", "--rev", "1"], Some(PW));
    t.refused(&t.url("coder"), &["code", "AE-3", &demo_llt(false)], "non-current");
    t.refused(&t.url("coder"), &["code", "AE-3", "1"], "not an LLT code");
    t.refused(&t.url("coder"), &["--user", "rev1", "confirm", "AE-2"], "--user and MEDCODER_USER are not used");
    t.refused(&t.url("coder"), &["dict", "import", "assets/demo/MedAscii"], "only admins");
    // Users change their own password, with the current one.
    let (ok, out) = t.run_with_stdin(&t.url("rev2"), &["user", "passwd"], &format!("{PW}\nnot the password\nnew password 1\nnew password 1\n"));
    assert!(!ok && out.contains("did not accept the password"), "{out}");
    t.ok_with_stdin(&t.url("rev2"), &["user", "passwd"], &format!("{PW}\n{PW}\nnew password 1\nnew password 1\n"));
    t.ok_with_stdin(&t.url("rev2"), &["user", "passwd"], &format!("new password 1\nnew password 1\n{PW}\n{PW}\n"));
    // A wrong password opens nothing.
    let (ok, out) = t.run(&t.url("rev2"), &["confirm", "AE-1"], Some("not the password"));
    assert!(!ok && out.contains("password authentication failed"), "{out}");

    let list = t.ok(&t.url("coder"), &["queue", "list", "--state", "confirmed"], Some(PW));
    assert!(list.contains("AE-1") && !list.contains("AE-2"), "{list}");
    let log = t.ok(&t.url("rev2"), &["audit", "log", "--item", "AE-2"], Some(PW));
    for (who, action) in [(t.role("coder"), "import"), (t.role("rev1"), "propose"), (t.role("rev2"), "return")] {
        assert!(log.lines().any(|l| l.contains(&who) && l.contains(action)), "{who} {action} missing in:\n{log}");
    }
    // Identical terms are coded and confirmed as a group, each item its own decision.
    let queue = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queue.path(), "id,study,subject,reported_term\nAE-20,S1,P1,tingly fingers\nAE-21,S2,P2,Tingly fingers.\n").unwrap();
    t.ok(&t.url("coder"), &["queue", "import", queue.path().to_str().unwrap()], Some(PW));
    assert!(t.ok(&t.url("coder"), &["code-group", "tingly fingers", &llt], Some(PW)).contains("2 item(s) proposed"));
    assert!(t.ok(&t.url("rev1"), &["confirm-group", "tingly fingers", "--llt", &llt], Some(PW)).contains("2 item(s) confirmed"));
    let found = t.ok(&t.url("coder"), &["queue", "list", "--text", "TINGLY", "--state", "confirmed"], Some(PW));
    assert!(found.contains("AE-20") && found.contains("AE-21") && !found.contains("AE-1 "), "{found}");
    let anchors = t.home.path().join("team.anchors");
    assert!(t.ok(&t.url("rev1"), &["audit", "anchor", "--file", anchors.to_str().unwrap()], Some(PW)).len() > 64);
    // Text in any language: the log's hash counts characters the same way in the server and here.
    let queue = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queue.path(), "id,study,subject,reported_term\nAE-5,S1,P5,douleur à la tête — sévère ½\n").unwrap();
    t.ok(&t.url("coder"), &["queue", "import", queue.path().to_str().unwrap()], Some(PW));
    t.ok(&t.url("coder"), &["code", "AE-5", &llt], Some(PW));
    t.ok(&t.url("rev2"), &["confirm", "AE-5", "--rev", "1"], Some(PW));
    let verify = t.ok(&t.url("rev2"), &["audit", "verify", "--anchors", anchors.to_str().unwrap()], Some(PW));
    assert!(verify.contains("Decision log intact") && verify.contains("match the log") && verify.contains("Every head anchored"), "{verify}");
}

#[test]
fn a_coder_with_psql_cannot_break_the_rules() {
    let Some(t) = Team::new() else { return };
    let llt: i32 = demo_llt(true).parse().unwrap();
    let mut coder = t.sql("coder");
    let refused = |c: &mut Client, sql: &str, why: &str| {
        let err = c.batch_execute(sql).expect_err(sql);
        let text = err.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| err.to_string());
        assert!(text.contains(why), "{sql}: expected '{why}', got: {text}");
    };
    // No direct writes: items, the log, users, settings, dictionary.
    refused(&mut coder, "UPDATE medcoder.item SET state = 'confirmed', reviewer = 'x' WHERE external_id = 'AE-1'", "permission denied");
    refused(
        &mut coder,
        "INSERT INTO medcoder.decision_log(seq, at, username, action, prev_hash, hash) VALUES (999, '', 'x', 'confirm', '', '')",
        "permission denied",
    );
    refused(&mut coder, "UPDATE medcoder.decision_log SET username = 'someone'", "permission denied");
    refused(&mut coder, "DELETE FROM medcoder.decision_log", "permission denied");
    refused(&mut coder, "TRUNCATE medcoder.decision_log", "permission denied");
    refused(&mut coder, "UPDATE medcoder.app_user SET role = 'admin'", "permission denied");
    refused(&mut coder, "UPDATE medcoder.llt SET current = true", "permission denied");
    refused(&mut coder, "UPDATE medcoder.setting SET value = 'x'", "permission denied");
    // Nor the functions only the server's administrator or the rules themselves call.
    refused(&mut coder, &format!("SELECT medcoder.register_user('{}', 'admin')", t.role("coder")), "permission denied");
    refused(&mut coder, "SELECT medcoder.append_log('confirm', 1, 'AE-1', 'x', 'proposed', 'confirmed', 1, 1, 'v', 'search', NULL)", "permission denied");
    refused(&mut coder, "SELECT medcoder.add_llts('X', ARRAY[1], ARRAY['a'], ARRAY[1], ARRAY['a'], ARRAY[true])", "only admins");
    // No other identity, no objects of one's own to hijack the functions with.
    refused(&mut coder, &format!("SET ROLE {}", t.role("rev1")), "permission denied");
    refused(&mut coder, &format!("SET SESSION AUTHORIZATION {}", t.role("rev1")), "permission denied");
    refused(&mut coder, &format!("SET ROLE {}_owner", t.db), "permission denied");
    refused(&mut coder, "CREATE FUNCTION medcoder.me() RETURNS int LANGUAGE sql AS 'SELECT 1'", "permission denied");
    refused(&mut coder, "CREATE TEMP TABLE app_user(name text, role text)", "permission denied");
    refused(&mut coder, "ALTER TABLE medcoder.decision_log DISABLE TRIGGER ALL", "must be owner");

    // Through the functions, the rules hold for a coder's own SQL as for the CLI.
    let act = |c: &mut Client, id: &str, action: &str, llt: Option<i32>, source: Option<&str>, rev: Option<i64>| {
        c.query_one("SELECT revision FROM medcoder.act($1, $2, $3, $4, $5, $6)", &[&id, &action, &llt, &source, &Some("note"), &rev])
            .map(|r| r.get::<_, i64>(0))
            .map_err(|e| e.as_db_error().map(|d| d.message().to_string()).unwrap_or_default())
    };
    assert_eq!(act(&mut coder, "AE-1", "propose", Some(llt), Some("search"), None), Ok(1));
    assert!(act(&mut coder, "AE-1", "confirm", None, None, Some(1)).unwrap_err().contains("only reviewers"));
    assert!(act(&mut coder, "AE-2", "propose", Some(llt), Some("rule"), None).unwrap_err().contains("source must be"));
    let mut rev1 = t.sql("rev1");
    assert_eq!(act(&mut rev1, "AE-2", "propose", Some(llt), Some("manual"), None), Ok(1));
    assert!(act(&mut rev1, "AE-2", "confirm", None, None, Some(1)).unwrap_err().contains("four-eye rule"));
    // SET ROLE changes current_user, not the session's identity the rules read.
    rev1.batch_execute(&format!("SET ROLE {}_members", t.db)).unwrap();
    assert!(act(&mut rev1, "AE-2", "confirm", None, None, Some(1)).unwrap_err().contains("four-eye rule"));
    let mut rev2 = t.sql("rev2");
    assert!(act(&mut rev2, "AE-1", "confirm", None, None, Some(0)).unwrap_err().contains("after you read it"));
    assert_eq!(act(&mut rev2, "AE-1", "confirm", None, None, Some(1)), Ok(2));
    // A confirmed code is not proposed over.
    assert!(act(&mut coder, "AE-1", "propose", Some(llt), Some("search"), None).unwrap_err().contains("it is confirmed"));

    // Even the owner of the tables cannot rewrite the log: the triggers refuse.
    let mut admin = t.superuser_sql();
    let owner = format!("SET ROLE {}_owner; UPDATE medcoder.decision_log SET username = 'x' WHERE seq = 1", t.db);
    let err = admin.batch_execute(&owner).unwrap_err();
    assert!(err.as_db_error().unwrap().message().contains("append-only"), "{err}");
    admin.batch_execute("RESET ROLE").unwrap();
    assert!(t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW)).contains("intact"));
    // Whoever administers the server can still do anything; the audit finds what they changed:
    // table rows that differ from what the log says,
    admin
        .batch_execute(&format!(
            "UPDATE medcoder.item SET state = 'confirmed', reviewer = '{}' WHERE external_id = 'AE-3';
             UPDATE medcoder.app_user SET role = 'admin' WHERE name = '{}';",
            t.role("rev1"),
            t.role("coder")
        ))
        .unwrap();
    let (ok, out) = t.run(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("Decision log intact"), "{out}");
    assert!(out.contains("item AE-3 (id 3): the state is confirmed, the log says new"), "{out}");
    assert!(out.contains(&format!("user {}: the role is admin, the log says coder", t.role("coder"))), "{out}");
    // and log rows changed behind the triggers.
    admin
        .batch_execute(&format!(
            "ALTER TABLE medcoder.decision_log DISABLE TRIGGER decision_log_append_only;
             UPDATE medcoder.decision_log SET username = '{}' WHERE action = 'confirm';
             ALTER TABLE medcoder.decision_log ENABLE TRIGGER decision_log_append_only;",
            t.role("rev1")
        ))
        .unwrap();
    let (ok, out) = t.run(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("BROKEN") && out.contains("does not match its hash"), "{out}");
}

#[test]
fn concurrent_writers_lose_nothing() {
    let Some(t) = Team::new() else { return };
    let llt: i32 = demo_llt(true).parse().unwrap();
    // Eight desks propose the same three items over and over, each quoting the revision it read:
    // every success is one log row, every conflict a refusal, and the chain stays whole.
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let mut c = t.sql(if i % 2 == 0 { "coder" } else { "rev1" });
            std::thread::spawn(move || {
                let (mut done, mut stale) = (0usize, 0usize);
                for n in 0..25 {
                    let id = format!("AE-{}", 1 + (n + i) % 3);
                    let rev: i64 = c.query_one("SELECT revision FROM medcoder.item WHERE external_id = $1", &[&id]).unwrap().get(0);
                    match c.query_one("SELECT revision FROM medcoder.act($1, 'propose', $2, 'search', NULL, $3)", &[&id, &llt, &rev]) {
                        Ok(_) => done += 1,
                        Err(e) if e.as_db_error().is_some_and(|d| d.message().contains("after you read it")) => stale += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                (done, stale)
            })
        })
        .collect();
    let (mut done, mut stale) = (0, 0);
    for th in threads {
        let (d, s) = th.join().unwrap();
        done += d;
        stale += s;
    }
    let secs = started.elapsed().as_secs_f64();
    // The figure BENCHMARKS.md records (`--nocapture`); not asserted: timing belongs to benchmarks.
    println!("load: 8 writers, 200 attempts in {secs:.2} s ({:.0}/s): {done} proposals, {stale} refused as stale", 200.0 / secs);
    assert_eq!(done + stale, 200);
    let mut c = t.sql("rev2");
    let proposals: i64 = c.query_one("SELECT count(*) FROM medcoder.decision_log WHERE action = 'propose'", &[]).unwrap().get(0);
    let revisions: i64 = c.query_one("SELECT sum(revision)::bigint FROM medcoder.item", &[]).unwrap().get(0);
    assert_eq!(proposals as usize, done);
    assert_eq!(revisions as usize, done);
    assert!(t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW)).contains("intact"));
}

/// A SQLite store with the demo release and an admin, a coder and a reviewer.
fn single_user_store(file: &std::path::Path, admin: &str, coder: &str, reviewer: &str) -> medcoder::store::Store {
    use medcoder::store::users::Role;
    let mut s = medcoder::store::Store::open(file).unwrap();
    let (rel, _) = medcoder::meddra::Release::read(std::path::Path::new("assets/demo/MedAscii")).unwrap();
    s.import_release(None, &rel, "demo", false, true).unwrap();
    s.add_user(None, admin, Role::Admin).unwrap();
    s.add_user(Some(admin), coder, Role::Coder).unwrap();
    s.add_user(Some(admin), reviewer, Role::Reviewer).unwrap();
    s
}

#[test]
fn a_sqlite_store_moves_to_a_team_database_with_its_log() {
    use medcoder::intake::queue::{NewItem, Report};
    use medcoder::store::workflow::{Action, Source};
    let Some(t) = Team::bare() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("single.db");
    let (ann, cody, rita) = (t.role("ann"), t.role("cody"), t.role("rita"));
    let llt: u32 = demo_llt(true).parse().unwrap();
    {
        let mut s = single_user_store(&file, &ann, &cody, &rita);
        let items: Vec<NewItem> = (1..=3)
            .map(|i| NewItem {
                line: i + 1,
                report: Report {
                    external_id: format!("AE-{i}"),
                    study: "S".into(),
                    subject: "1".into(),
                    reported_term: format!("complaint {i}"),
                    ..Default::default()
                },
            })
            .collect();
        s.import_items(&cody, &items, "q.csv").unwrap();
        let d = s.active_dictionary().unwrap();
        s.act(&d, &cody, "AE-1", None, Action::Propose { llt, source: Source::Search }).unwrap();
        s.act(&d, &rita, "AE-1", None, Action::Confirm).unwrap();
        s.act(&d, &cody, "AE-2", None, Action::Propose { llt, source: Source::Search }).unwrap();
        // A received SDTM dataset comes along, kept as it was received.
        let ae = dir.path().join("ae.csv");
        std::fs::write(&ae, "STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AESEV\nS,AE,1,1,sore throat,MILD\n").unwrap();
        let received = medcoder::intake::sdtm::receive(&ae).unwrap().unwrap();
        medcoder::store::api::DeskStore::import_dataset(&mut s, &cody, &received, "ae.csv").unwrap();
    }
    let from = format!("sqlite:{}", file.display());
    let out = t.ok("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(out.contains("3 users, 4 items") && out.contains("chain verified"), "{out}");
    let datasets = t.ok(&t.local("rita"), &["queue", "datasets"], None);
    assert!(datasets.contains("dataset 1   AE  S ") && datasets.contains("ae.csv"), "{datasets}");
    assert!(t.ok(&t.local("rita"), &["queue", "show", "S-1-AE1"], None).contains("MILD"), "the record's context came along");
    // The copied items are under the database's rules: cody cannot confirm, rita can.
    let (ok, out) = t.run(&t.local("cody"), &["confirm", "AE-2", "--rev", "1"], None);
    assert!(!ok && out.contains("only reviewers"), "{out}");
    assert!(t.ok(&t.local("rita"), &["confirm", "AE-2", "--rev", "1"], None).contains("AE-2 is now confirmed (revision 2)"));
    let verify = t.ok(&t.local("rita"), &["audit", "verify"], None);
    assert!(verify.contains("Log copied from SQLite intact") && verify.contains("Decision log intact: 2 rows"), "{verify}");
    assert!(verify.contains("match the log"), "copied items, users and version rebuild from the two logs: {verify}");
    let log = t.ok(&t.local("rita"), &["audit", "log", "--item", "AE-2"], None);
    assert!(log.contains("confirm"), "{log}");
    // The release came along with its files: the dictionary, `queue show` and the desk work at once.
    let show = t.ok(&t.local("rita"), &["queue", "show", "AE-2"], None);
    assert!(show.contains("[confirmed]") && show.contains(&format!("LLT {llt} ")), "{show}");
    assert!(t.ok(&t.local("rita"), &["dict", "show", &llt.to_string()], None).contains("SOC"));
    // A second copy into the same database is refused.
    let (ok, out) = t.run("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(!ok && out.contains("is not new"), "{out}");
    // A copied row changed behind the log's back is found.
    let mut admin = t.superuser_sql();
    admin
        .batch_execute(
            "ALTER TABLE medcoder.imported_log DISABLE TRIGGER imported_log_append_only;
             UPDATE medcoder.imported_log SET username = 'mallory' WHERE action = 'confirm';
             ALTER TABLE medcoder.imported_log ENABLE TRIGGER imported_log_append_only;",
        )
        .unwrap();
    let (ok, out) = t.run(&t.local("rita"), &["audit", "verify"], None);
    assert!(!ok && out.contains("Log copied from SQLite BROKEN"), "{out}");
}

#[test]
fn the_server_administrator_cannot_hand_out_the_owner_role_by_mistake() {
    let Some(t) = Team::new() else { return };
    for (name, why) in [
        (format!("{}_owner", t.db), "team databases' own roles"),
        (format!("{}_members", t.db), "team databases' own roles"),
        ("postgres".to_string(), "powers over the server"),
    ] {
        let (ok, out) = t.run(&t.superuser(), &["team", "user", "add", &name, "--role", "coder", "--set-password"], Some(PW));
        assert!(!ok && out.contains(why), "{name}: {out}");
    }
    // The owner stays a role nobody signs in as.
    let can_login: bool = t.superuser_sql().query_one("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", &[&format!("{}_owner", t.db)]).unwrap().get(0);
    assert!(!can_login);
}

#[test]
fn text_that_could_mislead_a_colleague_is_refused() {
    let Some(t) = Team::new() else { return };
    let mut coder = t.sql("coder");
    for term in ["rash \u{1b}[2J", "right \u{202e}tfel", "a\u{2028}b", "x\u{85}y"] {
        let err = coder.query_one("SELECT medcoder.import_item('AE-9', 'S', 'P', $1, NULL, NULL, NULL, NULL)", &[&term]).expect_err(term);
        assert!(err.as_db_error().unwrap().message().contains("control or format character"), "{term:?}: {err}");
    }
    // A tab is as acceptable as on SQLite.
    let done: String = coder.query_one("SELECT medcoder.import_item('AE-9', 'S', 'P', 'pain\tleft', NULL, NULL, NULL, NULL)", &[]).unwrap().get(0);
    assert_eq!(done, "imported");
}

#[test]
fn an_open_transaction_cannot_hold_every_writer_forever() {
    let Some(t) = Team::new() else { return };
    // A coder keeps a transaction open after appending to the log (it holds the log's head).
    let mut holder = t.sql("coder");
    let mut tx = holder.transaction().unwrap();
    tx.query_one("SELECT medcoder.import_item('AE-LOCK', 'S', 'P', 'lock holder', NULL, NULL, NULL, NULL)", &[]).unwrap();
    // Another writer is told why within the functions' lock timeout instead of hanging.
    let started = std::time::Instant::now();
    let (ok, out) = t.run(&t.url("rev1"), &["code", "AE-1", &demo_llt(true)], Some(PW));
    assert!(!ok && out.contains("held by another session's open transaction"), "{out}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    tx.rollback().unwrap();
    t.ok(&t.url("rev1"), &["code", "AE-1", &demo_llt(true)], Some(PW));
}

#[test]
fn one_proposal_service_fills_proposals_for_every_desk() {
    let Some(t) = Team::new() else { return };
    t.ok(&t.superuser(), &["team", "user", "add", &t.role("gpu"), "--role", "service", "--set-password"], Some(PW));
    // The whole release travels with the team database: search and show work from any desk.
    let hits = t.ok(&t.url("coder"), &["dict", "search", "headache"], Some(PW));
    assert!(hits.contains("Headache"), "{hits}");
    let code = hits.lines().find(|l| l.contains("Headache")).and_then(|l| l.split_whitespace().next()).unwrap().to_string();
    assert!(t.ok(&t.url("coder"), &["dict", "show", &code], Some(PW)).contains("Headache"));
    assert!(t.ok(&t.url("coder"), &["dict", "versions"], Some(PW)).contains("* DEMO-1.0"));

    let out = t.ok(&t.url("gpu"), &["serve-proposals", "--once"], Some(PW));
    assert!(out.contains("proposed for 3 item(s)"), "{out}");
    let show = t.ok(&t.url("rev1"), &["queue", "show", "AE-1"], Some(PW));
    assert!(show.contains("proposals") && show.contains("  1. LLT "), "{show}");
    // Nothing is left to do in the next round; `propose --all` recomputes every open item.
    let out = t.ok(&t.url("gpu"), &["serve-proposals", "--once"], Some(PW));
    assert!(!out.contains("proposed for"), "{out}");
    assert!(t.ok(&t.url("gpu"), &["propose", "--all"], Some(PW)).contains("Stored proposals for 3 item(s)"));
    t.refused(&t.url("coder"), &["propose", "--all"], "only the proposal service");
    // A decision records the proposals it was taken with: the back-test and the export read them.
    let top = show.lines().find(|l| l.contains("  1. LLT ")).and_then(|l| l.split_whitespace().nth(2)).unwrap().to_string();
    t.ok(&t.url("coder"), &["code", "AE-1", &top, "--source", "model"], Some(PW));
    t.ok(&t.url("rev1"), &["confirm", "AE-1", "--rev", "1"], Some(PW));
    assert!(t.ok(&t.url("rev1"), &["backtest", "--model", "no-such-model"], Some(PW)).contains("nothing to back-test"));
    let bt = t.ok(&t.url("rev1"), &["backtest", "--json"], Some(PW));
    let report: serde_json::Value = serde_json::from_str(bt.trim()).unwrap_or_else(|e| panic!("{e}: {bt}"));
    assert_eq!((report["overall"]["n"].as_u64(), report["overall"]["llt_at_1"].as_f64()), (Some(1), Some(1.0)), "{bt}");
    let csv = t.ok(&t.url("rev1"), &["export", "--state", "confirmed"], Some(PW));
    let row = csv.lines().find(|l| l.starts_with("AE-1,")).unwrap_or_else(|| panic!("{csv}"));
    assert!(row.contains(&top) && row.contains(&t.role("coder")) && row.contains(&t.role("rev1")), "{row}");
    // Proposals every desk reads are checked for their shape, whoever stores them.
    let mut svc = t.sql("gpu");
    for (json, entropy) in [
        (r#"[{"llt_code":"abc","pt_code":1,"score":1,"confidence":0.9}]"#, Some(0.5)),
        (r#"[{"llt_code":99999999999,"pt_code":1,"score":1,"confidence":0.9}]"#, Some(0.5)),
        (r#"[1, 2, "x", null]"#, Some(0.5)),
        (r#"[{"llt_code":1,"pt_code":1,"score":1,"confidence":7}]"#, Some(0.5)),
        (r#"[{"llt_code":1,"pt_code":1,"score":1,"confidence":0.5,"evidence":"[2J"}]"#, Some(0.5)),
        (r#"[{"llt_code":1,"pt_code":1,"score":1,"confidence":0.5}]"#, Some(f64::NAN)),
    ] {
        let err = svc.execute("SELECT medcoder.set_proposals(2, 'm', 'DEMO-1.0', $1, $2, 'now')", &[&entropy, &json]).expect_err(json);
        assert!(err.as_db_error().is_some(), "{json}: {err}");
    }
    // The entropy a decision logs does not depend on the caller's session settings.
    let mut rev2 = t.sql("rev2");
    svc.execute(
        "SELECT medcoder.set_proposals(3, 'm', 'DEMO-1.0', 0.123456789, $1, 'now')",
        &[&format!(r#"[{{"llt_code":{top},"pt_code":1,"score":1,"confidence":0.5}}]"#)],
    )
    .unwrap();
    rev2.batch_execute(&format!("SET extra_float_digits = -15; SELECT medcoder.act('AE-3', 'propose', {top}, 'model', NULL, NULL)")).unwrap();
    let logged: String = rev2.query_one("SELECT entropy FROM medcoder.decision_log WHERE external_id = 'AE-3' AND action = 'propose'", &[]).unwrap().get(0);
    assert_eq!(logged, "0.123456789");
    // The service codes nothing, and nobody else writes proposals: a coder could otherwise dress
    // their own code up as the model's first choice.
    t.refused(&t.url("gpu"), &["code", "AE-1", &demo_llt(true)], "stores proposals and codes nothing");
    // It reads like anyone: the queue, the export and the audit (the database's rules decide).
    assert!(t.ok(&t.url("gpu"), &["export"], Some(PW)).contains("AE-1,"));
    assert!(t.ok(&t.url("gpu"), &["audit", "verify"], Some(PW)).contains("match the log"));
    let err = t.sql("coder").batch_execute("SELECT medcoder.set_proposals(1, 'm', 'DEMO-1.0', NULL, '[]', 'now')").expect_err("a coder stores no proposals");
    assert!(err.as_db_error().unwrap().message().contains("only the proposal service"), "{err}");
}

#[test]
fn desks_on_a_team_database_follow_each_other_and_sign_with_the_server() {
    let Some(t) = Team::new() else { return };
    // A reviewer's desk on another machine: the database asks for the password before it opens.
    let cmd = format!("MEDCODER_HOME={} NO_COLOR=1 {} --db {} --no-model", t.home.path().display(), env!("CARGO_BIN_EXE_medcoder"), t.url("rev1"));
    let Some(desk) = Tmux::command(&cmd) else { return };
    desk.wait_for("Database password for");
    desk.text(PW);
    desk.keys(&["Enter"]);
    desk.wait_for(&format!("{} (reviewer)", t.role("rev1")));
    desk.wait_for("new 3");
    // A coder's proposal from the command line appears on the reviewer's desk by itself.
    let llt = demo_llt(true);
    t.ok(&t.url("coder"), &["code", "AE-1", &llt, "--source", "search"], Some(PW));
    desk.wait_for("proposed 1");
    desk.keys(&["Enter"]);
    desk.wait_for("Reported term: my head really hurts");
    // Confirming is signed: the server checks the password on a connection of its own.
    desk.keys(&["a"]);
    desk.wait_for("electronic signature");
    desk.text("not the password");
    desk.keys(&["Enter"]);
    desk.wait_for("Not signed");
    desk.keys(&["a"]);
    desk.wait_for("electronic signature");
    desk.text(PW);
    desk.keys(&["Enter"]);
    desk.wait_for("AE-1 confirmed");
    desk.keys(&["Escape", "q"]);
    desk.wait_exit();
    let log = t.ok(&t.url("rev2"), &["audit", "log", "--item", "AE-1"], Some(PW));
    assert!(log.lines().any(|l| l.contains(&t.role("rev1")) && l.contains("confirm")), "{log}");
    // The desk anchored the log head on this machine, and the audit checks it.
    let anchors = t.home.path().join(format!("{}.team.anchors", t.db));
    assert!(std::fs::read_to_string(&anchors).is_ok_and(|a| !a.is_empty()), "no anchor in {}", anchors.display());
    let verify = t.ok(&t.url("rev2"), &["audit", "verify", "--anchors", anchors.to_str().unwrap()], Some(PW));
    assert!(verify.contains("Every head anchored"), "{verify}");
}

#[test]
fn the_proposal_service_survives_losing_its_connection() {
    use std::io::{BufRead, BufReader, Write};
    let Some(t) = Team::new() else { return };
    t.ok(&t.superuser(), &["team", "user", "add", &t.role("gpu"), "--role", "service", "--set-password"], Some(PW));
    let mut child = Command::new(env!("CARGO_BIN_EXE_medcoder"))
        .args(["--db", &t.url("gpu"), "--password-stdin", "serve-proposals", "--poll", "0.2"])
        .env("MEDCODER_HOME", t.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{PW}\n").as_bytes()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = String::new();
    let mut wait_for = |what: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while !seen.contains(what) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => seen.push_str(&(l + "\n")),
                Err(_) => panic!("no '{what}' from the service; it said:\n{seen}"),
            }
        }
    };
    wait_for("proposed for 3 item(s)");
    // The database drops the service's connection (as a restart does).
    t.superuser_sql().batch_execute(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'", t.role("gpu"))).unwrap();
    let queue = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queue.path(), "id,study,subject,reported_term\nAE-4,S1,P4,itchy skin\n").unwrap();
    t.ok(&t.url("coder"), &["queue", "import", queue.path().to_str().unwrap()], Some(PW));
    wait_for("store reopened");
    wait_for("proposed for 1 item(s)");
    child.kill().unwrap();
    let _ = child.wait();
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "AE-4"], Some(PW)).contains("  1. LLT "));
}

#[test]
fn a_copy_never_launders_what_was_changed_behind_the_sqlite_log() {
    use medcoder::store::users::Role;
    let Some(t) = Team::bare() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("single.db");
    let (ann, rita) = (t.role("ann"), t.role("rita"));
    {
        let mut s = medcoder::store::Store::open(&file).unwrap();
        s.add_user(None, &ann, Role::Admin).unwrap();
        s.add_user(Some(&ann), &rita, Role::Reviewer).unwrap();
    }
    let from = format!("sqlite:{}", file.display());
    // A role raised in the file by SQL: the SQLite audit sees it, so the copy refuses.
    let c = rusqlite_free_edit(&file, &format!("UPDATE user SET role = 'admin' WHERE name = '{rita}'"));
    assert!(c, "edited");
    let (ok, out) = t.run("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(!ok && out.contains("differ from its decision log"), "{out}");
    rusqlite_free_edit(&file, &format!("UPDATE user SET role = 'reviewer' WHERE name = '{rita}'"));
    // A user whose name is already a role on the server (somebody's login) is not taken over.
    t.superuser_sql().batch_execute(&format!("CREATE ROLE {rita} LOGIN")).unwrap();
    let (ok, out) = t.run("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(!ok && out.contains("is already a role on this server"), "{out}");
    t.superuser_sql().batch_execute(&format!("DROP ROLE {rita}")).unwrap();
    // Nothing was half-copied by the refusals: the copy now goes through.
    let out = t.ok("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(out.contains("2 users"), "{out}");
}

/// Changes the SQLite file directly, as someone with write access to it could.
fn rusqlite_free_edit(file: &std::path::Path, sql: &str) -> bool {
    let out = Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", file.to_str().unwrap(), sql])
        .status();
    out.is_ok_and(|s| s.success())
}

#[test]
fn a_team_database_learns_from_every_confirmed_decision() {
    let Some(t) = Team::new() else { return };
    let llt = demo_llt(true);
    let import = |rows: &str| t.import(rows);
    // A term that is an LLT's name is coded by the rule at import, and still goes to review.
    import("AE-10,S1,P1,Head-ache!\n");
    let show = t.ok(&t.url("rev1"), &["queue", "show", "AE-10"], Some(PW));
    assert!(show.contains("[proposed]") && show.contains("autocoder"), "{show}");
    // A confirmation makes the term a synonym: the next identical term is coded from it.
    t.ok(&t.url("coder"), &["code", "AE-2", &llt], Some(PW));
    t.ok(&t.url("rev1"), &["confirm", "AE-2", "--rev", "1"], Some(PW));
    // It is training data, and the engine's memory proposes its LLT for a similar term at once.
    let pairs = t.ok(&t.url("coder"), &["data", "export-training"], Some(PW));
    assert!(pairs.lines().any(|l| l.starts_with(&format!("sick to stomach,{llt},"))), "{pairs}");
    let predicted = t.ok(&t.url("coder"), &["predict", "sick to the stomach"], Some(PW));
    assert!(predicted.lines().nth(2).is_some_and(|l| l.contains(&llt)), "{predicted}");
    import("AE-11,S2,P9,Sick to  stomach.\n");
    let show = t.ok(&t.url("rev2"), &["queue", "show", "AE-11"], Some(PW));
    assert!(show.contains("[proposed]") && show.contains(&format!("LLT {llt}")) && show.contains("autocoder"), "{show}");
    let log = t.ok(&t.url("rev2"), &["audit", "log", "--item", "AE-11"], Some(PW));
    assert!(log.contains("autocode") && log.contains("synonym: confirmed 1 time"), "{log}");
    let list = t.ok(&t.url("coder"), &["synonym", "list"], Some(PW));
    assert!(list.contains("sick to stomach") && list.contains(&llt), "{list}");
    t.refused(&t.url("coder"), &["synonym", "retire", "sick to stomach"], "only admins");
    // Returning a synonym-coded item holds the synonym: the next identical term waits for a coder.
    t.ok(&t.url("rev2"), &["return", "AE-11", "--rev", "1", "--comment", "not for this study"], Some(PW));
    import("AE-12,S2,P8,sick to stomach\n");
    assert!(t.ok(&t.url("rev2"), &["queue", "show", "AE-12"], Some(PW)).contains("[new]"));
    // An admin retires it for good (logged); the list says so.
    t.ok(&t.url("admin"), &["synonym", "retire", "Sick to stomach"], Some(PW));
    assert!(t.ok(&t.url("coder"), &["synonym", "list"], Some(PW)).contains(&format!("held: retired by {}", t.role("admin"))));
    // An admin imports a synonym list: its codes go to review, and never to the importer.
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), format!("reported_term,llt_code\nred rash all over,{llt}\n")).unwrap();
    t.refused(&t.url("coder"), &["synonym", "import", list.path().to_str().unwrap()], "only admins");
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    import("AE-13,S3,P1,\"Red rash, all over\"\n");
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "AE-13"], Some(PW)).contains("[proposed]"));
    t.refused(&t.url("admin"), &["confirm", "AE-13", "--rev", "1"], "imported the synonym");
    t.ok(&t.url("rev1"), &["confirm", "AE-13", "--rev", "1"], Some(PW));
    // With auto-confirmation on, the exact-name rule confirms at once; an imported synonym still waits.
    t.refused(&t.url("coder"), &["settings", "autocode-confirm", "on"], "only admins");
    t.ok(&t.url("admin"), &["settings", "autocode-confirm", "on"], Some(PW));
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    import("AE-14,S3,P2,head ache\nAE-15,S3,P3,red rash all over\n");
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "AE-14"], Some(PW)).contains("[confirmed]"));
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "AE-15"], Some(PW)).contains("[proposed]"));
    // Every autocode is in the log: the tables still match it.
    let verify = t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(verify.contains("Decision log intact") && verify.contains("match the log"), "{verify}");
}

#[test]
fn a_meddra_upgrade_on_a_team_database_holds_and_recodes() {
    let Some(t) = Team::new() else { return };
    let current = demo_llts(true, 2);
    let (old, new) = (current[0].as_str(), current[1].as_str());
    t.ok(&t.url("coder"), &["code", "AE-2", old], Some(PW));
    t.ok(&t.url("rev1"), &["confirm", "AE-2", "--rev", "1"], Some(PW));
    // DEMO-2.0: the same release with the confirmed LLT made non-current.
    let dir = tempfile::tempdir().unwrap();
    let med = common::copy_demo(dir.path());
    std::fs::write(med.join("meddra_release.asc"), "DEMO-2.0$English$\n").unwrap();
    let edited: String = std::fs::read_to_string(med.join("llt.asc"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split('$').collect();
            if f[0] == old {
                f[9] = "N";
            }
            f.join("$") + "\n"
        })
        .collect();
    std::fs::write(med.join("llt.asc"), edited).unwrap();
    t.refused(&t.url("coder"), &["dict", "import", med.to_str().unwrap()], "only admins");
    t.ok(&t.url("admin"), &["dict", "import", med.to_str().unwrap()], Some(PW));
    // The confirmed code and the synonym it made are listed; the synonym no longer autocodes.
    let (ok, check) = t.run(&t.url("rev1"), &["recode-check"], Some(PW));
    assert!(!ok && check.contains("AE-2") && check.contains("non-current") && check.contains("sick to stomach"), "{check}");
    let queue = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(queue.path(), "id,study,subject,reported_term\nAE-30,S1,P1,sick to stomach\n").unwrap();
    t.ok(&t.url("coder"), &["queue", "import", queue.path().to_str().unwrap()], Some(PW));
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "AE-30"], Some(PW)).contains("[new]"));
    // Recoding goes to review like any proposal; a non-current code is refused.
    t.refused(&t.url("coder"), &["recode", "AE-2", old], "not a current LLT");
    t.ok(&t.url("coder"), &["recode", "AE-2", new, "--comment", "MedDRA 2.0"], Some(PW));
    t.ok(&t.url("rev2"), &["confirm", "AE-2", "--rev", "3"], Some(PW));
    let show = t.ok(&t.url("rev2"), &["queue", "show", "AE-2"], Some(PW));
    assert!(show.contains("[confirmed]") && show.contains(&format!("LLT {new}")) && show.contains("MedDRA DEMO-2.0"), "{show}");
    let verify = t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(verify.contains("Decision log intact") && verify.contains("match the log"), "{verify}");
}

#[test]
fn an_imported_synonym_stays_one_persons_choice_across_upgrades_returns_and_recodes() {
    let Some(t) = Team::new() else { return };
    let current = demo_llts(true, 2);
    let (x, y) = (current[0].as_str(), current[1].as_str());
    let import = |rows: &str| t.import(rows);
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), format!("reported_term,llt_code\nzzq odd feeling,{x}\n")).unwrap();
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    t.ok(&t.url("admin"), &["settings", "autocode-confirm", "on"], Some(PW));
    // A reviewer's return rewrites the synonym's row; its importer still may not confirm its codes.
    import("B-1,S,P,zzq odd feeling\nB-2,S,P,ZZQ odd feeling\n");
    t.ok(&t.url("rev1"), &["return", "B-1", "--rev", "1", "--comment", "wrong code"], Some(PW));
    t.refused(&t.url("admin"), &["confirm", "B-2", "--rev", "1"], "imported the synonym");
    // A new release carries it over: still never auto-confirmed, still not its importer's to confirm.
    let dir = tempfile::tempdir().unwrap();
    let med = common::copy_demo(dir.path());
    std::fs::write(med.join("meddra_release.asc"), "DEMO-2.0$English$\n").unwrap();
    t.ok(&t.url("admin"), &["synonym", "retire", "zzq odd feeling"], Some(PW));
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    t.ok(&t.url("admin"), &["dict", "import", med.to_str().unwrap()], Some(PW));
    import("B-3,S,P,zzq odd feeling\n");
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "B-3"], Some(PW)).contains("[proposed]"), "an imported synonym was auto-confirmed");
    t.refused(&t.url("admin"), &["confirm", "B-3", "--rev", "1"], "imported the synonym");
    // Recoding a code away holds the synonym carried into the active release that still gives it.
    t.ok(&t.url("admin"), &["settings", "autocode-confirm", "off"], Some(PW));
    t.ok(&t.url("admin"), &["dict", "use", "DEMO-1.0"], Some(PW));
    import("B-4,S,P,zzq fourth feeling\n");
    t.ok(&t.url("coder"), &["code", "B-4", x], Some(PW));
    t.ok(&t.url("rev1"), &["confirm", "B-4", "--rev", "1"], Some(PW));
    t.ok(&t.url("admin"), &["dict", "use", "DEMO-2.0"], Some(PW));
    t.ok(&t.url("coder"), &["recode", "B-4", y, "--comment", "wrong code"], Some(PW));
    import("B-5,S,P,zzq fourth feeling\n");
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "B-5"], Some(PW)).contains("[new]"), "the recoded-away code still autocodes");
    // Terms that differ only in superscript digits are different terms.
    import("B-6,S,P,Neutropenia grade ⁴\n");
    t.ok(&t.url("coder"), &["code", "B-6", x], Some(PW));
    t.ok(&t.url("rev1"), &["confirm", "B-6", "--rev", "1"], Some(PW));
    import("B-7,S,P,Neutropenia grade ¹\n");
    assert!(t.ok(&t.url("rev1"), &["queue", "show", "B-7"], Some(PW)).contains("[new]"), "grade ¹ was coded as grade ⁴");
    let verify = t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(verify.contains("match the log"), "{verify}");
    // The audit names a setting or a synonym written behind the rules.
    t.superuser_sql()
        .batch_execute(&format!(
            "UPDATE medcoder.setting SET value = 'on' WHERE key = 'autocode_confirm';
             INSERT INTO medcoder.synonym VALUES ('forged term', 'DEMO-2.0', {y}, 'confirmed', 3, NULL, NULL, NULL, NULL, NULL, 'x', 'x', NULL, 999, NULL);"
        ))
        .unwrap();
    let (ok, out) = t.run(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("autocode_confirm is on, the log says off") && out.contains("synonym 'forged term'"), "{out}");
}

/// Issue #19, case 4: confirmations of the term to another LLT change the synonym, never who chose
/// the codes the imported synonym had set: the importer still cannot confirm those.
#[test]
fn the_importer_never_confirms_an_imported_code_after_others_confirm_another_llt() {
    let Some(t) = Team::new() else { return };
    let llts = demo_llts(true, 2);
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), format!("reported_term,llt_code\nwobbly knees,{}\n", llts[0])).unwrap();
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    t.import("AE-20,S1,P1,wobbly knees\nAE-21,S1,P2,Wobbly knees\n");
    // AE-21 is coded to the other LLT and confirmed by somebody else: the synonym follows it.
    t.ok(&t.url("coder"), &["code", "AE-21", &llts[1], "--rev", "1"], Some(PW));
    t.ok(&t.url("rev1"), &["confirm", "AE-21", "--rev", "2"], Some(PW));
    assert!(t.ok(&t.url("coder"), &["synonym", "list"], Some(PW)).contains(&llts[1]));
    // AE-20 still carries the code the admin's import set.
    t.refused(&t.url("admin"), &["confirm", "AE-20", "--rev", "1"], "imported the synonym");
    t.ok(&t.url("rev2"), &["confirm", "AE-20", "--rev", "1"], Some(PW));
}

/// Issue #19, case 8 and the log's guards: a superuser who clears an importer, or disables a log
/// trigger, is found by `audit verify`.
#[test]
fn audit_verify_finds_a_cleared_importer_and_a_disabled_log_trigger() {
    let Some(t) = Team::new() else { return };
    let llt = demo_llt(true);
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), format!("reported_term,llt_code\nwobbly knees,{llt}\n")).unwrap();
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
    let mut su = t.superuser_sql();
    su.batch_execute("UPDATE medcoder.synonym SET imported_by = NULL").unwrap();
    let (ok, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("imported it and no confirmation backs it") && out.contains("nobody"), "{out}");
    su.batch_execute(&format!("UPDATE medcoder.synonym SET imported_by = '{}'", t.role("admin"))).unwrap();
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
    su.batch_execute("ALTER TABLE medcoder.decision_log DISABLE TRIGGER decision_log_append_only").unwrap();
    let (ok, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("trigger decision_log_append_only is disabled"), "{out}");
    su.batch_execute(
        "ALTER TABLE medcoder.decision_log ENABLE TRIGGER decision_log_append_only; DROP TRIGGER imported_log_no_truncate ON medcoder.imported_log",
    )
    .unwrap();
    let (ok, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("trigger imported_log_no_truncate is missing"), "{out}");
    // The dictionary as loaded: an LLT's currency changed by the superuser is found.
    su.batch_execute(&format!("UPDATE medcoder.llt SET current = NOT current WHERE code = {}", demo_llt(false))).unwrap();
    let (_, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(out.contains("the dictionary tables differ from the release as it was loaded"), "{out}");
}

/// Issue #19, case 11 on a team database: the CSV export neutralises formulas, JSONL stays exact.
#[test]
fn a_team_export_neutralises_spreadsheet_formulas() {
    let Some(t) = Team::new() else { return };
    t.import("=AE-40,+S1,-P1,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\n");
    let csv = t.ok(&t.url("coder"), &["export", "--state", "new"], Some(PW));
    assert!(csv.contains("'=AE-40") && csv.contains("'+S1") && csv.contains("'-P1") && csv.contains("\"'=HYPERLINK("), "{csv}");
    let jsonl = t.ok(&t.url("coder"), &["export", "--state", "new", "--format", "jsonl"], Some(PW));
    assert!(jsonl.contains("\"item_id\":\"=AE-40\""), "{jsonl}");
}

/// Issue #19, cases 9, 12 and 13: `db copy` refuses a store whose anchors fail, records the
/// anchors of an honest one (so `audit verify` tells it from a forged copy later), copies text an
/// older medcoder let in escaped, and reads one snapshot.
#[test]
fn a_copy_checks_and_keeps_the_stores_anchors_and_escapes_old_control_characters() {
    use medcoder::intake::queue::{NewItem, Report};
    use medcoder::store::workflow::{Action, Source};
    let Some(t) = Team::bare() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("single.db");
    let (ann, cody, rita) = (t.role("ann"), t.role("cody"), t.role("rita"));
    let llt: u32 = demo_llt(true).parse().unwrap();
    let anchors = {
        let mut s = single_user_store(&file, &ann, &cody, &rita);
        let item = |id: &str| NewItem {
            line: 2,
            report: Report { external_id: id.into(), study: "S".into(), subject: "1".into(), reported_term: "sore arm".into(), ..Default::default() },
        };
        s.import_items(&cody, &[item("AE-1"), item("AE-2")], "q.csv").unwrap();
        let d = s.active_dictionary().unwrap();
        s.act(&d, &cody, "AE-1", None, Action::Propose { llt, source: Source::Search }).unwrap();
        let f = s.anchor_file().unwrap();
        s.anchor(&f).unwrap();
        s.act(&d, &rita, "AE-1", None, Action::Confirm).unwrap();
        s.anchor(&f).unwrap();
        // Case 13: a snapshot does not see a colleague's commit made while it is open.
        let snapshot = s.snapshot().unwrap();
        let before = s.log_entries(None).unwrap().len();
        {
            let mut other = medcoder::store::Store::open(&file).unwrap();
            other.act(&d, &cody, "AE-2", None, Action::Propose { llt, source: Source::Search }).unwrap();
        }
        assert_eq!(s.log_entries(None).unwrap().len(), before, "the snapshot sees the store as it was");
        drop(snapshot);
        assert_eq!(s.log_entries(None).unwrap().len(), before + 1);
        f
    };
    // An older medcoder let an escape sequence into a comment.
    let c = rusqlite::Connection::open(&file).unwrap();
    c.execute("UPDATE item SET comment = 'see site \u{1b}[2J note' WHERE external_id = 'AE-2'", []).unwrap();
    drop(c);
    // A forged history (its anchor no longer matches) is never moved.
    let honest = std::fs::read_to_string(&anchors).unwrap();
    let first = honest.lines().next().unwrap();
    let hash = first.split_whitespace().nth(1).unwrap();
    std::fs::write(&anchors, honest.replacen(hash, &"0".repeat(hash.len()), 1)).unwrap();
    let from = format!("sqlite:{}", file.display());
    let (ok, out) = t.run("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(!ok && out.contains("does not match its log"), "{out}");
    std::fs::write(&anchors, &honest).unwrap();
    let out = t.ok("unused", &["db", "copy", "--from", &from, "--to", &t.superuser()], None);
    assert!(
        out.contains("2 anchor(s) of the SQLite store were checked and recorded") && out.contains("1 item field(s) held control or format characters"),
        "{out}"
    );
    let shown = t.ok(&t.local("rita"), &["queue", "show", "AE-2"], None);
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    let verify = t.ok(&t.local("rita"), &["audit", "verify", "--anchors", anchors.to_str().unwrap()], None);
    assert!(verify.contains("Every head anchored in") && !verify.contains("MISMATCH"), "{verify}");
    // The recorded anchors keep checking the copied log: a superuser's consistent rewrite of it
    // is found.
    let mut su = t.superuser_sql();
    su.batch_execute(
        "ALTER TABLE medcoder.imported_log DISABLE TRIGGER imported_log_append_only;
         UPDATE medcoder.imported_log SET hash = repeat('f', 64) WHERE seq = (SELECT min(seq) FROM medcoder.copied_anchor);
         ALTER TABLE medcoder.imported_log ENABLE TRIGGER imported_log_append_only;",
    )
    .unwrap();
    let (ok, out) = t.run(&t.local("rita"), &["audit", "verify"], None);
    assert!(!ok && out.contains("ANCHOR MISMATCH the copied store's anchors"), "{out}");
}

/// Issue #21 on the database's own rules: a coder (or reviewer) calling the lifecycle's functions
/// from psql meets the same refusals as through medcoder, and nothing they try leaves the tables
/// and the log apart.
#[test]
fn a_coder_with_psql_cannot_bend_the_lifecycle() {
    let Some(t) = Team::new() else { return };
    t.import("LC-1,S1,P1,odd feeling in legs\nLC-2,S1,P2,bad tummy\nLC-3,S1,P3,chills and rigors\n");
    let llt: i32 = demo_llt(true).parse().unwrap();
    let (mut coder, mut rev1) = (t.sql("coder"), t.sql("rev1"));
    let refused = |c: &mut Client, sql: &str, why: &str| {
        let err = c.batch_execute(sql).expect_err(sql);
        let text = err.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| err.to_string());
        assert!(text.contains(why), "{sql}: expected '{why}', got: {text}");
    };
    let coder_role = t.role("coder");
    // Worklists are an admin's, and their tables are read-only to everyone else.
    refused(&mut coder, &format!("SELECT medcoder.assign_work('study', 'S1', 'code', '{coder_role}')"), "only admins");
    refused(&mut coder, "SELECT medcoder.set_due_date('S1', '2026-12-24')", "only admins");
    refused(&mut coder, &format!("INSERT INTO medcoder.assignment VALUES ('study', 'S1', 'code', '{coder_role}', 'x', 'x')"), "permission denied");
    let mut admin = t.sql("admin");
    refused(&mut admin, &format!("SELECT medcoder.assign_work('study', 'S1', 'review', '{coder_role}')"), "only reviewers and admins are assigned review");
    refused(&mut admin, "SELECT medcoder.set_due_date('S1', '2026-02-30')", "not a date");
    refused(&mut admin, &format!("SELECT medcoder.assign_work('item', 'NOPE', 'code', '{coder_role}')"), "no queue item");
    // Queries: no answer or close without one.
    refused(&mut coder, "SELECT medcoder.answer_query('LC-2', 'an answer', NULL, NULL)", "cannot answer the query of item LC-2: it is new");
    refused(&mut coder, "SELECT medcoder.act('LC-2', 'close-query', NULL, NULL, NULL, NULL)", "cannot close the query of item LC-2: it is new");
    coder.batch_execute("SELECT medcoder.act('LC-2', 'query', NULL, NULL, 'which part?', NULL)").unwrap();
    refused(&mut coder, "SELECT medcoder.answer_query('LC-2', 'x', E'belly\\u001b[2J', NULL)", "control or format character");
    // Splits: the parts are checked; a part's id is never imported (nobody squats one).
    refused(&mut coder, "SELECT medcoder.split_item('LC-1', ARRAY['one'], NULL)", "two or more parts");
    refused(&mut coder, "SELECT medcoder.split_item('LC-1', ARRAY['legs', E'feet\\u200b'], NULL)", "control or format character");
    refused(&mut coder, "SELECT medcoder.split_item('LC-1', ARRAY['odd feeling in legs!', 'feet'], NULL)", "the whole verbatim");
    refused(&mut coder, "SELECT medcoder.import_item('LC-3#1', 'S1', 'P3', 'a squatted part', NULL, NULL, NULL, NULL)", "marks the parts of a split");
    coder.batch_execute("SELECT medcoder.split_item('LC-1', ARRAY['odd feeling', 'legs'], NULL)").unwrap();
    refused(&mut coder, &format!("SELECT medcoder.act('LC-1', 'propose', {llt}, 'search', NULL, NULL)"), "cannot propose item LC-1: it is split");
    refused(&mut coder, "SELECT medcoder.act('LC-1', 'return', NULL, NULL, 'no', 1)", "only reviewers and admins");
    // Withdraw: only one's own proposal.
    coder.batch_execute(&format!("SELECT medcoder.act('LC-1#1', 'propose', {llt}, 'search', NULL, NULL)")).unwrap();
    refused(&mut rev1, "SELECT medcoder.act('LC-1#1', 'withdraw', NULL, NULL, NULL, NULL)", "only the proposer withdraws");
    // The splitter cannot return their own split, a reviewer can; a void part is coded no more.
    rev1.batch_execute("SELECT medcoder.split_item('LC-2', ARRAY['belly ache', 'cramps'], NULL)").unwrap();
    let rev: i64 = rev1.query_one("SELECT revision FROM medcoder.item WHERE external_id = 'LC-2'", &[]).unwrap().get(0);
    refused(&mut rev1, &format!("SELECT medcoder.act('LC-2', 'return', NULL, NULL, 'mine', {rev})"), "four-eye rule");
    let rev: i64 = rev1.query_one("SELECT revision FROM medcoder.item WHERE external_id = 'LC-1'", &[]).unwrap().get(0);
    rev1.batch_execute(&format!("SELECT medcoder.act('LC-1', 'return', NULL, NULL, 'one event', {rev})")).unwrap();
    refused(&mut coder, &format!("SELECT medcoder.act('LC-1#2', 'propose', {llt}, 'search', NULL, NULL)"), "cannot propose item LC-1#2: it is void");
    refused(&mut coder, "SELECT medcoder.import_item('LC-1#2', 'S1', 'P1', 'legs again', NULL, NULL, NULL, NULL)", "marks the parts of a split");
    let out = t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(out.contains("match the log"), "{out}");
}

/// A team database made before issue #19 (schema 1) is refused until its administrator upgrades
/// it; the upgrade puts the new rules (issues #19, #21 and #22) in place and keeps the data.
#[test]
fn a_schema_1_team_database_is_upgraded_in_place() {
    let Some(t) = Team::new() else { return };
    let mut su = t.superuser_sql();
    // Schema 1 as it was: no copied anchors, a check_text that let U+061C through.
    su.batch_execute(&format!(
        "SET ROLE {db}_owner;
         DROP TABLE medcoder.copied_anchor;
         CREATE OR REPLACE FUNCTION medcoder.check_text(what text, v text, required boolean) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
         BEGIN RETURN v; END $$;
         ALTER TABLE medcoder.item DROP COLUMN part_of, DROP COLUMN part_no, DROP CONSTRAINT item_state_check;
         ALTER TABLE medcoder.item ADD CONSTRAINT item_state_check CHECK (state IN ('new', 'proposed', 'returned', 'query', 'confirmed'));
         DROP TABLE medcoder.assignment, medcoder.study_due;
         DROP FUNCTION medcoder.answer_query(text, text, text, bigint), medcoder.split_item(text, text[], bigint);
         {SCHEMA_4_UNDONE}
         {SCHEMA_5_UNDONE}
         {SCHEMA_7_UNDONE}
         {SCHEMA_6_UNDONE}
         UPDATE medcoder.setting SET value = '1' WHERE key = 'schema_version';
         RESET ROLE;",
        db = t.db
    ))
    .unwrap();
    t.refused(&t.url("coder"), &["queue", "list"], "team upgrade");
    let out = t.ok(&t.superuser(), &["team", "upgrade"], None);
    assert!(out.contains("upgraded to schema 7"), "{out}");
    assert!(t.ok(&t.superuser(), &["team", "upgrade"], None).contains("already has schema 7"));
    model_first_can_be_set(&t);
    // Schema 4 keeps the SDTM datasets received.
    keeps_a_dataset(&t);
    assert!(t.ok(&t.url("coder"), &["queue", "list"], Some(PW)).contains("AE-1"));
    let err = t.sql("coder").query_one("SELECT medcoder.import_item('AE-9', 'S', 'P', $1, NULL, NULL, NULL, NULL)", &[&"head\u{61c}ache"]).unwrap_err();
    assert!(err.as_db_error().unwrap().message().contains("control or format character"), "{err}");
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
}

/// From the second attack on team mode: a superuser's edit of an item's source or of a retired
/// synonym's hold is found by `audit verify`, the importer stays refused whatever the source says,
/// and look-alike names are refused.
#[test]
fn forged_sources_undone_retirements_and_look_alike_names() {
    let Some(t) = Team::new() else { return };
    let llts = demo_llts(true, 2);
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), format!("reported_term,llt_code\nwobbly knees,{}\nfloppy arm,{}\n", llts[0], llts[1])).unwrap();
    t.ok(&t.url("admin"), &["synonym", "import", list.path().to_str().unwrap()], Some(PW));
    t.import("AE-30,S1,P1,wobbly knees\n");
    let mut su = t.superuser_sql();
    su.batch_execute("UPDATE medcoder.item SET source = 'manual' WHERE external_id = 'AE-30'").unwrap();
    let (ok, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("item AE-30") && out.contains("the source is manual, the log says synonym"), "{out}");
    t.refused(&t.url("admin"), &["confirm", "AE-30", "--rev", "1"], "imported the synonym");
    su.batch_execute("UPDATE medcoder.item SET source = 'synonym' WHERE external_id = 'AE-30'").unwrap();
    t.ok(&t.url("admin"), &["synonym", "retire", "floppy arm"], Some(PW));
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
    su.batch_execute("UPDATE medcoder.synonym SET hold = NULL WHERE term = 'floppy arm'").unwrap();
    let (ok, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("synonym 'floppy arm'") && out.contains("retired"), "{out}");
    let look_alike = format!("{}_adrnin", t.db);
    let (ok, out) = t.run(&t.superuser(), &["team", "user", "add", &look_alike, "--role", "admin", "--set-password"], Some(PW));
    assert!(!ok && out.contains("looks like the existing user"), "{out}");
}

/// A kept SDTM dataset (issue #22) is written only by `keep_dataset`, for queued items of one
/// study, never changed; a forged one is found by the audit.
#[test]
fn a_coder_with_psql_cannot_forge_or_edit_a_kept_dataset() {
    let Some(t) = Team::new() else { return };
    t.import("DS-1,S1,P1,headache\nDS-2,S2,P2,nausea\n");
    let mut coder = t.sql("coder");
    let refused = |c: &mut Client, sql: &str, why: &str| {
        let err = c.batch_execute(sql).expect_err(sql);
        let text = err.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| err.to_string());
        assert!(text.contains(why), "{sql}: expected '{why}', got: {text}");
    };
    let meta = r#"{"name":"AE","columns":[{"itemOID":"IT.AE.AETERM","name":"AETERM","label":"t","dataType":"string"}]}"#;
    let keep = |ids: &str, rows: &str| format!("SELECT medcoder.keep_dataset('AE', 'ae.json', 'json', '{meta}', ARRAY[{rows}], ARRAY[{ids}])");
    refused(&mut coder, &keep("'NOPE'", r#"'["headache"]'"#), "not a queued item");
    refused(&mut coder, &keep("'DS-1', 'DS-2'", r#"'["headache"]', '["nausea"]'"#), "one study at a time");
    refused(&mut coder, &keep("'DS-1'", r#"'["headache", "extra"]'"#), "one value per column");
    refused(&mut coder, &keep("'DS-1', 'DS-1'", r#"'["headache"]'"#), "one item id per record");
    refused(&mut coder, &keep("'DS-1'", "'not json'"), "invalid input syntax for type json");
    coder.batch_execute(&keep("'DS-1'", r#"'["headache"]'"#)).unwrap();
    refused(&mut coder, "UPDATE medcoder.dataset_record SET dataset_values = '[\"migraine\"]'", "permission denied");
    refused(&mut coder, "DELETE FROM medcoder.dataset", "permission denied");
    refused(&mut coder, &format!("INSERT INTO medcoder.dataset VALUES (9, 'S1', 'AE', 'f', 'json', '{meta}', 0, 'x', 'x', 'x')"), "permission denied");
    t.ok(&t.superuser(), &["team", "user", "add", &t.role("service"), "--role", "service", "--set-password"], Some(PW));
    let mut service = t.sql("service");
    refused(&mut service, &keep("'DS-1'", r#"'["headache"]'"#), "service");
    let out = t.ok(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(out.contains("match the log"), "{out}");
    // Whoever owns the tables and edits a kept record is found out.
    t.superuser_sql().batch_execute("UPDATE medcoder.dataset_record SET dataset_values = '[\"migraine\"]'").unwrap();
    let (ok, out) = t.run(&t.url("rev2"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("its kept records differ from what was received"), "{out}");
}

/// What schema 4 added (issue #22), taken away to make an older database.
const SCHEMA_4_UNDONE: &str = "DROP FUNCTION medcoder.keep_dataset(text, text, text, text, text[], text[]);
    DROP TABLE medcoder.dataset_record, medcoder.dataset;";

/// What schema 5 added (issue #23), taken away to make an older database.
const SCHEMA_5_UNDONE: &str = "DROP FUNCTION medcoder.set_team_setting(text, text), medcoder.model_first_code(bigint, text, text, json, float8, text),
    medcoder.model_first_threshold(text), medcoder.wilson_lower(bigint, bigint), medcoder.is_excluded(text, integer);";

/// What schema 6 added (issue #24), taken away to make an older database.
const SCHEMA_6_UNDONE: &str = "DROP TRIGGER item_syn_key ON medcoder.item;
    DROP FUNCTION medcoder.item_syn_key(), medcoder.set_synonym_qualifiers(text),
        medcoder.synonym_key(text), medcoder.synonym_key_with(text, text[]);
    ALTER TABLE medcoder.item DROP COLUMN syn_key;
    ALTER TABLE medcoder.synonym DROP COLUMN approval, DROP COLUMN decided_by;
    DELETE FROM medcoder.setting WHERE key = 'synonym_qualifiers';";

/// What schema 7 added (issue #24's lists per study), taken away to make an older database.
const SCHEMA_7_UNDONE: &str = "DROP FUNCTION medcoder.governing_synonym(text, text, text), medcoder.synonym_scope_of(text),
        medcoder.retire_synonym(text, text), medcoder.import_synonym(text, integer, text, text), medcoder.decide_synonym(text, text, text),
        medcoder.revise_synonym(text, text, text, text, boolean, text);
    DELETE FROM medcoder.synonym WHERE study <> '';
    DROP INDEX medcoder.synonym_term;
    ALTER TABLE medcoder.synonym DROP CONSTRAINT synonym_pkey;
    ALTER TABLE medcoder.synonym DROP COLUMN study;
    ALTER TABLE medcoder.synonym ADD PRIMARY KEY (term, meddra_version);
    DELETE FROM medcoder.setting WHERE key = 'synonym_scope';";

/// A schema 5 database (issue #23's) gains synonym governance: its items get their synonym keys,
/// a synonym of a qualified term moves to its key, and approvals and qualifiers work.
#[test]
fn a_schema_5_team_database_is_upgraded_to_synonym_governance() {
    let Some(t) = Team::new() else { return };
    t.import("SG-1,S1,P1,nausea severe\n");
    t.superuser_sql()
        .batch_execute(&format!(
            "SET ROLE {db}_owner;
             {SCHEMA_7_UNDONE}
             {SCHEMA_6_UNDONE}
             INSERT INTO medcoder.synonym VALUES ('vomiting x3', (SELECT value FROM medcoder.setting WHERE key = 'meddra_version'),
                 (SELECT code FROM medcoder.llt WHERE name = 'Vomiting' LIMIT 1), 'confirmed', 1, NULL, NULL, 'vomiting x3', 'coder', 'rev1',
                 '2026-01-01T00:00:00.000Z', 'rev1', NULL, nextval('medcoder.synonym_seq'), NULL);
             UPDATE medcoder.setting SET value = '5' WHERE key = 'schema_version';
             RESET ROLE;",
            db = t.db
        ))
        .unwrap();
    t.refused(&t.url("coder"), &["queue", "list"], "team upgrade");
    assert!(t.ok(&t.superuser(), &["team", "upgrade"], None).contains("upgraded to schema 7"));
    let key: String = t.superuser_sql().query_one("SELECT syn_key FROM medcoder.item WHERE external_id = 'SG-1'", &[]).unwrap().get(0);
    assert_eq!(key, "nausea");
    assert!(t.ok(&t.url("coder"), &["synonym", "list"], Some(PW)).contains("vomiting "), "the synonym moved to its key");
    assert!(t.ok(&t.url("coder"), &["synonym", "key", "Vomiting X3"], Some(PW)).contains("synonym (global) -> "));
    assert!(t.ok(&t.url("admin"), &["settings", "synonym-approval", "review"], Some(PW)).contains("set to review"));
    assert!(t.ok(&t.url("admin"), &["synonym", "qualifiers", "add", "left"], Some(PW)).contains("phrase(s)"));
    t.refused(&t.url("coder"), &["synonym", "qualifiers", "remove", "left"], "only admins");
}

/// A schema 6 database gains synonym lists per study: its synonyms stay on the global list and
/// keep autocoding, and a study's own list then wins over them for that study's items only.
#[test]
fn a_schema_6_team_database_is_upgraded_to_synonym_lists_per_study() {
    let Some(t) = Team::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.csv");
    std::fs::write(&old, "reported_term,llt_code\ntummy churn,78406784\n").unwrap();
    t.ok(&t.url("admin"), &["synonym", "import", old.to_str().unwrap()], Some(PW));
    t.superuser_sql()
        .batch_execute(&format!(
            "SET ROLE {db}_owner;
             {SCHEMA_7_UNDONE}
             UPDATE medcoder.setting SET value = '6' WHERE key = 'schema_version';
             RESET ROLE;",
            db = t.db
        ))
        .unwrap();
    t.refused(&t.url("coder"), &["queue", "list"], "team upgrade");
    assert!(t.ok(&t.superuser(), &["team", "upgrade"], None).contains("upgraded to schema 7"));
    let old: Vec<String> = t
        .superuser_sql()
        .query("SELECT proname || '/' || pronargs FROM pg_proc WHERE pronamespace = 'medcoder'::regnamespace AND proname IN ('revise_synonym', 'retire_synonym', 'import_synonym', 'decide_synonym') ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(old, ["decide_synonym/3", "import_synonym/4", "retire_synonym/2", "revise_synonym/6"], "the old argument lists are gone");
    assert!(t.ok(&t.url("coder"), &["synonym", "key", "Tummy churn x3"], Some(PW)).contains("synonym (global) -> "));
    let list = dir.path().join("s2.csv");
    std::fs::write(&list, "reported_term,llt_code\ntummy churn,79106416\n").unwrap();
    let out = t.ok(&t.url("admin"), &["synonym", "import", list.to_str().unwrap(), "--study", "S2"], Some(PW));
    assert!(out.contains("onto the study S2 list"), "{out}");
    t.import("UP-1,S1,P1,tummy churn\nUP-2,S2,P1,Tummy churn!\n");
    let codes: Vec<(String, Option<i32>)> = t
        .superuser_sql()
        .query("SELECT external_id, llt_code FROM medcoder.item WHERE external_id LIKE 'UP-%' ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(codes, [("UP-1".to_string(), Some(78406784)), ("UP-2".to_string(), Some(79106416))], "each study's items by its list");
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
}

/// An admin turns model-first coding on and sets its target: schema 5 takes both, logged.
fn model_first_can_be_set(t: &Team) {
    assert!(t.ok(&t.url("admin"), &["settings", "model-first", "on"], Some(PW)).contains("model-first set to on"));
    assert!(t.ok(&t.url("admin"), &["settings", "model-first-target", "97.5"], Some(PW)).contains("no validated threshold"));
    assert!(t.ok(&t.url("rev1"), &["settings", "show"], Some(PW)).contains("model-first target 97.5%"));
}

/// A schema 4 database (issue #22's) gains model-first coding and keeps everything else.
#[test]
fn a_schema_4_team_database_is_upgraded_to_model_first_coding() {
    let Some(t) = Team::new() else { return };
    t.import("MF-1,S1,P1,headache\n");
    t.superuser_sql()
        .batch_execute(&format!(
            "SET ROLE {db}_owner;
             {SCHEMA_5_UNDONE}
             {SCHEMA_7_UNDONE}
             {SCHEMA_6_UNDONE}
             UPDATE medcoder.setting SET value = '4' WHERE key = 'schema_version';
             RESET ROLE;",
            db = t.db
        ))
        .unwrap();
    t.refused(&t.url("coder"), &["queue", "list"], "team upgrade");
    assert!(t.ok(&t.superuser(), &["team", "upgrade"], None).contains("upgraded to schema 7"));
    model_first_can_be_set(&t);
    assert!(t.ok(&t.url("coder"), &["queue", "list"], Some(PW)).contains("MF-1"));
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
}

/// Model-first coding's rules (issue #23) against a coder with psql: the settings are an admin's,
/// the coding function is the database's own, no one edits the setting table, and an item made
/// to look model-first by whoever owns the tables is found by the audit.
#[test]
fn a_coder_with_psql_cannot_turn_on_or_drive_model_first_coding() {
    let Some(t) = Team::new() else { return };
    t.import("MF-2,S1,P1,odd thing\n");
    let mut coder = t.sql("coder");
    let refused = |c: &mut Client, sql: &str, why: &str| {
        let err = c.batch_execute(sql).expect_err(sql);
        let text = err.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| err.to_string());
        assert!(text.contains(why), "{sql}: expected '{why}', got: {text}");
    };
    refused(&mut coder, "SELECT medcoder.set_team_setting('model_first', 'on')", "admin");
    refused(&mut coder, "SELECT medcoder.set_team_setting('model_first_target', '50')", "admin");
    refused(&mut coder, "UPDATE medcoder.setting SET value = 'on' WHERE key = 'model_first'", "permission denied");
    refused(&mut coder, "INSERT INTO medcoder.setting VALUES ('model_first', 'on')", "permission denied");
    let id: i64 = coder.query_one("SELECT id FROM medcoder.item WHERE external_id = 'MF-2'", &[]).unwrap().get(0);
    let call = format!(
        "SELECT medcoder.model_first_code({id}, 'm', 'DEMO-1.0', '[{{\"llt_code\": 1, \"pt_code\": 1, \"score\": 1, \"confidence\": 1}}]'::json, 0, 'x')"
    );
    refused(&mut coder, &call, "permission denied");
    refused(&mut coder, &format!("SELECT medcoder.set_proposals({id}, 'm', 'DEMO-1.0', 0, '[]', 'now')"), "only the proposal service");
    // An admin's values are checked too.
    t.refused(&t.url("admin"), &["settings", "model-first-target", "100"], "from 50 to 99.9");
    let mut admin = t.sql("admin");
    refused(&mut admin, "SELECT medcoder.set_team_setting('model_first_exclude', '[\"term:\\u001b[2J\"]')", "control or format character");
    refused(&mut admin, "SELECT medcoder.set_team_setting('autocode_confirm', 'on')", "no team setting");
    // Whoever owns the tables makes an item look proposed by the model: the audit finds it.
    t.superuser_sql()
        .batch_execute("UPDATE medcoder.item SET state = 'proposed', source = 'model-first', proposer = 'model m' WHERE external_id = 'MF-2'")
        .unwrap();
    let (ok, out) = t.run(&t.url("rev1"), &["audit", "verify"], Some(PW));
    assert!(!ok && out.contains("item MF-2"), "{out}");
}

/// A coder receives an SDTM dataset: schema 4 keeps it.
fn keeps_a_dataset(t: &Team) {
    let ae = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    std::fs::write(ae.path(), "STUDYID,DOMAIN,USUBJID,AESEQ,AETERM\nS1,AE,S1-9,1,sore throat\n").unwrap();
    assert!(t.ok(&t.url("coder"), &["queue", "import", ae.path().to_str().unwrap()], Some(PW)).contains("kept as dataset 1"));
}

/// A schema 3 database (issue #21's) gains the dataset tables and keeps everything else.
#[test]
fn a_schema_3_team_database_is_upgraded_to_keep_datasets() {
    let Some(t) = Team::new() else { return };
    t.superuser_sql()
        .batch_execute(&format!(
            "SET ROLE {db}_owner;
             {SCHEMA_4_UNDONE}
             {SCHEMA_5_UNDONE}
             {SCHEMA_7_UNDONE}
             {SCHEMA_6_UNDONE}
             UPDATE medcoder.setting SET value = '3' WHERE key = 'schema_version';
             RESET ROLE;",
            db = t.db
        ))
        .unwrap();
    t.refused(&t.url("coder"), &["queue", "list"], "team upgrade");
    assert!(t.ok(&t.superuser(), &["team", "upgrade"], None).contains("upgraded to schema 7"));
    keeps_a_dataset(&t);
    assert!(t.ok(&t.url("rev1"), &["audit", "verify"], Some(PW)).contains("match the log"));
}
