//! Regression tests for what two attacks on a fresh build broke on SQLite (issue #19): each failed
//! on the build before. Team-mode counterparts are in tests/team.rs and tests/store_contract.rs.

mod common;
use common::*;
use std::fs;

/// Demo dictionary; admin (this OS login), alice (coder), bob (reviewer); X1 proposed by alice.
fn setup() -> Env {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.add_users(&[("alice", "coder"), ("bob", "reviewer")]);
    env.queue("q.csv", &[("X1", "sore leg"), ("X2", "hedache")]);
    env.ok(&["--user", "alice", "code", "X1", &llt_code("Leg pain")]);
    env
}

/// admin imports "wobbly knees" -> Leg pain, then DEMO-2.0 (the demo release renamed) is loaded
/// and made active: the synonym is carried over.
fn imported_synonym_then_upgrade(env: &Env) {
    let f = env.dir.path().join("syn.csv");
    fs::write(&f, format!("reported_term,llt_code\nwobbly knees,{}\n", llt_code("Leg pain"))).unwrap();
    env.ok(&["--user", "admin", "synonym", "import", s(&f)]);
    let new = env.dir.path().join("v2");
    let ascii = copy_demo(&new);
    let rel = ascii.join("meddra_release.asc");
    let r = fs::read_to_string(&rel).unwrap();
    let old = r.split('$').next().unwrap().to_string();
    fs::write(&rel, r.replacen(&old, "DEMO-2.0", 1)).unwrap();
    env.ok(&["dict", "import", s(&new)]);
    env.ok(&["dict", "use", "DEMO-2.0"]);
}

/// Case 1: `--db file:...` (a SQLite URI naming the same file) once skipped the identity check.
#[test]
fn a_sqlite_uri_or_memory_database_is_refused_before_anything_opens() {
    let env = setup();
    let db = env.db();
    for spelling in [format!("file:{}", db.display()), format!("FILE:{}?mode=rw", db.display()), ":memory:".into(), format!("sqlite:{}", db.display())] {
        let mut c = env.cmd(&["confirm", "X1"]);
        c.env("MEDCODER_DB", &spelling).env("MEDCODER_USER", "bob").stdin(std::process::Stdio::null());
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("SQLite URIs (file:...), :memory: and other schemes are refused"), "{spelling}: {err}");
        let (ok, _, err) = env.run_with_input(&["--db", &spelling, "--user", "bob", "confirm", "X1"], None);
        assert!(!ok && err.contains("are refused"), "{spelling}: {err}");
    }
    assert_eq!(env.state("X1")["state"], "proposed", "nothing was confirmed");
    // The relative spelling of the real file still asks for bob's password.
    let rel = db.file_name().unwrap().to_str().unwrap().to_string();
    let mut c = env.cmd(&["--db", &rel, "--user", "bob", "confirm", "X1"]);
    c.current_dir(env.dir.path()).stdin(std::process::Stdio::null());
    let out = c.output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("password"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!env.ok(&["audit", "log"]).lines().any(|l| l.contains(" bob ") && l.contains("confirm")));
}

/// Case 1 again (the second attack): a path that does not exist yet (`missing/../medcoder.db`) or a
/// symlink once skipped the identity check, since identity was checked only when the path existed.
#[test]
fn identity_is_checked_whatever_spelling_of_the_path_is_given() {
    let env = setup();
    let db = env.db();
    let link = env.dir.path().join("link.db");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let dotdot = env.dir.path().join("missing").join("..").join("medcoder.db");
    for spelling in [dotdot.display().to_string(), link.display().to_string()] {
        let (ok, _, err) = env.run_with_input(&["--db", &spelling, "--user", "bob", "confirm", "X1"], None);
        assert!(!ok && err.contains("reading a password"), "{spelling}: {err}");
        let (ok, _, err) = env.run_with_input(&["--db", &spelling, "--user", "bob", "confirm", "X1"], Some("guess-guess\n"));
        assert!(!ok && err.contains("wrong password for bob"), "{spelling}: {err}");
    }
    assert_eq!(env.state("X1")["state"], "proposed", "nothing was confirmed");
}

