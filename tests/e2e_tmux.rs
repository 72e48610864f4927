//! The real binary in tmux, driven with keys as a coder and then a reviewer would.

mod common;
use common::*;

#[test]
fn code_and_review_the_demo_queue_in_the_terminal() {
    let env = Env::new();
    // Demo dictionary, users and queue.
    env.ok(&["demo", "--print"]);

    // The coder signs in from the list, proposes from the model, from search and from the browser.
    let Some(t) = Tmux::start(&env, "") else { return };
    t.wait_for("Sign in: who are you?");
    t.keys(&["Down", "Enter"]);
    t.wait_for("alice (coder)");
    t.wait_for("model ready");
    t.keys(&["Enter"]);
    t.wait_for("Reported term: pain of right thigh to the knee");
    let s = t.wait_for("Proposals (zero-shot-dense");
    assert!(s.contains("1 Knee pain") && s.contains("Unilateral leg pain"), "{s}");
    t.keys(&["4"]);
    t.wait_for("AE-0001 proposed: Unilateral leg pain");
    t.wait_for("Reported term: headache, mild, intermittent");
    t.keys(&["/"]);
    t.wait_for("Search LLTs for");
    t.text("head pain");
    t.wait_for("Head pain");
    t.keys(&["Enter"]);
    t.wait_for("AE-0002 proposed: Head pain");
    t.wait_for("Reported term: hedache since day 2");
    t.keys(&["b"]);
    t.wait_for("MedDRA hierarchy");
    t.keys(&["g"]);
    let headache = {
        let text = std::fs::read_to_string(demo_dir().join("MedAscii/llt.asc")).unwrap();
        text.lines().find(|l| l.split('$').nth(1) == Some("Headache")).unwrap().split('$').next().unwrap().to_string()
    };
    t.text(&headache);
    t.keys(&["Enter"]);
    t.wait_for("LLT Headache (");
    t.keys(&["Enter"]);
    t.wait_for("AE-0003 proposed: Headache");
    t.keys(&["Escape", "q"]);
    t.wait_exit();
    drop(t);

    // The reviewer confirms the first and returns the second.
    let t = Tmux::start(&env, "--user bob").unwrap();
    t.wait_for("bob (reviewer)");
    t.keys(&["Enter"]);
    let s = t.wait_for("Proposed by alice (model)");
    assert!(s.contains("Unilateral leg pain") || s.contains("Pain in extremity"), "{s}");
    t.keys(&["a"]);
    t.wait_for("AE-0001 confirmed: Unilateral leg pain");
    t.wait_for("Proposed by alice (search)");
    t.keys(&["r"]);
    t.wait_for("Why are you returning this code?");
    t.text("the term is a headache, not head pain");
    t.keys(&["Enter"]);
    t.wait_for("AE-0002 returned to the proposer");
    t.keys(&["Escape", "?"]);
    t.wait_for("choose the state filter");
    t.keys(&["Escape", "q"]);
    t.wait_exit();

    // Quitting the desk anchored the log head outside the database, and the anchor verifies.
    let anchors = std::fs::read_to_string(env.db().with_file_name("medcoder.db.anchors")).unwrap();
    let last: i64 = anchors.lines().last().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(last.to_string(), env.ok(&["audit", "anchor"]).split(' ').next().unwrap(), "{anchors}");
    assert!(env.ok(&["audit", "verify"]).contains("anchored heads"));

    let log = env.ok(&["audit", "log", "--json"]);
    let rows: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let find = |action: &str, id: &str| {
        rows.iter().find(|r| r["action"] == action && r["external_id"] == id).cloned().unwrap_or_else(|| panic!("no {action} of {id} in\n{log}"))
    };
    assert_eq!(find("propose", "AE-0001")["source"], "model");
    assert_eq!(find("propose", "AE-0001")["chosen_rank"], 4);
    assert_eq!(find("propose", "AE-0002")["source"], "search");
    assert_eq!(find("propose", "AE-0003")["source"], "browse");
    assert_eq!(find("confirm", "AE-0001")["user"], "bob");
    assert_eq!(find("return", "AE-0002")["comment"], "the term is a headache, not head pain");
    assert!(find("propose", "AE-0001")["model_version"].as_str().unwrap().starts_with("zero-shot-dense/"));
    assert!(env.ok(&["audit", "verify"]).contains("intact"));
    let export = env.ok(&["export", "--format", "jsonl"]);
    assert_eq!(export.lines().count(), 1, "{export}");
    let row: serde_json::Value = serde_json::from_str(export.lines().next().unwrap()).unwrap();
    assert_eq!((row["item_id"].as_str(), row["llt_name"].as_str(), row["reviewer"].as_str()), (Some("AE-0001"), Some("Unilateral leg pain"), Some("bob")));
}
