//! The coding workflow driven through the binary: queue import, four-eye review, the decision log
//! and its audit, concurrent writers, export, training data, back-test and recode after an upgrade.

mod common;
use common::*;
use std::fs;
use std::process::{Command, Stdio};

/// Demo dictionary, users admin/alice (coder)/bob/carol (reviewers), and a small queue.
fn setup() -> Env {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.add_users(&[("alice", "coder"), ("bob", "reviewer"), ("carol", "reviewer"), ("dave", "coder")]);
    let q = env.dir.path().join("q.csv");
    fs::write(
        &q,
        "id,study,subject,reported_term,onset_date,investigator\n\
         X1,ST1,001,pain of right thigh to the knee,2026-01-02,Dr A\n\
         X2,ST1,002,hedache,2026-01-03,Dr A\n\
         X3,ST2,003,Nausea,2026-01-04,Dr B\n\
         X4,ST2,004,itchy skin all over,,\n",
    )
    .unwrap();
    let out = env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(out.contains("Imported 4 item(s)") && out.contains("1 coded by the exact-name rule"), "{out}");
    env
}

#[test]
fn queue_import_reports_bad_rows_and_duplicates() {
    let env = setup();
    let q = env.dir.path().join("q2.csv");
    let mut bytes = b"id,study,subject,reported_term\nX1,ST1,001,pain of right thigh to the knee\nY1,ST1,009,\nY2,ST1\nY3,ST1,010,vomitting x2\n".to_vec();
    bytes.extend_from_slice(b"Y4,ST1,011,fi\xe8vre\n");
    fs::write(&q, bytes).unwrap();
    // Some rows rejected: the good ones are imported, and the exit status says not all were.
    let (ok, out, _) = env.run(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(!ok, "a partial import exits non-zero: {out}");
    assert!(out.contains("Imported 1 item(s)"), "{out}");
    assert!(out.contains("skipped line 2: id X1 is already queued"), "{out}");
    assert!(out.contains("rejected line 3: empty reported term"), "{out}");
    assert!(out.contains("rejected line 4"), "{out}");
    assert!(out.contains("rejected line 6: column reported_term is not valid UTF-8"), "{out}");
    let j = env.dir.path().join("q3.jsonl");
    fs::write(&j, "{\"id\":\"J1\",\"study\":\"ST3\",\"subject\":\"1\",\"reported_term\":\"dizzy\"}\n{broken\n").unwrap();
    let (ok, out, _) = env.run(&["--user", "alice", "queue", "import", s(&j)]);
    assert!(!ok && out.contains("Imported 1 item(s)") && out.contains("rejected line 2: not a JSON object"), "{out}");
    let out = env.ok(&["queue", "list", "--state", "new", "--study", "ST1"]);
    assert!(out.contains("X1") && out.contains("Y3") && !out.contains("X3"), "{out}");
}

/// A byte-order mark is stripped in both formats; a line break inside a field is refused with
/// its line; a clean file exits 0 (issue #11).
#[test]
fn queue_import_strips_a_bom_and_refuses_line_breaks_in_fields() {
    let env = setup();
    let q = env.dir.path().join("bom.csv");
    fs::write(&q, "\u{feff}id,study,subject,reported_term\nB1,ST9,001,dizzy\n").unwrap();
    let out = env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(out.contains("Imported 1 item(s)"), "{out}");
    let j = env.dir.path().join("bom.jsonl");
    fs::write(&j, "\u{feff}{\"id\":\"B2\",\"study\":\"ST9\",\"subject\":\"2\",\"reported_term\":\"rash\"}\n").unwrap();
    let out = env.ok(&["--user", "alice", "queue", "import", s(&j)]);
    assert!(out.contains("Imported 1 item(s)"), "{out}");
    let q = env.dir.path().join("breaks.csv");
    fs::write(&q, "id,study,subject,reported_term\nB3,ST9,003,\"head\nache\"\nB4,ST9,004,bare\rreturn\nB5,ST9,005,fine\n").unwrap();
    let (ok, out, _) = env.run(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(!ok, "{out}");
    assert!(out.contains("Imported 1 item(s)") && out.contains("the reported term contains a line break"), "{out}");
    let j = env.dir.path().join("breaks.jsonl");
    fs::write(&j, "{\"id\":\"B6\",\"study\":\"ST9\",\"subject\":\"6\",\"reported_term\":\"a\\nb\"}\n").unwrap();
    let (ok, out, _) = env.run(&["--user", "alice", "queue", "import", s(&j)]);
    assert!(!ok && out.contains("rejected line 1: the reported term contains a line break"), "{out}");
    // NUL bytes, a term cut by an unquoted comma, user names with escapes: refused.
    let q = env.dir.path().join("nul.csv");
    fs::write(&q, "id,study,subject,reported_term\nB7\u{0},ST9,007,x\nB8,ST9,008,sore, swollen knee\n").unwrap();
    let (ok, out, _) = env.run(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(!ok && out.contains("rejected line 2: the id contains the control character U+0000"), "{out}");
    assert!(out.contains("rejected line 3: 5 fields, the header has 4"), "{out}");
    let err = env.fails(&["--user", "admin", "user", "add", "ev\u{1b}[31mil", "--role", "coder"]);
    assert!(err.contains("the user name contains the control character U+001B"), "{err:?}");
    let list = env.ok(&["queue", "list", "--study", "ST9"]);
    assert!(list.contains("B1") && list.contains("B2") && list.contains("B5") && !list.contains("B3") && !list.contains("B6"), "{list}");
}

#[test]
fn four_eye_review_end_to_end() {
    let env = setup();
    let leg = llt_code("Unilateral leg pain");
    let out = env.ok(&["--user", "alice", "code", "X1", &leg, "--source", "search", "--rev", "0"]);
    assert!(out.contains("X1 is now proposed (revision 1)"), "{out}");
    let err = env.fails(&["--user", "alice", "confirm", "X1"]);
    assert!(err.contains("only reviewers and admins"), "{err}");
    // A reviewer who proposed cannot confirm their own code.
    env.ok(&["--user", "bob", "code", "X2", &llt_code("Headache"), "--source", "search"]);
    let err = env.fails(&["--user", "bob", "confirm", "X2"]);
    assert!(err.contains("four-eye rule"), "{err}");
    env.ok(&["--user", "carol", "confirm", "X2"]);
    env.ok(&["--user", "bob", "confirm", "X1", "--rev", "1"]);
    // Non-current LLTs can never be proposed.
    let err = env.fails(&["--user", "alice", "code", "X4", &llt_code("Cephalgia")]);
    assert!(err.contains("non-current"), "{err}");
    // Autocoded X3 still needs review; return it, re-propose after a query.
    let out = env.ok(&["queue", "show", "X3"]);
    assert!(out.contains("[proposed]") && out.contains("rule by autocoder"), "{out}");
    env.ok(&["--user", "bob", "return", "X3", "--comment", "check the source document"]);
    env.ok(&["--user", "alice", "query", "X3", "--note", "asked site for details"]);
    env.ok(&["--user", "alice", "code", "X3", &llt_code("Nausea")]);
    env.ok(&["--user", "carol", "confirm", "X3"]);

    let log = env.ok(&["audit", "log", "--item", "X3"]);
    for a in ["import", "autocode", "return", "query", "propose", "confirm"] {
        assert!(log.contains(a), "missing {a} in\n{log}");
    }
    let out = env.ok(&["audit", "verify"]);
    assert!(out.contains("Decision log intact"), "{out}");

    // Export with the full hierarchy, filtered.
    let csv = env.ok(&["export"]);
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let x1 = rows.iter().find(|r| &r[0] == "X1").unwrap();
    assert_eq!(&x1[col("llt_name")], "Unilateral leg pain");
    assert_eq!(&x1[col("pt_name")], "Pain in extremity");
    assert_eq!(&x1[col("soc_name")], "Musculoskeletal and connective tissue disorders");
    assert_eq!((&x1[col("proposer")], &x1[col("reviewer")]), ("alice", "bob"));
    assert!(!x1[col("hlt_name")].is_empty() && !x1[col("hlgt_name")].is_empty());
    let jsonl = env.ok(&["export", "--format", "jsonl", "--study", "ST2"]);
    assert_eq!(jsonl.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(v["item_id"], "X3");
    assert_eq!(env.ok(&["export", "--from", "2999-01-01", "--format", "jsonl"]), "");
    let err = env.fails(&["export", "--from", "yesterday"]);
    assert!(err.contains("not a date"), "{err}");

    let pairs = env.ok(&["data", "export-training"]);
    assert!(pairs.contains(&format!("pain of right thigh to the knee,{leg},DEMO-1.0")), "{pairs}");
    assert_eq!(pairs.lines().count(), 4, "{pairs}");
}

#[test]
fn editing_the_log_behind_medcoders_back_is_detected() {
    let env = setup();
    env.ok(&["--user", "alice", "code", "X1", &llt_code("Leg pain")]);
    env.ok(&["--user", "bob", "confirm", "X1"]);
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let e = conn.execute("UPDATE decision_log SET user = 'mallory' WHERE action = 'confirm'", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = conn.execute("DELETE FROM decision_log WHERE seq = 1", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let seq: i64 = conn.query_row("SELECT seq FROM decision_log WHERE action = 'confirm'", [], |r| r.get(0)).unwrap();
    conn.execute_batch("DROP TRIGGER decision_log_no_update").unwrap();
    conn.execute("UPDATE decision_log SET user = 'mallory' WHERE seq = ?1", [seq]).unwrap();
    drop(conn);
    let (ok, out, _) = env.run(&["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("BROKEN at row {seq}")) && out.contains("edited"), "{out}");
}

#[test]
fn two_writers_at_once_lose_no_update() {
    let env = setup();
    let ids: Vec<String> = (0..30).map(|i| format!("C{i:02}")).collect();
    let q = env.dir.path().join("many.csv");
    let mut text = "id,study,subject,reported_term\n".to_string();
    for id in &ids {
        text.push_str(&format!("{id},ST9,100,some pain\n"));
    }
    fs::write(&q, text).unwrap();
    env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    let (leg, arm) = (llt_code("Leg pain"), llt_code("Arm pain"));
    // Both coders read revision 0 of every item and act on it at the same time: for each item
    // exactly one must win and the other be refused as stale.
    let spawn = |user: &str, code: &str| {
        let script = ids
            .iter()
            .map(|id| format!("echo {pw} | \"$BIN\" --password-stdin --user {user} code {id} {code} --rev 0 || true", pw = password(user)))
            .collect::<Vec<_>>()
            .join("\n");
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("BIN", env!("CARGO_BIN_EXE_medcoder"))
            .env("MEDCODER_DB", env.db())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("alice", &leg);
    let b = spawn("dave", &arm);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    let (ta, tb) = (text(&a), text(&b));
    let wins = ta.matches("is now proposed").count() + tb.matches("is now proposed").count();
    let stale = ta.matches("after you read it").count() + tb.matches("after you read it").count();
    assert_eq!((wins, stale), (30, 30), "alice:\n{ta}\ndave:\n{tb}");
    // Without a revision both actions apply in turn, and both are in the log.
    let spawn2 = |user: &str, code: &str| {
        let script = ids
            .iter()
            .map(|id| format!("echo {pw} | \"$BIN\" --password-stdin --user {user} code {id} {code}", pw = password(user)))
            .collect::<Vec<_>>()
            .join(" && ");
        Command::new("sh").arg("-c").arg(script).env("BIN", env!("CARGO_BIN_EXE_medcoder")).env("MEDCODER_DB", env.db()).output().unwrap()
    };
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| spawn2("alice", &leg));
        let b = sc.spawn(|| spawn2("dave", &arm));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success() && b.status.success(), "{}{}", text(&a), text(&b));
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    for id in &ids {
        let (rev, proposes): (i64, i64) = conn
            .query_row(
                "SELECT i.revision, (SELECT count(*) FROM decision_log l WHERE l.item_id = i.id AND l.action = 'propose') FROM item i WHERE external_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((rev, proposes), (3, 3), "{id}: every successful action is counted once");
    }
    assert!(env.ok(&["audit", "verify"]).contains("intact"));
}

#[test]
fn backtest_from_logged_proposals() {
    let env = setup();
    let mut store = medcoder::store::Store::open(&env.db()).unwrap();
    let dict = store.active_dictionary().unwrap();
    let code = |n: &str| llt_code(n).parse::<u32>().unwrap();
    let pt = |c: u32| dict.llt(c).unwrap().pt_code;
    use medcoder::store::proposals::{Proposal, ProposalSet};
    // X1: the model's top-1 is right; X2: right answer at rank 2.
    for (id, ranked, entropy) in [("X1", ["Unilateral leg pain", "Leg pain"], 0.1), ("X2", ["Head pain", "Headache"], 1.5)] {
        let item = store.item(id).unwrap();
        let proposals = ranked
            .iter()
            .enumerate()
            .map(|(i, n)| Proposal {
                llt_code: code(n),
                pt_code: pt(code(n)),
                score: 1.0 - i as f64,
                confidence: if i == 0 { 0.9 - entropy / 4.0 } else { 0.05 },
                evidence: None,
                pt_confidence: None,
                raw: None,
            })
            .collect();
        store
            .set_proposals(&[(
                item.id,
                ProposalSet {
                    model_version: "test-model".into(),
                    meddra_version: "DEMO-1.0".into(),
                    entropy: Some(entropy),
                    proposals,
                    computed_at: "t".into(),
                },
            )])
            .unwrap();
    }
    drop(store);
    env.ok(&["--user", "alice", "code", "X1", &llt_code("Unilateral leg pain"), "--source", "model"]);
    env.ok(&["--user", "alice", "code", "X2", &llt_code("Headache"), "--source", "model"]);
    env.ok(&["--user", "bob", "confirm", "X1"]);
    env.ok(&["--user", "bob", "confirm", "X2"]);
    let log = env.ok(&["audit", "log", "--item", "X2", "--json"]);
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["chosen_rank"], 2);
    assert_eq!(last["model_version"], "test-model");

    let out = env.ok(&["backtest"]);
    assert!(out.contains("over 2 confirmed items") && out.contains("LLT top-1  50.0%") && out.contains("LLT in top-5 100.0%"), "{out}");
    let plot = env.dir.path().join("bt.svg");
    let json = env.ok(&["backtest", "--json", "--plot", s(&plot)]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["overall"]["n"], 2);
    assert_eq!(v["brackets"][1]["name"], "lowest-entropy 80%");
    assert!(fs::read_to_string(&plot).unwrap().contains("<polyline"));
    assert!(env.ok(&["backtest", "--model", "other"]).contains("nothing to back-test"));
}

#[test]
fn recode_after_meddra_upgrade() {
    let env = setup();
    env.ok(&["--user", "alice", "code", "X2", &llt_code("Head ache")]);
    env.ok(&["--user", "bob", "confirm", "X2"]);
    let tmp = tempfile::tempdir().unwrap();
    let m = copy_demo(tmp.path());
    fs::write(m.join("meddra_release.asc"), "DEMO-2.0$English$$$$").unwrap();
    let text = fs::read_to_string(m.join("llt.asc")).unwrap();
    let text: String = text.lines().map(|l| if l.split('$').nth(1) == Some("Head ache") { l.replace("$Y$", "$N$") } else { l.to_string() } + "\n").collect();
    fs::write(m.join("llt.asc"), text).unwrap();
    env.ok(&["dict", "import", s(tmp.path()), "--activate"]);
    let (ok, out, _) = env.run(&["recode-check"]);
    assert!(!ok && out.contains("X2") && out.contains("non-current in MedDRA DEMO-2.0"), "{out}");
    env.ok(&["--user", "alice", "recode", "X2", &llt_code("Headache"), "--comment", "MedDRA DEMO-2.0 upgrade"]);
    env.ok(&["--user", "carol", "confirm", "X2"]);
    assert!(env.ok(&["recode-check"]).contains("No confirmed code or synonym needs recoding"));
    assert!(env.ok(&["audit", "log", "--item", "X2"]).contains("recode"));
}

#[test]
fn users_and_settings_need_an_admin() {
    let env = setup();
    let err = env.fails(&["--user", "alice", "user", "add", "eve", "--role", "coder"]);
    assert!(err.contains("only an admin"), "{err}");
    let err = env.fails(&["--user", "bob", "settings", "autocode-confirm", "on"]);
    assert!(err.contains("only an admin"), "{err}");
    env.ok(&["--user", "admin", "settings", "autocode-confirm", "on"]);
    let q = env.dir.path().join("q9.csv");
    fs::write(&q, "id,study,subject,reported_term\nZ1,S,1,vomiting\n").unwrap();
    env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(env.ok(&["queue", "show", "Z1"]).contains("[confirmed]"));
    assert!(env.ok(&["user", "list"]).contains("carol            reviewer"));
}

#[test]
fn queue_show_shows_only_proposals_made_for_the_active_version() {
    let env = setup();
    let mut store = medcoder::store::Store::open(&env.db()).unwrap();
    let code: u32 = llt_code("Headache").parse().unwrap();
    let pt = store.active_dictionary().unwrap().llt(code).unwrap().pt_code;
    use medcoder::store::proposals::{Proposal, ProposalSet};
    let item = store.item("X2").unwrap();
    let set = |version: &str| ProposalSet {
        model_version: "old-model".into(),
        meddra_version: version.into(),
        entropy: Some(0.5),
        proposals: vec![Proposal { llt_code: code, pt_code: pt, score: 1.0, confidence: 0.8, evidence: None, pt_confidence: None, raw: None }],
        computed_at: "t".into(),
    };
    store.set_proposals(&[(item.id, set("DEMO-0.9"))]).unwrap();
    let out = env.ok(&["queue", "show", "X2"]);
    assert!(!out.contains("old-model") && !out.contains("proposals "), "stale proposals shown:\n{out}");
    store.set_proposals(&[(item.id, set("DEMO-1.0"))]).unwrap();
    let out = env.ok(&["queue", "show", "X2"]);
    assert!(out.contains("model old-model") && out.contains("Headache") && out.contains("80.0%"), "{out}");
}

/// "Bob" is bob (issue #11): no second user beside him, whoever inserts it, and the four-eye rule
/// cannot be dodged by spelling one's own name differently.
#[test]
fn user_names_are_case_insensitive() {
    let env = setup();
    let err = env.fails(&["--user", "admin", "user", "add", "Bob", "--role", "coder"]);
    assert!(err.contains("user bob already exists"), "{err}");
    let c = rusqlite::Connection::open(env.db()).unwrap();
    let e = c.execute("INSERT INTO user(name, role, created_at) VALUES ('BOB', 'admin', 'x')", []).unwrap_err().to_string();
    assert!(e.contains("UNIQUE"), "{e}");
    drop(c);
    // Whoever proposes as ALICE proposes as alice, and alice may not confirm it as Alice.
    env.ok(&["--user", "ALICE", "code", "X2", &llt_code("Headache")]);
    let err = env.fails(&["--user", "Alice", "confirm", "X2"]);
    assert!(err.contains("alice") && err.contains("coder"), "{err}");
    env.add_users(&[("erin", "reviewer")]);
    env.ok(&["--user", "Erin", "code", "X4", &llt_code("Pruritus")]);
    let err = env.fails(&["--user", "ERIN", "confirm", "X4"]);
    assert!(err.contains("four-eye rule: you proposed the code of X4"), "{err}");
    let log = env.ok(&["audit", "log", "--json"]);
    assert!(log.contains("\"user\":\"alice\",\"action\":\"propose\"") && log.contains("\"user\":\"erin\",\"action\":\"propose\""), "{log}");
    assert!(!log.contains("ALICE") && !log.contains("Erin"), "{log}");
}

#[test]
fn open_queries_are_listed_oldest_first_with_their_age_and_exported_for_the_sites() {
    let env = Env::new();
    env.add_users(&[("alice", "coder")]);
    env.ok(&["--user", "admin", "dict", "import", s(&demo_dir())]);
    env.queue("q.csv", &[("X1", "funny turn"), ("X2", "bad tummy"), ("X3", "=odd rash")]);
    assert!(env.ok(&["query", "list"]).contains("No queries."));
    assert!(env.ok(&["query", "list", "--open"]).contains("No open queries."));
    env.ok(&["--user", "alice", "query", "X3", "--note", "what does the rash look like?"]);
    env.ok(&["--user", "alice", "query", "X1", "--note", "what kind of turn?"]);
    let err = env.fails(&["--user", "alice", "query", "X2"]);
    assert!(err.contains("--note"), "{err}");
    // X1's query was raised 10 days ago (the age is read from the log's query row; the test sets
    // it back behind the log's guard, as time would).
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute_batch(
        "DROP TRIGGER decision_log_no_update;
         UPDATE decision_log SET at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 days') WHERE external_id = 'X1' AND action = 'query';",
    )
    .unwrap();
    drop(c);
    let list = env.ok(&["query", "list", "--open"]);
    let rows: Vec<&str> = list.lines().collect();
    assert!(rows[0].contains("2 open queries") && rows[1].starts_with("X1") && rows[1].contains(" 10 day(s)") && rows[2].starts_with("X3"), "{list}");
    assert!(rows[1].contains("by alice") && rows[1].contains("what kind of turn?"), "{list}");
    let old = env.ok(&["query", "list", "--older-than", "7"]);
    assert!(old.contains("X1") && !old.contains("X3"), "{old}");
    let f = env.dir.path().join("queries.csv");
    env.ok(&["query", "list", "--csv", s(&f)]);
    let csv = fs::read_to_string(&f).unwrap();
    assert!(csv.starts_with("item_id,study,subject,reported_term,query,raised_by,raised_at,days_open,status,answer,corrected_term\n"), "{csv}");
    assert!(csv.contains("X1,ST1,001,funny turn,what kind of turn?,alice,") && csv.contains("'=odd rash"), "{csv}");
    assert!(!csv.contains("X2"), "{csv}");
}

/// The sites' answers come back as a file: every row is checked first (the file, line and field of
/// the first bad one named, nothing recorded), then each answer is recorded, a corrected verbatim
/// superseding the term; closing by hand puts the item back where it stood.
#[test]
fn answers_are_imported_whole_or_not_at_all_and_queries_close() {
    let env = Env::new();
    env.add_users(&[("alice", "coder")]);
    env.ok(&["--user", "admin", "dict", "import", s(&demo_dir())]);
    env.queue("q.csv", &[("X1", "funny turn"), ("X2", "bad tummy"), ("X3", "odd rash")]);
    for id in ["X1", "X2"] {
        env.ok(&["--user", "alice", "query", id, "--note", "please describe it"]);
    }
    let f = env.dir.path().join("answers.csv");
    let bad = |body: &str, want: &str| {
        fs::write(&f, body).unwrap();
        let err = env.fails(&["--user", "alice", "query", "import-answers", s(&f)]);
        assert!(err.contains(want), "{body:?}: {err}");
        assert_eq!(env.state("X1")["state"], "query", "nothing recorded: {err}");
    };
    bad("item_id,answer\nX1,fainted\nX3,spots\n", "line 3, field item_id: item X3 is new, not on an open query");
    bad("item_id,answer\nX1,fainted\nX2,\n", "line 3, field answer: empty");
    bad("item_id,answer\nX1,fainted\nX1,again\n", "line 3, field item_id: item X1 is answered twice");
    bad("item_id,answer,corrected_term\nX1,ok,faint\u{1b}[2J\n", "line 2, field corrected_term: contains the control or format character U+001B");
    bad("id,text\nX1,fainted\n", "line 1: the header needs the columns item_id and answer");
    bad("item_id,answer\nNOPE,fainted\n", "line 2, field item_id");
    // The sheet the sites were sent comes back filled in, as it is.
    let sheet = env.dir.path().join("sheet.csv");
    env.ok(&["query", "list", "--open", "--csv", s(&sheet)]);
    let filled: Vec<String> = fs::read_to_string(&sheet)
        .unwrap()
        .lines()
        .map(|l| match &l[..3] {
            "X1," => l.replace(",open,,", ",open,she fainted at home,passed out at home"),
            "X2," => l.replace(",open,,", ",open,cramps after meals,"),
            _ => l.to_string(),
        })
        .collect();
    fs::write(&f, filled.join("\n")).unwrap();
    let out = env.ok(&["--user", "alice", "query", "import-answers", s(&f)]);
    assert!(out.contains("Recorded 2 answer(s)") && out.contains("1 with a corrected verbatim"), "{out}");
    assert_eq!((env.state("X1")["state"].as_str(), env.state("X1")["reported_term"].as_str()), (Some("answered"), Some("passed out at home")));
    assert_eq!(env.state("X2")["state"], "answered");
    let list = env.ok(&["query", "list"]);
    assert!(list.contains("answered") && list.contains("=> cramps after meals"), "{list}");
    // Closed by hand: X2 was new when its query was raised.
    let out = env.ok(&["--user", "alice", "query", "close", "X2", "--note", "coded from the answer later"]);
    assert!(out.contains("X2 is now new"), "{out}");
    let err = env.fails(&["--user", "alice", "query", "close", "X2"]);
    assert!(err.contains("cannot close the query of item X2: it is new"), "{err}");
    let all = env.ok(&["query", "list", "--all"]);
    assert!(all.lines().any(|l| l.starts_with("X2") && l.contains("closed")), "{all}");
    assert!(env.ok(&["audit", "verify"]).contains("match the log"));
    // A term rewritten behind the log (what was coded would change) is found: the log keeps each
    // term an item had, from its import and each corrected verbatim.
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute("UPDATE item SET reported_term = 'headache', term_key = 'headache' WHERE external_id = 'X1'", []).unwrap();
    drop(c);
    let (ok, out, _) = env.run(&["audit", "verify"]);
    assert!(!ok && out.contains("item X1 (id 1): the reported term is 'headache', the log says 'passed out at home'"), "{out}");
}