/// Case 5: a password inside a postgres URL would sign without being typed.
#[test]
fn a_password_in_a_database_url_is_refused() {
    let env = Env::new();
    for url in ["postgresql://rita:secret-pass@127.0.0.1:1/coding", "postgres://rita@127.0.0.1:1/coding?password=secret-pass"] {
        let (ok, _, err) = env.run_with_input(&["--db", url, "confirm", "X1", "--rev", "1"], None);
        assert!(!ok && err.contains("a password in the URL is refused") && !err.contains("secret-pass"), "{err}");
        let mut c = env.cmd(&["confirm", "X1", "--rev", "1"]);
        c.env("MEDCODER_DB", url).stdin(std::process::Stdio::null());
        let out = c.output().unwrap();
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("a password in the URL is refused"));
    }
}

/// Case 2: the admin who imported a synonym cannot confirm the code it set, whoever queued the item.
#[test]
fn the_importer_of_a_synonym_never_confirms_its_code() {
    let env = setup();
    let f = env.dir.path().join("syn.csv");
    fs::write(&f, format!("reported_term,llt_code\nwobbly knees,{}\n", llt_code("Leg pain"))).unwrap();
    env.ok(&["--user", "admin", "synonym", "import", s(&f)]);
    env.queue("q2.csv", &[("S1", "Wobbly knees")]);
    assert_eq!(env.state("S1")["source"], "synonym");
    let err = env.fails(&["--user", "admin", "confirm", "S1"]);
    assert!(err.contains("four-eye rule"), "{err}");
    env.ok(&["--user", "bob", "confirm", "S1"]);
}

/// Case 3: an imported synonym carried into a new release stays one person's choice.
#[test]
fn an_imported_synonym_is_not_auto_confirmed_after_an_upgrade() {
    let env = setup();
    imported_synonym_then_upgrade(&env);
    let list = env.ok(&["synonym", "list", "--json"]);
    assert!(list.contains("\"origin\":\"carried\"") && list.contains("\"imported_by\":\"admin\""), "{list}");
    env.ok(&["settings", "autocode-confirm", "on"]);
    env.queue("q2.csv", &[("S2", "wobbly knees")]);
    let it = env.state("S2");
    assert_eq!((it["state"].as_str(), it["source"].as_str()), (Some("proposed"), Some("synonym")), "{it}");
    assert!(env.fails(&["--user", "admin", "confirm", "S2"]).contains("four-eye rule"));
}

/// Case 6: no two user names look alike.
#[test]
fn look_alike_user_names_are_refused() {
    let env = setup();
    for name in ["\u{430}dmin", "adm\u{131}n", "ad\u{200b}min", "Admin2\u{fe0f}", "bob-2", "\u{ff41}dmin"] {
        let err = env.fails(&["--user", "admin", "user", "add", name, "--role", "reviewer"]);
        assert!(err.contains("must start with a lower-case letter and hold only a-z, 0-9 and _") || err.contains("control"), "{name:?}: {err}");
    }
    // Case folds: "Bob" is bob.
    assert!(env.fails(&["--user", "admin", "user", "add", "BOB", "--role", "coder"]).contains("user bob already exists"));
}

/// Case 9: notes and comments obey the text rules of reported terms (Cc and Cf refused).
#[test]
fn control_and_format_characters_are_refused_in_notes_and_comments() {
    let env = setup();
    for bad in ["call \u{1b}[2J site", "call\u{61c} site", "a\u{202e}b", "x\u{200b}y"] {
        let err = env.fails(&["--user", "alice", "query", "X2", "--note", bad]);
        assert!(err.contains("control or format character"), "{bad:?}: {err}");
        let err = env.fails(&["--user", "bob", "return", "X1", "--comment", bad]);
        assert!(err.contains("control or format character"), "{bad:?}: {err}");
    }
    assert_eq!(env.state("X2")["state"], "new");
    assert_eq!(env.state("X1")["state"], "proposed");
    // A queue row with U+061C is refused with its line and field.
    let out = {
        let q = env.dir.path().join("bidi.csv");
        fs::write(&q, "id,study,subject,reported_term\nB1,ST1,001,head\u{61c}ache\n").unwrap();
        env.run(&["--user", "alice", "queue", "import", s(&q)])
    };
    assert!(!out.0 && out.1.contains("line 2") && out.1.contains("U+061C"), "{out:?}");
}

