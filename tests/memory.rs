//! The coded-term memory through the binary, with the installed MiniLM: a confirmed decision
//! changes the next proposal for a similar term (with its evidence), a retired synonym is
//! forgotten, and an empty memory proposes exactly as the dense index does.

mod common;
use common::*;
use std::fs;

/// The first proposal line of `predict` (rank, confidence, code, name ...).
fn top(out: &str) -> &str {
    out.lines().find(|l| l.trim_start().starts_with("1.")).unwrap()
}

#[test]
fn a_confirmed_term_changes_the_next_proposal_for_a_similar_term() {
    let env = Env::new();
    env.ok(&["demo", "--print"]);
    let similar = "pain in my right thigh down to the knee";
    let before = env.ok(&["predict", similar]);
    assert!(!top(&before).contains("Unilateral leg pain") && !before.contains("like '"), "{before}");
    env.ok(&["--user", "alice", "code", "AE-0001", &llt_code("Unilateral leg pain")]);
    let proposed = env.ok(&["predict", similar]);
    assert_eq!(top(&proposed), top(&before), "a proposal alone teaches nothing");
    env.ok(&["--user", "bob", "confirm", "AE-0001"]);
    let after = env.ok(&["predict", similar]);
    assert!(top(&after).contains("Unilateral leg pain"), "{after}");
    assert!(after.contains("like 'pain of right thigh to knee', AE-0001") && after.contains("memory: 1 confirmed term"), "{after}");
    // Unrelated terms are proposed as before.
    assert_eq!(top(&env.ok(&["predict", "vomiting"])), top(&before_env_vomiting()));
    env.ok(&["--user", "admin", "synonym", "retire", "pain of right thigh to the knee"]);
    let forgotten = env.ok(&["predict", similar]);
    assert_eq!(top(&forgotten), top(&before), "{forgotten}");
}

/// `predict vomiting` on a fresh demo database (empty memory).
fn before_env_vomiting() -> String {
    let env = Env::new();
    env.ok(&["demo", "--print"]);
    env.ok(&["predict", "vomiting"])
}

#[test]
fn replay_matches_a_hand_computed_stream_and_leaves_the_store_untouched() {
    let env = Env::new();
    env.ok(&["demo", "--print"]);
    env.ok(&["--user", "alice", "code", "AE-0001", &llt_code("Unilateral leg pain")]);
    env.ok(&["--user", "bob", "confirm", "AE-0001"]);
    let stream = env.dir.path().join("stream.csv");
    // Row 2 repeats row 1's term (synonym rule, right); row 3 is an LLT name (name rule, right);
    // row 4 repeats the term with another LLT of the same PT (synonym rule: LLT wrong, PT right).
    let rows = [("achy head", "Headache"), ("Achy-head", "Headache"), ("Nausea", "Nausea"), ("achy head", "Head pain")];
    let mut text = "reported_term,llt_code\n".to_string();
    for (t, n) in rows {
        text.push_str(&format!("{t},{}\n", llt_code(n)));
    }
    fs::write(&stream, text).unwrap();
    // The database and its write-ahead log, byte for byte.
    let files = || [env.db(), env.db().with_extension("db-wal")].iter().map(|p| fs::read(p).unwrap_or_default()).collect::<Vec<_>>();
    let db_before = files();
    let out = env.ok(&["eval", s(&stream), "--replay", "--json"]);
    let reports: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &reports[0];
    assert_eq!((r["n"].as_u64(), r["learning"].as_str()), (Some(4), Some("Memory")), "{r}");
    assert_eq!(r["rule_share"].as_f64(), Some(0.75), "{r}");
    assert_eq!(r["rule_accuracy"]["n"].as_u64(), Some(3));
    assert!((r["rule_accuracy"]["llt_at_1"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9, "{r}");
    assert_eq!(r["rule_accuracy"]["pt_at_1"].as_f64(), Some(1.0));
    assert_eq!(r["first_occurrences"]["n"].as_u64(), Some(2), "rows 1 and 3 are first occurrences");
    assert!(files() == db_before, "the replay changed the store");
    // The team's memory (AE-0001) is not used by a replay: it starts from what the stream teaches.
    let text = env.ok(&["eval", s(&stream), "--replay", "--components"]);
    for stage in ["zero-shot", "+ synonyms", "+ memory", "PT@1 per tenth of the stream"] {
        assert!(text.contains(stage), "{text}");
    }
}
