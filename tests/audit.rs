//! Attacks on the audit trail by someone who can write the database file (issue #11): a direct
//! edit of the item, user or setting tables; a consistent rewrite of the whole hash chain; a
//! truncation of the newest rows with the head reset. Each must be reported by `audit verify`.

mod common;
use common::*;
use std::fs;

use medcoder::store::log::Entry;
use sha2::{Digest, Sha256};

fn setup() -> Env {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.add_users(&[("alice", "coder"), ("bob", "reviewer")]);
    let q = env.dir.path().join("q.csv");
    fs::write(&q, "id,study,subject,reported_term\nX1,ST1,001,sore leg\nX2,ST1,002,hedache\nX3,ST1,003,queasy\n").unwrap();
    env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    let leg = llt_code("Leg pain");
    env.ok(&["--user", "alice", "code", "X1", &leg]);
    env.ok(&["--user", "bob", "confirm", "X1"]);
    env.ok(&["--user", "alice", "code", "X2", &llt_code("Headache")]);
    env
}

fn sql(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.db()).unwrap()
}

fn verify(env: &Env, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let (ok, out, err) = env.run(&args);
    (ok, format!("{out}{err}"))
}

#[test]
fn an_untouched_store_verifies() {
    let env = setup();
    let (ok, out) = verify(&env, &[]);
    assert!(ok, "{out}");
    assert!(out.contains("hash chain verified") && out.contains("match the log") && out.contains("No anchor file"), "{out}");
}