/// Case 11: a CSV export never hands a spreadsheet a formula; JSONL stays exact.
#[test]
fn exports_neutralise_spreadsheet_formulas() {
    let env = setup();
    let q = env.dir.path().join("f.csv");
    fs::write(&q, "id,study,subject,reported_term\n=F1,+ST,-001,\"=HYPERLINK(\"\"http://x\"\",\"\"click\"\")\"\n@F2,ST1,002,@SUM(A1)\n").unwrap();
    env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    let csv = env.ok(&["export", "--state", "new"]);
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    for r in rows.records() {
        let r = r.unwrap();
        for f in r.iter() {
            assert!(!f.starts_with(['=', '+', '-', '@']), "a formula reaches the spreadsheet: {f:?} in {r:?}");
        }
    }
    assert!(csv.contains("'=F1") && csv.contains("'+ST") && csv.contains("'-001") && csv.contains("'@SUM(A1)"), "{csv}");
    let jsonl = env.ok(&["export", "--state", "new", "--format", "jsonl"]);
    assert!(jsonl.contains("\"item_id\":\"=F1\"") && jsonl.contains("\"reported_term\":\"@SUM(A1)\""), "{jsonl}");
}

/// Case 15: wrong passwords are logged and lock the user after five; an admin unlocks.
#[test]
fn failed_signatures_are_logged_and_locked() {
    let env = setup();
    for i in 0..5 {
        let (ok, _, err) = env.run_with_input(&["--user", "bob", "confirm", "X1"], Some("wrong-wrong\nwrong-wrong\n"));
        assert!(!ok && err.contains("wrong password for bob"), "{i}: {err}");
    }
    let log = env.ok(&["audit", "log", "--json"]);
    assert_eq!(log.lines().filter(|l| l.contains("\"action\":\"signature-refused\"") && l.contains("\"user\":\"bob\"")).count(), 5, "{log}");
    // The sixth try is refused even with the right password.
    let (ok, _, err) = env.run_with_input(&["--user", "bob", "confirm", "X1"], Some(&format!("{0}\n{0}\n", password("bob"))));
    assert!(!ok && err.contains("bob is locked"), "{err}");
    assert!(env.fails(&["--user", "alice", "user", "unlock", "bob"]).contains("only an admin"));
    env.ok(&["--user", "admin", "user", "unlock", "bob"]);
    env.ok(&["--user", "bob", "confirm", "X1"]);
    assert!(env.ok(&["audit", "verify"]).contains("intact"));
}

/// Case 15: `code --source model` only for a code the model proposed for that item.
#[test]
fn source_model_needs_a_stored_model_proposal() {
    let env = setup();
    let err = env.fails(&["--user", "alice", "code", "X2", &llt_code("Headache"), "--source", "model"]);
    assert!(err.contains("not among the model's stored proposals"), "{err}");
    assert_eq!(env.state("X2")["state"], "new");
}

/// Case 10 on the command line: `confirm-group` names the LLT signed for.
#[test]
fn confirm_group_signs_only_the_named_code() {
    let env = setup();
    env.queue("q2.csv", &[("K1", "knee ache"), ("K2", "Knee ache!")]);
    env.ok(&["--user", "alice", "code-group", "knee ache", &llt_code("Leg pain")]);
    // alice re-proposes one as another code: the reviewer who looked at Leg pain signs only that.
    env.ok(&["--user", "alice", "code", "K2", &llt_code("Headache")]);
    let (ok, _, err) = env.run(&["--user", "bob", "confirm-group", "knee ache"]);
    assert!(!ok && err.contains("--llt"), "{err}");
    let out = env.ok(&["--user", "bob", "confirm-group", "knee ache", "--llt", &llt_code("Leg pain")]);
    assert!(out.contains("1 item(s) confirmed") && out.contains("left out K2"), "{out}");
    assert_eq!(env.state("K2")["state"], "proposed");
}

