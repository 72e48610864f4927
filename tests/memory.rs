//! The coded-term memory through the binary, with the installed MiniLM: a confirmed decision
//! changes the next proposal for a similar term (with its evidence), a retired synonym is
//! forgotten, and an empty memory proposes exactly as the dense index does.

mod common;
use common::*;
use std::fs;

fn llt_code(name: &str) -> String {
    let text = fs::read_to_string(demo_dir().join("MedAscii/llt.asc")).unwrap();
    text.lines().find(|l| l.split('$').nth(1) == Some(name)).unwrap().split('$').next().unwrap().to_string()
}

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
    assert!(after.contains("like 'pain of right thigh to the knee', AE-0001") && after.contains("memory: 1 confirmed term"), "{after}");
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
