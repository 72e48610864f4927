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

/// The queue's text filter set to `text` (the prompt opens with the previous filter, `previous`).
fn filter_queue(t: &Tmux, previous: &str, text: &str) {
    t.keys(&["f"]);
    t.wait_for("Filter (id, term or subject)");
    for _ in previous.chars() {
        t.keys(&["BSpace"]);
    }
    t.text(text);
    t.keys(&["Enter"]);
    t.wait_for(&format!("filter: '{text}'"));
}

/// Issue #21 end to end: alice splits a compound verbatim and asks the site to split its record,
/// puts another item on query; the site's corrected verbatim arrives by import and its answer is
/// typed; bob reviews the parts and the corrected item; the queries close; the export has the
/// parts and the history keeps the superseded term.
#[test]
fn split_query_correct_and_review_in_the_terminal() {
    let env = Env::new();
    env.ok(&["demo", "--print"]);
    let Some(t) = Tmux::start(&env, "--user alice --no-model") else { return };
    t.wait_for("alice (coder)");
    // Split "chills and rigors": the prompt starts from the parts the verbatim suggests.
    filter_queue(&t, "", "AE-0031");
    t.keys(&["Enter"]);
    t.wait_for("Reported term: chills and rigors");
    t.keys(&["s"]);
    t.wait_for("chills; rigors");
    t.keys(&["Enter"]);
    // Both parts were coded by the exact-name rule and wait for a reviewer: back to the queue.
    t.wait_for("AE-0031 split into parts");
    filter_queue(&t, "AE-0031", "AE-0031");
    t.wait_for("showing 3");
    t.keys(&["Enter"]);
    let s = t.wait_for("Split into: AE-0031#1 [proposed] chills");
    assert!(s.contains("AE-0031#2 [proposed] rigors"), "{s}");
    // The site is asked to split its record too.
    t.keys(&["u"]);
    t.wait_for("Query note for the site");
    t.text("please record chills and rigors as two events");
    t.keys(&["Enter"]);
    t.wait_for("AE-0031 put on query");
    // Another item on query.
    filter_queue(&t, "AE-0031", "AE-0006");
    t.keys(&["Enter"]);
    t.wait_for("Reported term: pt c/o nausea and feeling sick in the morning");
    t.keys(&["u"]);
    t.wait_for("Query note for the site");
    t.text("nausea only, or vomiting too?");
    t.keys(&["Enter"]);
    t.wait_for("AE-0006 put on query");
    t.keys(&["q"]);
    t.wait_exit();
    drop(t);

    // The site sends AE-0006's corrected verbatim: it answers the query, the exact-name rule codes
    // it, and that closes the query.
    let fix = env.dir.path().join("fix.csv");
    std::fs::write(&fix, "id,study,subject,reported_term\nAE-0006,DEMO-101,S-006,nausea\n").unwrap();
    let out = env.ok(&["--user", "alice", "queue", "import", fix.to_str().unwrap()]);
    assert!(out.contains("reported term corrected from 'pt c/o nausea and feeling sick in the morning' to 'nausea'"), "{out}");
    let list = env.ok(&["query", "list", "--all"]);
    let line = |id: &str| list.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id} missing:\n{list}")).to_string();
    assert!(line("AE-0006").contains("closed") && line("AE-0006").contains("corrected verbatim: nausea"), "{list}");
    assert!(line("AE-0031").contains("open"), "{list}");
    assert_eq!(env.state("AE-0006")["state"], "proposed");

    // alice types the answer the site gave for AE-0031 and closes the query by hand.
    let t = Tmux::start(&env, "--user alice --no-model").unwrap();
    t.wait_for("alice (coder)");
    filter_queue(&t, "", "AE-0031");
    t.keys(&["Enter"]);
    t.wait_for("On query for 0 day(s)");
    t.keys(&["a"]);
    t.wait_for("The site's answer to the query");
    t.text("split in the EDC: two AE records");
    t.keys(&["Enter"]);
    t.wait_for("corrected verbatim, if it sent one");
    t.keys(&["Enter"]);
    t.wait_for("AE-0031 answer recorded");
    filter_queue(&t, "AE-0031", "AE-0031");
    t.keys(&["Enter"]);
    t.wait_for("The site answered: split in the EDC");
    t.keys(&["c"]);
    t.wait_for("Close the query");
    t.keys(&["Enter"]);
    t.wait_for("AE-0031 query closed");
    t.keys(&["q"]);
    t.wait_exit();
    drop(t);
    assert_eq!(env.state("AE-0031")["state"], "split");

    // bob reviews: a part shows the original verbatim beside it.
    let t = Tmux::start(&env, "--user bob --no-model").unwrap();
    t.wait_for("bob (reviewer)");
    filter_queue(&t, "", "AE-0031#1");
    t.keys(&["Enter"]);
    let s = t.wait_for("Part 1 of AE-0031");
    assert!(s.contains("chills and rigors"), "{s}");
    t.keys(&["a"]);
    t.wait_for("AE-0031#1 confirmed");
    filter_queue(&t, "AE-0031#1", "AE-0031#2");
    t.keys(&["Enter"]);
    t.wait_for("Part 2 of AE-0031");
    t.keys(&["a"]);
    t.wait_for("AE-0031#2 confirmed");
    filter_queue(&t, "AE-0031#2", "AE-0006");
    t.keys(&["Enter"]);
    t.wait_for("Reported term: nausea");
    t.keys(&["a"]);
    t.wait_for("AE-0006 confirmed");
    t.keys(&["q"]);
    t.wait_exit();

    // No query is open; the export has one row per part with its source; the history keeps the
    // superseded verbatim.
    assert_eq!(env.ok(&["query", "list"]).trim(), "No queries.");
    let closed = env.ok(&["query", "list", "--all"]);
    assert!(closed.contains("AE-0006") && closed.contains("AE-0031") && closed.contains("closed"), "{closed}");
    let export = env.ok(&["export", "--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = export.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let parts: Vec<_> = rows.iter().filter(|r| r["source_item_id"] == "AE-0031").map(|r| (r["item_id"].clone(), r["part_no"].clone())).collect();
    assert_eq!(parts, [(serde_json::json!("AE-0031#1"), serde_json::json!(1)), (serde_json::json!("AE-0031#2"), serde_json::json!(2))], "{export}");
    assert!(rows.iter().any(|r| r["item_id"] == "AE-0006" && r["reported_term"] == "nausea"), "{export}");
    let shown = env.ok(&["queue", "show", "AE-0006"]);
    assert!(shown.contains("supersede") && shown.contains("was 'pt c/o nausea and feeling sick in the morning'"), "{shown}");
    assert!(env.ok(&["audit", "verify"]).contains("match the log"));
}

/// Issue #24 end to end: with synonym approval on review, bob confirms the rule-coded proposals of
/// the demo in bulk from the queue (one key, one "yes"); each confirmation becomes a candidate;
/// bob cannot approve what he confirmed, carol approves one on the candidates screen, and the log
/// holds one confirm row per item and carol's approval.
#[test]
fn bulk_confirm_and_synonym_approval_in_the_terminal() {
    let env = Env::new();
    env.ok(&["demo", "--print"]);
    env.ok(&["--user", "admin", "settings", "synonym-approval", "review"]);
    let proposed = env.ok(&["queue", "list", "--state", "proposed"]).lines().filter(|l| l.starts_with("AE-")).count();
    assert!(proposed > 5, "the demo's rule codes wait for review");
    let Some(t) = Tmux::start(&env, "--user bob --no-model") else { return };
    t.wait_for("bob (reviewer)");
    t.keys(&["t"]);
    t.wait_for("Show: a all");
    t.keys(&["p"]);
    t.wait_for("state: proposed");
    t.keys(&["B"]);
    t.wait_for("Type yes");
    t.text("yes");
    t.keys(&["Enter"]);
    t.wait_for(&format!("{proposed} item(s) confirmed"));
    t.keys(&["y"]);
    t.wait_for("Synonym candidates (");
    t.keys(&["a"]);
    t.wait_for("four-eye rule");
    t.keys(&["Escape", "q"]);
    t.wait_exit();
    drop(t);

    let candidates = env.ok(&["synonym", "list", "--candidates", "--json"]).lines().count();
    // One candidate per synonym key confirmed (identical terms share one).
    assert!(candidates > 0 && candidates <= proposed, "{candidates} candidates of {proposed} confirmations");
    let t = Tmux::start(&env, "--user carol --no-model").unwrap();
    t.wait_for("carol (reviewer)");
    t.keys(&["y"]);
    t.wait_for(&format!("Synonym candidates ({candidates})"));
    t.keys(&["a"]);
    t.wait_for("Approved the synonym");
    t.wait_for(&format!("Synonym candidates ({})", candidates - 1));
    t.keys(&["Escape", "q"]);
    t.wait_exit();

    let log = env.ok(&["audit", "log", "--json"]);
    let rows: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.iter().filter(|r| r["action"] == "confirm" && r["user"] == "bob").count(), proposed);
    assert_eq!(rows.iter().filter(|r| r["action"] == "synonym-approve" && r["user"] == "carol").count(), 1);
    assert!(env.ok(&["audit", "verify"]).contains("intact"));
}
