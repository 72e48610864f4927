//! SDTM interchange (issue #22): AE and MH datasets as a coding team receives them, in SAS
//! transport v5, Dataset-JSON 1.1, its NDJSON form and CSV with SDTM names, queued as items.

mod common;
use common::*;
use std::fs;

/// The items a queue import made: id, study, subject, term, onset, seriousness.
fn queued(env: &Env) -> Vec<(String, String, String, String, String, String)> {
    let out = env.ok(&["queue", "list", "--json"]);
    let mut rows: Vec<_> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("external_id"), s("study"), s("subject"), s("reported_term"), s("onset_date"), s("seriousness"))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn an_sdtm_dataset_is_queued_one_item_per_record_and_bad_records_are_named() {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.add_users(&[("alice", "coder")]);
    let cols = ["STUDYID", "DOMAIN", "USUBJID", "AESEQ", "AETERM", "AESTDTC", "AESER"].map(|c| format!(r#"{{"name":"{c}","dataType":"string"}}"#)).join(",");
    let file = env.dir.path().join("ae.json");
    fs::write(
        &file,
        format!(
            r#"{{"name":"AE","columns":[{cols}],"rows":[["S1","AE","S1-001",1,"HEADACHE","2026-01-02","N"],["S1","AE","S1-002",1,"dizzy when standing","2026-01-03","Y"],["S1","AE",null,2,"rash","",""],["S1","AE","S1-003",1,"pt c\u001b[2Jo nausea","",""]]}}"#
        ),
    )
    .unwrap();
    let (ok, out, _) = env.run(&["--user", "alice", "queue", "import", s(&file)]);
    assert!(!ok && out.contains("Imported 2 item(s)") && out.contains("1 coded by the exact-name rule"), "{out}");
    assert!(
        out.contains("rejected line 3: record 3: empty id")
            && out.contains("rejected line 4: record 4: the reported term contains the control character U+001B"),
        "{out}"
    );
    let items = queued(&env);
    assert_eq!(items[0], ("S1-001-AE1".into(), "S1".into(), "S1-001".into(), "HEADACHE".into(), "2026-01-02".into(), "N".into()));
    assert_eq!(items[1].5, "Y", "AESER is the item's seriousness: serious events come first in worklists");
    // The same records again are the same items: skipped.
    let (_, out, _) = env.run(&["--user", "alice", "queue", "import", s(&file)]);
    assert!(out.contains("Imported 0 item(s)") && out.contains("skipped line 1: id S1-001-AE1 is already queued"), "{out}");
}

/// The uncoded CDISC AE domain in its three forms gives the same 74 items. Skipped without ../shared.
#[test]
fn the_uncoded_ae_domain_reads_alike_in_xpt_dataset_json_and_ndjson() {
    let Some(shared) = shared_data() else { return };
    let mut seen = Vec::new();
    for f in ["ae.xpt", "ae.json", "ae.ndjson"] {
        let env = Env::new();
        env.ok(&["dict", "import", s(&demo_dir())]);
        env.add_users(&[("alice", "coder")]);
        let out = env.ok(&["--user", "alice", "queue", "import", s(&shared.join("sdtm/cdisc-msg2").join(f))]);
        assert!(out.contains("Imported 74 item(s)"), "{f}: {out}");
        seen.push(queued(&env));
    }
    assert_eq!(seen[0], seen[1], "XPT and Dataset-JSON differ");
    assert_eq!(seen[1], seen[2], "Dataset-JSON and NDJSON differ");
    assert!(seen[0].iter().all(|i| i.1 == "CDISCPILOT01" && i.0.contains("-AE")), "{:?}", &seen[0][..3]);
}