fn raw(env: &Env, sql: &str) {
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute_batch(sql).unwrap();
}

fn verify(env: &Env) -> (bool, String) {
    let (ok, out, err) = env.run(&["audit", "verify"]);
    (ok, format!("{out}{err}"))
}

/// Case 7 and the dictionary: what someone who writes the file changes behind medcoder's back is
/// found by `audit verify`: a carried synonym's LLT, an importer cleared, an LLT's name or
/// currency, a dropped log trigger.
#[test]
fn audit_verify_finds_edited_synonyms_dictionary_tables_and_dropped_triggers() {
    let env = setup();
    imported_synonym_then_upgrade(&env);
    let (ok, out) = verify(&env);
    assert!(ok, "an honest store verifies: {out}");

    raw(&env, &format!("UPDATE synonym SET llt_code = {} WHERE term = 'wobbly knees' AND meddra_version = 'DEMO-2.0'", llt_code("Headache")));
    let (ok, out) = verify(&env);
    assert!(!ok && out.contains("synonym 'wobbly knees' (MedDRA DEMO-2.0)") && out.contains("carried"), "{out}");
    raw(&env, &format!("UPDATE synonym SET llt_code = {} WHERE term = 'wobbly knees' AND meddra_version = 'DEMO-2.0'", llt_code("Leg pain")));

    raw(&env, "UPDATE synonym SET imported_by = NULL WHERE term = 'wobbly knees'");
    let (ok, out) = verify(&env);
    assert!(!ok && out.contains("the log says admin imported it") && out.contains("nobody"), "{out}");
    raw(&env, "UPDATE synonym SET imported_by = 'admin' WHERE term = 'wobbly knees'");
    assert!(verify(&env).0);

    raw(&env, "UPDATE llt SET name = 'Leg pain (forged)' WHERE code = (SELECT code FROM llt WHERE name = 'Leg pain' LIMIT 1)");
    let (ok, out) = verify(&env);
    assert!(!ok && out.contains("the dictionary tables differ from the release its import logged"), "{out}");
    raw(&env, "UPDATE llt SET name = 'Leg pain' WHERE name = 'Leg pain (forged)'");
    raw(&env, "UPDATE llt SET current = 1 - current WHERE code = (SELECT min(code) FROM llt)");
    assert!(verify(&env).1.contains("differ from the release"));
    raw(&env, "UPDATE llt SET current = 1 - current WHERE code = (SELECT min(code) FROM llt)");
    assert!(verify(&env).0, "{}", verify(&env).1);

    raw(&env, "DROP TRIGGER decision_log_no_delete");
    let (ok, out) = verify(&env);
    assert!(!ok && out.contains("trigger decision_log_no_delete is missing"), "{out}");
}

/// The minor input cases of the attack: an over-long synonym term is refused with its line and
/// field (as team mode refuses it), and a repeated row counts once.
#[test]
fn synonym_lists_refuse_overlong_terms_and_count_repeats_once() {
    let env = setup();
    let f = env.dir.path().join("syn.csv");
    let leg = llt_code("Leg pain");
    fs::write(&f, format!("reported_term,llt_code\nwobbly knees,{leg}\n{},{leg}\n", "x".repeat(3000))).unwrap();
    let err = env.fails(&["--user", "admin", "synonym", "import", s(&f)]);
    assert!(err.contains("line 3, field reported_term: 3000 characters"), "{err}");
    fs::write(&f, format!("reported_term,llt_code\nwobbly knees,{leg}\nWobbly knees,{leg}\n")).unwrap();
    assert!(env.ok(&["--user", "admin", "synonym", "import", s(&f)]).contains("Imported 1 synonym(s)"));
    let log = env.ok(&["audit", "log", "--json"]);
    assert_eq!(log.lines().filter(|l| l.contains("\"action\":\"synonym-import\"")).count(), 1, "{log}");
}