#[test]
fn direct_edits_of_items_users_and_settings_are_named() {
    let env = setup();
    let other = llt_code("Nausea");
    let c = sql(&env);
    c.execute("UPDATE item SET llt_code = ?1 WHERE external_id = 'X1'", [&other]).unwrap();
    c.execute("UPDATE item SET state = 'confirmed', reviewer = 'alice' WHERE external_id = 'X2'", []).unwrap();
    c.execute("UPDATE user SET role = 'admin' WHERE name = 'alice'", []).unwrap();
    c.execute("INSERT INTO user(name, role, created_at) VALUES ('eve', 'admin', '2026-01-01')", []).unwrap();
    c.execute("INSERT INTO setting(key, value) VALUES ('autocode_confirm', 'on')", []).unwrap();
    drop(c);
    let (ok, out) = verify(&env, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("hash chain verified"), "the chain itself is intact: {out}");
    for want in [
        &format!("item X1 (id 1): the LLT is {other}, the log says {}", llt_code("Leg pain")) as &str,
        "item X2 (id 2): the state is confirmed, the log says proposed",
        "item X2 (id 2): the reviewer is alice, the log says empty",
        "user alice: the role is admin, the log says coder",
        "user eve is not in the decision log",
        "setting autocode_confirm: the value is on, the log says unset",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

/// What the attacker's script does: recompute every row's hash after editing one, and the head.
fn rechain(env: &Env, edit_seq: i64) {
    let c = sql(env);
    c.execute_batch("DROP TRIGGER decision_log_no_update; DROP TRIGGER decision_log_no_delete;").unwrap();
    c.execute("UPDATE decision_log SET comment = 'nothing to see' WHERE seq = ?1", [edit_seq]).unwrap();
    let store = medcoder::store::Store::open(&env.db()).unwrap();
    let rows = store.log_entries(None).unwrap();
    let mut prev = "0".repeat(64);
    for r in rows {
        let e: &Entry = &r.entry;
        let body = serde_json::to_string(&(r.seq, &r.at, e, &prev)).unwrap();
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        c.execute("UPDATE decision_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", rusqlite::params![prev, hash, r.seq]).unwrap();
        prev = hash;
    }
    let n: i64 = c.query_row("SELECT max(seq) FROM decision_log", [], |r| r.get(0)).unwrap();
    c.execute("UPDATE setting SET value = ?1 WHERE key = 'log_head'", [format!("{n} {prev}")]).unwrap();
}

#[test]
fn a_consistent_rewrite_passes_the_chain_but_not_the_anchor() {
    let env = setup();
    let out = env.ok(&["audit", "anchor"]);
    let anchored: i64 = out.split(' ').next().unwrap().parse().unwrap();
    rechain(&env, 3);
    let (ok, out) = verify(&env, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("hash chain verified"), "the rewrite is consistent: {out}");
    assert!(out.contains(&format!("row {anchored} has another hash: the history up to it was rewritten")), "{out}");
    // The same with the anchor file named (a copy kept elsewhere).
    let copy = env.dir.path().join("kept-elsewhere.txt");
    fs::copy(env.db().with_file_name("medcoder.db.anchors"), &copy).unwrap();
    let (ok, out) = verify(&env, &["--anchors", s(&copy)]);
    assert!(!ok && out.contains("rewritten"), "{out}");
}

#[test]
fn truncation_with_a_reset_head_is_found_by_the_anchor() {
    let env = setup();
    let head: i64 = env.ok(&["audit", "anchor"]).split(' ').next().unwrap().parse().unwrap();
    let c = sql(&env);
    c.execute_batch("DROP TRIGGER decision_log_no_delete;").unwrap();
    c.execute("DELETE FROM decision_log WHERE seq = ?1", [head]).unwrap();
    let (prev_seq, prev_hash): (i64, String) =
        c.query_row("SELECT seq, hash FROM decision_log ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    c.execute("UPDATE setting SET value = ?1 WHERE key = 'log_head'", [format!("{prev_seq} {prev_hash}")]).unwrap();
    drop(c);
    let (ok, out) = verify(&env, &[]);
    assert!(!ok, "{out}");
    assert!(out.contains("hash chain verified"), "{out}");
    assert!(out.contains(&format!("row {head} is gone: the log was truncated")), "{out}");
}

#[test]
fn anchors_are_appended_once_per_head_and_bad_lines_are_named() {
    let env = setup();
    let a = env.ok(&["audit", "anchor"]);
    env.ok(&["audit", "anchor"]);
    let file = env.db().with_file_name("medcoder.db.anchors");
    assert_eq!(fs::read_to_string(&file).unwrap().lines().count(), 1, "the same head is not repeated");
    env.ok(&["--user", "bob", "confirm", "X2"]);
    let b = env.ok(&["audit", "anchor"]);
    assert_ne!(a, b);
    assert_eq!(fs::read_to_string(&file).unwrap().lines().count(), 2);
    assert!(verify(&env, &[]).0);
    let bad = env.dir.path().join("bad.txt");
    fs::write(&bad, format!("{}not an anchor\n", a)).unwrap();
    let (ok, out) = verify(&env, &["--anchors", s(&bad)]);
    assert!(!ok && out.contains("bad.txt, line 2, field seq"), "{out}");
}

#[test]
fn exports_carry_the_head_they_were_made_at() {
    let env = setup();
    let head = env.ok(&["audit", "anchor"]);
    let (seq, hash) = {
        let mut p = head.split(' ');
        (p.next().unwrap().to_string(), p.next().unwrap().to_string())
    };
    let out = env.ok(&["export", "--state", "confirmed"]);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let h = r.headers().unwrap().clone();
    let (si, hi) = (h.iter().position(|c| c == "log_seq").unwrap(), h.iter().position(|c| c == "log_hash").unwrap());
    let row = r.records().next().unwrap().unwrap();
    assert_eq!((&row[si], &row[hi]), (seq.as_str(), hash.as_str()));
}

/// A synonym written into the table autocodes (and may auto-confirm) new items: each must come
/// from a logged confirmation, import or carry-over (found by an attack on this build).
#[test]
fn a_forged_synonym_is_named() {
    let env = setup();
    assert!(verify(&env, &[]).0);
    let c = sql(&env);
    c.execute(
        "INSERT INTO synonym(term, meddra_version, llt_code, origin, confirmations, reported_term, proposer, reviewer, updated_at, updated_by, seq) VALUES ('bad term', 'DEMO-1.0', ?1, 'confirmed', 3, 'bad term', 'alice', 'bob', 't', 'bob', 99)",
        [llt_code("Nausea")],
    )
    .unwrap();
    drop(c);
    let (ok, out) = verify(&env, &[]);
    assert!(!ok && out.contains("synonym 'bad term' (MedDRA DEMO-1.0)") && out.contains("says it was confirmed, but the log has no such decision"), "{out}");
}