/// From the second attack: ASCII look-alikes of existing names are refused too.
#[test]
fn ascii_look_alikes_of_existing_names_are_refused() {
    let env = setup();
    for name in ["adrnin", "b0b", "alice_", "a1ice", "bo6", "aiice"] {
        let err = env.fails(&["--user", "admin", "user", "add", name, "--role", "reviewer"]);
        assert!(err.contains("looks like the existing user"), "{name}: {err}");
    }
    env.ok(&["--user", "admin", "user", "add", "carl", "--role", "reviewer"]);
}

/// From the second attack: forged `item.source` (the four-eye rule for imported synonyms once
/// read it) and an undone retirement are found by `audit verify`, and the importer stays refused.
#[test]
fn a_forged_item_source_or_undone_retirement_is_found_and_changes_nothing() {
    let env = setup();
    let f = env.dir.path().join("syn.csv");
    fs::write(&f, format!("reported_term,llt_code\nwobbly knees,{}\nfloppy arm,{}\n", llt_code("Leg pain"), llt_code("Headache"))).unwrap();
    env.ok(&["--user", "admin", "synonym", "import", s(&f)]);
    env.queue("q2.csv", &[("W1", "wobbly knees")]);
    raw(&env, "UPDATE item SET source = 'manual' WHERE external_id = 'W1'");
    let (ok, out) = verify(&env);
    assert!(!ok && out.contains("item W1") && out.contains("the source is manual, the log says synonym"), "{out}");
    assert!(env.fails(&["--user", "admin", "confirm", "W1"]).contains("four-eye rule"));
    raw(&env, "UPDATE item SET source = 'synonym' WHERE external_id = 'W1'");
    env.ok(&["--user", "admin", "synonym", "retire", "floppy arm"]);
    assert!(verify(&env).0);
    raw(&env, "UPDATE synonym SET hold = NULL WHERE term = 'floppy arm'");
    let (ok, out) = verify(&env);
    assert!(!ok && out.contains("synonym 'floppy arm'") && out.contains("retired"), "{out}");
}

/// From the second attack: parallel guesses are counted one after another, each logged.
#[test]
fn parallel_wrong_passwords_are_all_counted_and_logged() {
    let env = setup();
    let children: Vec<_> = (0..12)
        .map(|i| {
            use std::io::Write;
            let mut c = env.cmd(&["--password-stdin", "--user", "bob", "queue", "list"]);
            c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
            let mut child = c.spawn().unwrap();
            let _ = child.stdin.take().unwrap().write_all(format!("guess-{i}-xx\n").as_bytes());
            child
        })
        .collect();
    let errs: Vec<String> = children.into_iter().map(|c| String::from_utf8_lossy(&c.wait_with_output().unwrap().stderr).into_owned()).collect();
    assert_eq!(errs.iter().filter(|e| e.contains("(logged;")).count(), 5, "{errs:?}");
    assert_eq!(errs.iter().filter(|e| e.contains("bob is locked after 5")).count(), 7, "{errs:?}");
    let log = env.ok(&["audit", "log", "--json"]);
    assert_eq!(log.lines().filter(|l| l.contains("signature-refused")).count(), 5);
}

/// From the second attack: a file name with escape or direction characters is stored escaped.
#[test]
fn import_file_names_are_stored_escaped() {
    let env = setup();
    let q = env.dir.path().join("q\u{1b}[2J\u{202e}.csv");
    fs::write(&q, "id,study,subject,reported_term\nN1,ST1,001,nausea\n").unwrap();
    let out = env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "{out:?}");
    let log = env.ok(&["audit", "log", "--json"]);
    assert!(!log.contains('\u{202e}') && !log.contains("\\u001b"), "{log}");
}

/// From the second attack: while another command holds the write lock, a password is not checked
/// at all (an uncounted check would let a guesser who holds the lock try freely).
#[test]
fn no_password_is_checked_uncounted_while_the_store_is_locked() {
    let env = setup();
    let holder = rusqlite::Connection::open(env.db()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (ok, _, err) = env.run_with_input(&["--user", "bob", "queue", "show", "X1"], Some(&format!("{}\n", password("bob"))));
    assert!(!ok && err.contains("the database is busy") && err.contains("not checked"), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    env.ok(&["--user", "bob", "queue", "show", "X1"]);
}
