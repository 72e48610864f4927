//! One store API, two backends: the same coding scenario through `DeskStore` on SQLite and on a
//! team database must give the same outcomes (states, refusals, groups, learning). The PostgreSQL
//! half needs the server `scripts/test` starts and is skipped with a message without it.

mod common;

use std::process::Command;

use medcoder::intake::labelled::Labelled;
use medcoder::intake::queue::{NewItem, Report};
use medcoder::meddra::Dictionary;
use medcoder::store::api::DeskStore;
use medcoder::store::item::{ItemFilter, State};
use medcoder::store::proposals::{Proposal, ProposalSet};
use medcoder::store::users::Role;
use medcoder::store::workflow::{Action, Source};
use medcoder::store::Store;

const PW: &str = "correct horse battery";

/// The people of the scenario: a coder and two reviewers.
const CODER: &str = "cody";
const REVIEWER: &str = "rita";
const OTHER_REVIEWER: &str = "rob";

/// A store opened as one of the scenario's people, and how to queue items.
trait Backend {
    fn name(&self) -> String;
    fn user(&self, who: &str) -> String;
    fn open(&self, who: &str) -> Box<dyn DeskStore>;
    fn import(&self, rows: &[(&str, &str)]);
    /// Stores proposals as `who` (the proposal service's or an admin's work).
    fn store_proposals(&self, who: &str, sets: &[(i64, ProposalSet)]);
}

/// Queue rows from (id, term); an id written `STUDY:ID` puts the item in that study, else in S.
fn items(rows: &[(&str, &str)]) -> Vec<NewItem> {
    rows.iter()
        .enumerate()
        .map(|(i, (id, term))| {
            let (study, id) = id.split_once(':').unwrap_or(("S", id));
            NewItem {
                line: i + 2,
                report: Report { external_id: id.to_string(), study: study.into(), subject: "1".into(), reported_term: term.to_string(), ..Default::default() },
            }
        })
        .collect()
}

struct Sqlite {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Sqlite {
    fn new() -> Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut s = Store::open(&path).unwrap();
        let (rel, _) = medcoder::meddra::Release::read(std::path::Path::new("assets/demo/MedAscii")).unwrap();
        s.import_release(None, &rel, "demo", false, true).unwrap();
        // The admin is this OS login's user: the one whose runs of the model store proposals.
        let login = medcoder::identity::os_login().unwrap();
        s.add_user_with_login(None, "ann", Role::Admin, Some(&login)).unwrap();
        s.add_user(Some("ann"), CODER, Role::Coder).unwrap();
        s.add_user(Some("ann"), REVIEWER, Role::Reviewer).unwrap();
        s.add_user(Some("ann"), OTHER_REVIEWER, Role::Reviewer).unwrap();
        Sqlite { _dir: dir, path }
    }
}

impl Backend for Sqlite {
    fn name(&self) -> String {
        "SQLite".into()
    }
    fn user(&self, who: &str) -> String {
        who.to_string()
    }
    fn open(&self, _who: &str) -> Box<dyn DeskStore> {
        Box::new(Store::open(&self.path).unwrap())
    }
    fn import(&self, rows: &[(&str, &str)]) {
        Store::open(&self.path).unwrap().import_items(CODER, &items(rows), "q.csv").unwrap();
    }
    fn store_proposals(&self, _who: &str, sets: &[(i64, ProposalSet)]) {
        Store::open(&self.path).unwrap().set_proposals(sets).unwrap();
    }
}

struct Postgres {
    db: String,
    socket: String,
    port: String,
}

impl Postgres {
    /// A new team database named `prefix` and the process id (tests of one binary run at once).
    fn new(prefix: &str) -> Option<Postgres> {
        let (Ok(socket), Ok(port)) = (std::env::var("MEDCODER_TEST_PG_SOCKET"), std::env::var("MEDCODER_TEST_PG_PORT")) else {
            eprintln!("skipped the PostgreSQL half: no test PostgreSQL (scripts/test starts one)");
            return None;
        };
        let p = Postgres { db: format!("{prefix}{}", std::process::id()), socket, port };
        let admin = format!("postgresql://postgres@/{}?host={}&port={}", p.db, p.socket, p.port);
        p.cli(&admin, &["team", "init"], None);
        for (who, role) in [("ann", "admin"), (CODER, "coder"), (REVIEWER, "reviewer"), (OTHER_REVIEWER, "reviewer")] {
            p.cli(&admin, &["team", "user", "add", &p.user(who), "--role", role, "--set-password"], Some(PW));
        }
        p.cli(&p.url("ann"), &["dict", "import", "assets/demo/MedAscii"], Some(PW));
        Some(p)
    }

    fn url(&self, who: &str) -> String {
        format!("postgresql://{}@127.0.0.1:{}/{}", self.user(who), self.port, self.db)
    }

    fn cli(&self, url: &str, args: &[&str], password: Option<&str>) {
        use std::io::Write;
        let mut c = Command::new(env!("CARGO_BIN_EXE_medcoder"));
        c.arg("--db").arg(url).arg("--password-stdin").args(args).env_remove("MEDCODER_USER").env_remove("MEDCODER_DB");
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let pw = password.unwrap_or("");
        child.stdin.take().unwrap().write_all(format!("{pw}\n{pw}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "medcoder {args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

impl Backend for Postgres {
    fn name(&self) -> String {
        "PostgreSQL".into()
    }
    // Role names are cluster-wide.
    fn user(&self, who: &str) -> String {
        format!("{}_{who}", self.db)
    }
    fn open(&self, who: &str) -> Box<dyn DeskStore> {
        Box::new(medcoder::store::postgres::TeamDesk::open(&self.url(who), &mut |_| Ok(PW.to_string())).unwrap())
    }
    fn import(&self, rows: &[(&str, &str)]) {
        let mut s = medcoder::store::postgres::TeamStore::open(&self.url(CODER), &mut |_| Ok(PW.to_string())).unwrap();
        s.import_items(&items(rows), "q.csv", None).unwrap();
    }
    fn store_proposals(&self, who: &str, sets: &[(i64, ProposalSet)]) {
        use medcoder::store::ProposalStore;
        let mut s = medcoder::store::postgres::TeamStore::open(&self.url(who), &mut |_| Ok(PW.to_string())).unwrap();
        s.store_proposals(sets).unwrap();
    }
}

/// What the scenario observed, compared across backends.
#[derive(Debug, PartialEq)]
struct Outcome {
    states: Vec<(String, State)>,
    refusals: Vec<(String, bool)>,
    groups: Vec<(String, i64, i64)>,
    filtered: Vec<String>,
    synonym: Option<u32>,
    autocoded: Option<(State, Option<String>)>,
}

fn scenario(b: &dyn Backend) -> Outcome {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let llt = dict.llts.iter().find(|l| l.current).unwrap().code;
    b.import(&[("A1", "my head hurts a lot"), ("A2", "tummy upset"), ("A3", "tingly fingers"), ("A4", "Tingly fingers.")]);
    let (coder, reviewer, other) = (b.user(CODER), b.user(REVIEWER), b.user(OTHER_REVIEWER));
    let mut refusals = Vec::new();
    let mut attempt = |what: &str, store: &mut dyn DeskStore, user: &str, id: &str, rev: i64, action: Action, why: &str| {
        let r = store.act(&dict, user, id, Some(rev), action);
        let refused = match &r {
            Err(e) => {
                assert!(store.is_refusal(e), "{}: {what}: not a refusal: {e:#}", b.name());
                assert!(format!("{e}").contains(why), "{}: {what}: {e}", b.name());
                true
            }
            Ok(_) => false,
        };
        refusals.push((what.to_string(), refused));
    };
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let mut o = b.open(OTHER_REVIEWER);
    c.act(&dict, &coder, "A1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    attempt("coder confirms", c.as_mut(), &coder, "A1", 1, Action::Confirm, "only reviewers and admins confirm");
    attempt("stale confirm", o.as_mut(), &other, "A1", 0, Action::Confirm, "after you read it");
    attempt("confirm", o.as_mut(), &other, "A1", 1, Action::Confirm, "");
    r.act(&dict, &reviewer, "A2", Some(0), Action::Propose { llt, source: Source::Manual }).unwrap();
    attempt("own confirm", r.as_mut(), &reviewer, "A2", 1, Action::Confirm, "four-eye rule");
    attempt("empty return", o.as_mut(), &other, "A2", 1, Action::Return { comment: " ".into() }, "needs a comment");
    let seen = c.items_of_term("tingly fingers", &[State::New, State::Returned]).unwrap();
    let proposed = c.propose_group(&dict, &coder, &seen, llt, Source::Search).unwrap();
    assert_eq!(proposed.done.len(), 2, "{}", b.name());
    let seen = r.items_of_term("TINGLY FINGERS", &[State::Proposed]).unwrap();
    let confirmed = r.confirm_group(&dict, &reviewer, &seen, llt).unwrap();
    assert_eq!(confirmed.done.len(), 2, "{}", b.name());
    // The confirmations taught the store: an identical new term is coded by the synonym rule.
    b.import(&[("A5", "tingly, fingers")]);
    let a5 = c.item("A5").unwrap();
    let version = dict.version.clone();
    Outcome {
        states: ["A1", "A2", "A3", "A4"].iter().map(|id| (id.to_string(), c.item(id).unwrap().state)).collect(),
        refusals,
        groups: c.term_groups(&ItemFilter::default()).unwrap().into_iter().map(|g| (g.term, g.items, g.confirmed)).collect(),
        filtered: c
            .queue_rows(&ItemFilter { states: vec![State::Confirmed], text: Some("FINGERS".into()), ..Default::default() }, &version)
            .unwrap()
            .into_iter()
            .map(|(s, _)| s.external_id)
            .collect(),
        synonym: c.synonym("", "Tingly fingers", &version).unwrap().map(|s| s.llt_code),
        autocoded: Some((a5.state, a5.proposer)),
    }
}

#[test]
fn the_same_scenario_gives_the_same_outcome_on_both_backends() {
    let sqlite = scenario(&Sqlite::new());
    assert_eq!(sqlite.states.iter().map(|(_, s)| *s).collect::<Vec<_>>(), [State::Confirmed, State::Proposed, State::Confirmed, State::Confirmed]);
    assert_eq!(sqlite.autocoded, Some((State::Proposed, Some("autocoder".into()))));
    assert_eq!(sqlite.filtered, ["A3", "A4"]);
    let Some(pg) = Postgres::new("c") else { return };
    assert_eq!(scenario(&pg), sqlite);
}

/// Identical terms are grouped, learned and autocoded by the database's `normalize_term` in team
/// mode and by `text::normalize` on SQLite: both must read every term alike.
#[test]
fn both_backends_normalise_terms_alike() {
    let (Ok(socket), Ok(port)) = (std::env::var("MEDCODER_TEST_PG_SOCKET"), std::env::var("MEDCODER_TEST_PG_PORT")) else {
        eprintln!("skipped: no test PostgreSQL (scripts/test starts one)");
        return;
    };
    let p = Postgres { db: format!("n{}", std::process::id()), socket, port };
    let admin = format!("postgresql://postgres@/{}?host={}&port={}", p.db, p.socket, p.port);
    p.cli(&admin, &["team", "init"], None);
    let mut c = postgres::Config::new().host_path(&p.socket).port(p.port.parse().unwrap()).user("postgres").dbname(&p.db).connect(postgres::NoTls).unwrap();
    let terms = [
        "Head-ache!!  severe",
        "Neutropenia grade ⁴",
        "platelets 50x10⁹/L",
        "½ dose nausea",
        "Fièvre — sévère",
        "ÉRUPTION cutanée",
        "ℌeadache ①",
        "pain 3° burn",
        "douleur\u{301} à la tête",
        "Ⅳ nerve palsy",
        "腹痛 と 嘔吐",
        "tummy_upset/n&v",
    ];
    for t in terms {
        let db: String = c.query_one("SELECT medcoder.normalize_term($1)", &[&t]).unwrap().get(0);
        assert_eq!(db, medcoder::text::normalize(t), "{t:?}");
    }
}

/// What an attack on the trust rules found (issue #19), through the one API on both backends.
#[derive(Debug, PartialEq)]
struct TrustOutcome {
    confirmed: Vec<String>,
    left_out: Vec<String>,
    g2: (State, Option<u32>),
    refused: Vec<(String, bool)>,
}

fn trust_scenario(b: &dyn Backend) -> TrustOutcome {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let mut current = dict.llts.iter().filter(|l| l.current);
    let (first, second) = (current.next().unwrap().code, current.next().unwrap().code);
    b.import(&[("G1", "sore knee left"), ("G2", "Sore knee, left"), ("M1", "itchy scalp")]);
    let (coder, reviewer) = (b.user(CODER), b.user(REVIEWER));
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let seen = c.items_of_term("sore knee left", &[State::New, State::Returned]).unwrap();
    assert_eq!(c.propose_group(&dict, &coder, &seen, first, Source::Search).unwrap().done.len(), 2, "{}", b.name());
    // The reviewer opens the group (what is on screen: both items with `first`) ...
    let on_screen = r.items_of_term("sore knee left", &[State::Proposed]).unwrap();
    // ... the coder re-proposes one of them with another code meanwhile ...
    let g2 = c.item("G2").unwrap();
    c.act(&dict, &coder, "G2", Some(g2.revision), Action::Propose { llt: second, source: Source::Search }).unwrap();
    // ... and the reviewer's confirmation signs only what they saw.
    let out = r.confirm_group(&dict, &reviewer, &on_screen, first).unwrap();
    for (id, why) in &out.skipped {
        assert!(why.contains("after you read it"), "{}: {id}: {why}", b.name());
    }
    let g2 = c.item("G2").unwrap();
    let mut refused = Vec::new();
    let m1 = c.item("M1").unwrap();
    for (what, action) in [
        ("model source without proposals", Action::Propose { llt: first, source: Source::Model }),
        ("escape in a query note", Action::Query { note: "call site \u{1b}[2J".into() }),
        ("Arabic letter mark in a query note", Action::Query { note: "call\u{61c} site".into() }),
        ("zero-width space in a query note", Action::Query { note: "call\u{200b} site".into() }),
    ] {
        let e = c.act(&dict, &coder, "M1", Some(m1.revision), action).err();
        if let Some(e) = &e {
            assert!(c.is_refusal(e), "{}: {what}: not a refusal: {e:#}", b.name());
            let text = format!("{e}");
            assert!(text.contains("stored proposals") || text.contains("control or format character"), "{}: {what}: {text}", b.name());
        }
        refused.push((what.to_string(), e.is_some()));
    }
    TrustOutcome {
        confirmed: out.done.iter().map(|i| i.external_id.clone()).collect(),
        left_out: out.skipped.iter().map(|(id, _)| id.clone()).collect(),
        g2: (g2.state, g2.llt_code),
        refused,
    }
}

#[test]
fn a_confirmation_signs_only_what_the_reviewer_saw_on_both_backends() {
    let sqlite = trust_scenario(&Sqlite::new());
    assert_eq!((sqlite.confirmed.as_slice(), sqlite.left_out.as_slice()), (&["G1".to_string()][..], &["G2".to_string()][..]));
    assert_eq!(sqlite.g2.0, State::Proposed, "G2 was changed after the reviewer saw it: never confirmed");
    assert!(sqlite.refused.iter().all(|(_, r)| *r), "{:?}", sqlite.refused);
    let Some(pg) = Postgres::new("g") else { return };
    assert_eq!(trust_scenario(&pg), sqlite);
}

/// What the item lifecycle did (issue #21), through the one API on both backends: every state,
/// revision and code, every attempt's outcome, each item's log actions.
/// An item as the lifecycle left it: id, state, revision, LLT, reported term, the item it is a part of.
type ItemEnd = (String, State, i64, Option<u32>, String, Option<String>);

#[derive(Debug, PartialEq)]
struct LifecycleOutcome {
    items: Vec<ItemEnd>,
    attempts: Vec<(String, bool)>,
    actions: Vec<(String, Vec<String>)>,
}

fn lifecycle_scenario(b: &dyn Backend) -> LifecycleOutcome {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let code = |name: &str| dict.llts.iter().find(|l| l.name == name).unwrap().code;
    b.import(&[("L1", "nausea and vomiting"), ("L2", "head hurts"), ("L3", "odd rash"), ("L4", "bad tummy"), ("L5", "dizzy and sick"), ("L6", "funny turn")]);
    let (coder, reviewer) = (b.user(CODER), b.user(REVIEWER));
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let mut attempts = Vec::new();
    // Each attempt names the item, quotes the revision it reads now, and records whether the
    // store let it through; `ok` says which outcome the rules demand.
    let mut attempt = |what: &str, store: &mut dyn DeskStore, user: &str, id: &str, action: Action, ok: bool| {
        let rev = store.item(id).unwrap().revision;
        let done = store.act(&dict, user, id, Some(rev), action);
        match &done {
            Err(e) => assert!(!ok && store.is_refusal(e), "{}: {what}: {e:#}", b.name()),
            Ok(it) => assert!(ok, "{}: {what} was let through: {it:?}", b.name()),
        }
        attempts.push((what.to_string(), done.is_ok()));
    };
    let answer = |text: &str, term: Option<&str>| Action::Answer { text: text.into(), term: term.map(String::from) };
    let split = |parts: &[&str]| Action::Split { parts: parts.iter().map(|p| p.to_string()).collect() };
    // Queries: open -> answered -> closed by coding; every other transition refused.
    attempt("answer without a query", c.as_mut(), &coder, "L2", answer("left side", None), false);
    attempt("close without a query", c.as_mut(), &coder, "L2", Action::CloseQuery { note: None }, false);
    attempt("query", c.as_mut(), &coder, "L2", Action::Query { note: "where does it hurt?".into() }, true);
    attempt("query twice", c.as_mut(), &coder, "L2", Action::Query { note: "again?".into() }, false);
    attempt("empty answer", c.as_mut(), &coder, "L2", answer("  ", None), false);
    attempt("answer with a corrected verbatim", c.as_mut(), &coder, "L2", answer("the temples", Some("headache")), true);
    attempt("answer twice", c.as_mut(), &coder, "L2", answer("again", None), false);
    attempt("code after the answer", c.as_mut(), &coder, "L2", Action::Propose { llt: code("Headache"), source: Source::Search }, true);
    attempt("close a coded query", c.as_mut(), &coder, "L2", Action::CloseQuery { note: None }, false);
    // A query closed by hand goes back to where the item stood.
    attempt("query a new item", c.as_mut(), &coder, "L4", Action::Query { note: "which part of the belly?".into() }, true);
    attempt("close by hand", c.as_mut(), &coder, "L4", Action::CloseQuery { note: Some("site did not answer in time".into()) }, true);
    // A follow-up query closes back to where the first one was raised (the code kept).
    attempt("propose before a query", c.as_mut(), &coder, "L6", Action::Propose { llt: code("Dizziness"), source: Source::Search }, true);
    attempt("query a proposal", c.as_mut(), &coder, "L6", Action::Query { note: "dizzy or faint?".into() }, true);
    attempt("answer it", c.as_mut(), &coder, "L6", answer("dizzy", None), true);
    attempt("follow-up query", c.as_mut(), &coder, "L6", Action::Query { note: "since when?".into() }, true);
    attempt("close the follow-up", c.as_mut(), &coder, "L6", Action::CloseQuery { note: None }, true);
    // A part a reviewer wrote is coded by the rule as their choice: they never confirm it.
    attempt("a reviewer splits", r.as_mut(), &reviewer, "L5", split(&["Dizziness", "Nausea"]), true);
    attempt("the splitter confirms a rule-coded part", r.as_mut(), &reviewer, "L5#1", Action::Confirm, false);
    attempt("another confirms it", b.open(OTHER_REVIEWER).as_mut(), &b.user(OTHER_REVIEWER), "L5#1", Action::Confirm, true);
    // Withdraw: only one's own proposal before review.
    attempt("propose", c.as_mut(), &coder, "L3", Action::Propose { llt: code("Rash"), source: Source::Search }, true);
    attempt("withdraw another's proposal", r.as_mut(), &reviewer, "L3", Action::Withdraw, false);
    attempt("withdraw", c.as_mut(), &coder, "L3", Action::Withdraw, true);
    attempt("withdraw twice", c.as_mut(), &coder, "L3", Action::Withdraw, false);
    // Splits: two or more distinct parts, never the whole again; a split item holds no code.
    attempt("split into one part", c.as_mut(), &coder, "L1", split(&["nausea"]), false);
    attempt("split with the whole verbatim", c.as_mut(), &coder, "L1", split(&["nausea", "Nausea and vomiting."]), false);
    attempt("split with a repeated part", c.as_mut(), &coder, "L1", split(&["nausea", "NAUSEA"]), false);
    attempt("split with a control character", c.as_mut(), &coder, "L1", split(&["nausea", "vomit\u{1b}[2J"]), false);
    attempt("split", c.as_mut(), &coder, "L1", split(&["nausea", "vomiting"]), true);
    attempt("split twice", c.as_mut(), &coder, "L1", split(&["nausea", "emesis"]), false);
    attempt("code a split item", c.as_mut(), &coder, "L1", Action::Propose { llt: code("Nausea"), source: Source::Search }, false);
    attempt("coder returns a split", c.as_mut(), &coder, "L1", Action::Return { comment: "no".into() }, false);
    attempt("confirm a part", b.open(OTHER_REVIEWER).as_mut(), &b.user(OTHER_REVIEWER), "L1#1", Action::Confirm, true);
    attempt("return the split with a confirmed part", r.as_mut(), &reviewer, "L1", Action::Return { comment: "one event".into() }, false);
    attempt(
        "recode the confirmed part away",
        c.as_mut(),
        &coder,
        "L1#1",
        Action::Recode { llt: code("Vomiting"), source: Source::Search, comment: None },
        true,
    );
    attempt("return the split", r.as_mut(), &reviewer, "L1", Action::Return { comment: "one event: nausea with vomiting".into() }, true);
    attempt("code a void part", c.as_mut(), &coder, "L1#2", Action::Propose { llt: code("Vomiting"), source: Source::Search }, false);
    attempt("split again", c.as_mut(), &coder, "L1", split(&["nausea", "vomiting", "retching"]), true);
    // A part split in turn keeps its own codes: the split above it is not returned over it.
    attempt("split a part", c.as_mut(), &coder, "L1#5", split(&["dry heaves", "gagging"]), true);
    attempt("return a split whose part is split", r.as_mut(), &reviewer, "L1", Action::Return { comment: "one event".into() }, false);
    // A corrected verbatim by import: a new revision, the code gone, coded afresh by the rules.
    attempt("confirm", r.as_mut(), &reviewer, "L2", Action::Confirm, true);
    // A recode is never withdrawn, not even under a re-proposal of one's own.
    attempt("recode", c.as_mut(), &coder, "L2", Action::Recode { llt: code("Head pain"), source: Source::Search, comment: None }, true);
    attempt("re-propose over the recode", c.as_mut(), &coder, "L2", Action::Propose { llt: code("Headache"), source: Source::Search }, true);
    attempt("withdraw over a recode", c.as_mut(), &coder, "L2", Action::Withdraw, false);
    b.import(&[("L2", "Migraine"), ("L1", "nausea")]);
    let mut ids: Vec<String> = c.items(&ItemFilter::default()).unwrap().into_iter().map(|i| i.external_id.clone()).collect();
    ids.sort();
    let items = ids
        .iter()
        .map(|id| {
            let it = c.item(id).unwrap();
            (id.clone(), it.state, it.revision, it.llt_code, it.reported_term.clone(), it.part_of.clone())
        })
        .collect();
    let actions = ids.iter().map(|id| (id.clone(), c.log_entries(Some(id)).unwrap().into_iter().map(|e| e.entry.action).collect())).collect();
    // Worklists: admins assign; review only to reviewers; due dates are real days.
    let admin = b.user("ann");
    let mut a = b.open("ann");
    assert!(c.assign(&coder, medcoder::store::worklist::Scope::Study, "S", medcoder::store::worklist::Duty::Code, Some(&coder)).is_err(), "{}", b.name());
    assert!(a.assign(&admin, medcoder::store::worklist::Scope::Study, "S", medcoder::store::worklist::Duty::Review, Some(&coder)).is_err(), "{}", b.name());
    assert!(a.assign(&admin, medcoder::store::worklist::Scope::Item, "NOPE", medcoder::store::worklist::Duty::Code, Some(&coder)).is_err(), "{}", b.name());
    a.assign(&admin, medcoder::store::worklist::Scope::Term, "Odd  Rash!", medcoder::store::worklist::Duty::Code, Some(&coder)).unwrap();
    assert!(a.set_due_date(&admin, "S", Some("2026-02-30")).is_err(), "{}", b.name());
    a.set_due_date(&admin, "S", Some("2026-02-28")).unwrap();
    let list = c.assignments().unwrap();
    assert_eq!(list.iter().map(|x| (x.key.as_str(), x.duty.as_str())).collect::<Vec<_>>(), [("odd rash", "code")], "{}", b.name());
    assert_eq!(c.due_dates().unwrap(), [("S".to_string(), "2026-02-28".to_string())], "{}", b.name());
    let audit = c.audit(None).unwrap();
    assert!(audit.findings.is_empty(), "{}: the log and the tables disagree: {:?}", b.name(), audit.findings);
    LifecycleOutcome { items, attempts, actions }
}

#[test]
fn the_item_lifecycle_follows_the_same_rules_on_both_backends() {
    let sqlite = lifecycle_scenario(&Sqlite::new());
    let state = |id: &str| sqlite.items.iter().find(|i| i.0 == id).unwrap().clone();
    assert_eq!(state("L2").1, State::Proposed, "the corrected verbatim is coded afresh by the rule (Migraine)");
    assert_eq!(state("L2").4, "Migraine");
    assert_eq!(state("L1").1, State::Split, "{:?}", sqlite.items);
    assert_eq!(state("L1#2").1, State::Void);
    assert_eq!(state("L1#5").5.as_deref(), Some("L1"));
    assert_eq!((state("L3").1, state("L3").3), (State::New, None), "withdrawn");
    assert_eq!(state("L4").1, State::New, "closed by hand: back to new");
    assert_eq!((state("L6").1, state("L6").3.is_some()), (State::Proposed, true), "a follow-up query closes to before the first");
    assert_eq!(state("L5").1, State::Split);
    let Some(pg) = Postgres::new("y") else { return };
    assert_eq!(lifecycle_scenario(&pg), sqlite);
}

/// What model-first coding did: the validated threshold, each new item's state, proposer and
/// source, and who may confirm a model-first code.
#[derive(Debug, PartialEq)]
struct ModelFirstOutcome {
    threshold: Option<(String, usize, usize)>,
    items: Vec<(String, State, Option<String>, Option<String>)>,
    attempts: Vec<(String, bool)>,
    refused_settings: Vec<bool>,
}

fn proposals(top: u32, pt: u32, confidence: f64, pt_confidence: f64) -> ProposalSet {
    let mut p = Proposal::plain(top, pt, 2.0, confidence);
    p.pt_confidence = Some(pt_confidence);
    ProposalSet {
        model_version: "m1".into(),
        meddra_version: String::new(),
        entropy: Some(0.5),
        proposals: vec![p],
        computed_at: "2026-12-02T00:00:00Z".into(),
    }
}

/// Model-first coding (issue #23) on both backends: 60 confirmed items proposed at PT confidence
/// 0.99, all right, validate the threshold 0.99 (52 of 52 is the fewest that can show 95%); a new
/// item above it is proposed by the model and waits for a reviewer, one below it or on the
/// do-not-autocode list is not; the admin whose run stored the proposals cannot confirm it.
fn model_first_scenario(b: &dyn Backend) -> ModelFirstOutcome {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let l = dict.llts.iter().find(|l| l.current).unwrap();
    let (llt, pt) = (l.code, l.pt_code);
    let with_version = |mut set: ProposalSet| {
        set.meddra_version = dict.version.clone();
        set
    };
    let rows: Vec<(String, String)> = (0..60).map(|i| (format!("P{i}"), format!("odd complaint number {i}"))).collect();
    b.import(&rows.iter().map(|(a, t)| (a.as_str(), t.as_str())).collect::<Vec<_>>());
    let (coder, reviewer, admin) = (b.user(CODER), b.user(REVIEWER), b.user("ann"));
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let mut a = b.open("ann");
    let ids: Vec<(i64, ProposalSet)> = rows.iter().map(|(id, _)| (c.item(id).unwrap().id, with_version(proposals(llt, pt, 0.6, 0.99)))).collect();
    b.store_proposals("ann", &ids);
    for (id, _) in &rows {
        c.act(&dict, &coder, id, Some(0), Action::Propose { llt, source: Source::Model }).unwrap();
        r.act(&dict, &reviewer, id, Some(1), Action::Confirm).unwrap();
    }
    // Nothing is coded by the model while the setting is off.
    b.import(&[("N0", "another odd complaint")]);
    b.store_proposals("ann", &[(c.item("N0").unwrap().id, with_version(proposals(llt, pt, 0.6, 0.995)))]);
    let mut refused_settings = Vec::new();
    for (key, value) in [("model_first", "maybe"), ("model_first_target", "100"), ("model_first_exclude", "[\"bogus\"]")] {
        refused_settings.push(a.set_setting(&admin, key, value).is_err());
    }
    a.set_setting(&admin, "model_first", "on").unwrap();
    // The list keeps a term from the model and an LLT's own name from the exact-name rule.
    let named = dict.llts.iter().find(|x| x.current && x.code != llt).unwrap();
    let exclude = format!("[\"term:excluded odd complaint\", \"llt:{}\"]", named.code);
    a.set_setting(&admin, "model_first_exclude", &exclude).unwrap();
    let v = a.validation().unwrap();
    b.import(&[("N1", "new odd complaint"), ("N2", "unsure odd complaint"), ("N3", "Excluded odd complaint"), ("N4", "odd complaint of another model")]);
    b.import(&[("N5", named.name.as_str()), ("W1", "odd complaint withdrawn")]);
    // A coder proposed W1 and withdrew it: a person has seen it, so it is no longer the model's.
    c.act(&dict, &coder, "W1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    c.act(&dict, &coder, "W1", Some(1), Action::Withdraw).unwrap();
    let mut sets: Vec<(i64, ProposalSet)> = [("N1", 0.995), ("N2", 0.5), ("N3", 0.995), ("W1", 0.995)]
        .iter()
        .map(|(id, conf)| (c.item(id).unwrap().id, with_version(proposals(llt, pt, 0.6, *conf))))
        .collect();
    // Another model has validated nothing yet.
    let mut other = with_version(proposals(llt, pt, 0.6, 0.995));
    other.model_version = "m2".into();
    sets.push((c.item("N4").unwrap().id, other));
    b.store_proposals("ann", &sets);
    let mut attempts = Vec::new();
    let n1 = c.item("N1").unwrap();
    let e = a.act(&dict, &admin, "N1", Some(n1.revision), Action::Confirm).err();
    if let Some(e) = &e {
        assert!(format!("{e}").contains("four-eye rule"), "{}: {e}", b.name());
    }
    attempts.push(("the admin who ran the model confirms".to_string(), e.is_some()));
    attempts.push(("a reviewer confirms".to_string(), r.act(&dict, &reviewer, "N1", Some(n1.revision), Action::Confirm).is_err()));
    let cases = c.backtest_cases(None).unwrap();
    let n1_route = cases.last().map(|c| c.route.name().to_string()).unwrap_or_default();
    attempts.push((format!("back-test route {n1_route}"), false));
    ModelFirstOutcome {
        threshold: v.threshold.map(|t| (format!("{:.3}", t.threshold), t.n, t.right)),
        items: ["N0", "N1", "N2", "N3", "N4", "N5", "W1"]
            .iter()
            .map(|id| {
                let it = c.item(id).unwrap();
                (id.to_string(), it.state, it.proposer, it.source)
            })
            .collect(),
        attempts,
        refused_settings,
    }
}

#[test]
fn model_first_coding_follows_the_same_rules_on_both_backends() {
    let sqlite = model_first_scenario(&Sqlite::new());
    assert_eq!(sqlite.threshold, Some(("0.990".to_string(), 60, 60)));
    let state = |id: &str| sqlite.items.iter().find(|i| i.0 == id).unwrap().clone();
    assert_eq!(state("N0").1, State::New, "model-first is off by default");
    assert_eq!(state("N1"), ("N1".into(), State::Confirmed, Some("model m1".into()), Some("model-first".into())));
    assert_eq!(state("N2").1, State::New, "below the threshold: a person codes it");
    assert_eq!(state("N3").1, State::New, "on the do-not-autocode list");
    assert_eq!(state("N4").1, State::New, "the threshold is each model's own");
    assert_eq!(state("N5").1, State::New, "the list stops the exact-name rule too");
    assert_eq!(state("W1").1, State::New, "a person withdrew a code of it: not untouched");
    assert_eq!(sqlite.attempts[0], ("the admin who ran the model confirms".to_string(), true));
    assert!(!sqlite.attempts[1].1, "a reviewer confirms it");
    assert_eq!(sqlite.attempts[2].0, "back-test route model-first, reviewed");
    assert_eq!(sqlite.refused_settings, [true, true, true]);
    let Some(pg) = Postgres::new("f") else { return };
    assert_eq!(model_first_scenario(&pg), sqlite);
}

/// What synonym governance (issue #24) did on one backend.
#[derive(Debug, PartialEq)]
struct GovernanceOutcome {
    keys: Vec<String>,
    /// (what was tried, refused?)
    attempts: Vec<(String, bool)>,
    /// (item, state, source)
    items: Vec<(String, State, Option<String>)>,
    /// (term, approval, held?, decided by the other reviewer?)
    synonyms: Vec<(String, String, bool, bool)>,
    /// (confirmed, left out) by the bulk confirmation
    bulk: (Vec<String>, Vec<String>),
    rekeyed: (usize, usize, usize),
    audit_findings: Vec<String>,
}

/// Synonym governance on both backends: the synonym key drops qualifiers; under synonym
/// approval = review a confirmation makes a candidate that neither its proposer nor its reviewer
/// may approve, and only an approved one autocodes; a declined one never does; a bulk
/// confirmation confirms each covered item on its own and leaves the reviewer's own proposals out.
fn governance_scenario(b: &dyn Backend) -> GovernanceOutcome {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let l = dict.llts.iter().find(|l| l.current).unwrap();
    let llt = l.code;
    let other_llt = dict.llts.iter().find(|x| x.current && x.code != llt).unwrap().code;
    let (coder, reviewer, other, admin) = (b.user(CODER), b.user(REVIEWER), b.user(OTHER_REVIEWER), b.user("ann"));
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let mut o = b.open(OTHER_REVIEWER);
    let mut a = b.open("ann");
    let keys = ["Headache MILD", "grade 3 nausea", "vomiting x3", "Itching all over the body", "pain LEFT knee", "severe", "dry mouth at night"]
        .iter()
        .map(|t| a.synonym_key(t).unwrap())
        .collect();
    let mut attempts = Vec::new();
    attempts.push(("approval 'maybe'".to_string(), a.set_setting(&admin, "synonym_approval", "maybe").is_err()));
    attempts.push(("qualifiers as a plain setting".to_string(), a.set_setting(&admin, "synonym_qualifiers", "[]").is_err()));
    attempts.push(("a coder sets approval".to_string(), c.set_setting(&coder, "synonym_approval", "immediate").is_err()));
    a.set_setting(&admin, "synonym_approval", "review").unwrap();
    b.import(&[("G1", "odd ache mild"), ("G2", "odd ache, severe"), ("G3", "Odd ache"), ("H1", "strange itch")]);
    c.act(&dict, &coder, "G1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "G1", Some(1), Action::Confirm).unwrap();
    c.act(&dict, &coder, "H1", Some(0), Action::Propose { llt: other_llt, source: Source::Search }).unwrap();
    o.act(&dict, &other, "H1", Some(1), Action::Confirm).unwrap();
    let g2_before = c.item("G2").unwrap().state;
    attempts.push((format!("G2 waits for the candidate's approval: {g2_before:?}"), false));
    attempts.push(("the coder approves".to_string(), c.decide_synonym(&coder, &dict, "", "odd ache", None).is_err()));
    let e = r.decide_synonym(&reviewer, &dict, "", "ODD ACHE mild", None).err();
    if let Some(e) = &e {
        assert!(format!("{e}").contains("four-eye rule"), "{}: {e}", b.name());
    }
    attempts.push(("its reviewer approves".to_string(), e.is_some()));
    attempts.push(("a decline without a reason".to_string(), r.decide_synonym(&reviewer, &dict, "", "strange itch", Some("  ")).is_err()));
    attempts.push(("the other reviewer approves".to_string(), o.decide_synonym(&other, &dict, "", "odd ache", None).is_err()));
    attempts.push(("approved twice".to_string(), r.decide_synonym(&reviewer, &dict, "", "odd ache", None).is_err()));
    attempts.push((
        "the reviewer declines strange itch".to_string(),
        r.decide_synonym(&reviewer, &dict, "", "strange itch", Some("too vague to autocode")).is_err(),
    ));
    b.import(&[("H2", "strange itch"), ("P1", "peculiar twinge")]);
    // A reviewer's own proposal is never in their bulk confirmation.
    r.act(&dict, &reviewer, "P1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    let seen: Vec<_> = r.items(&ItemFilter { states: vec![State::Proposed], ..Default::default() }).unwrap();
    let out = r.confirm_seen(&dict, &reviewer, &seen, None).unwrap();
    let mut done: Vec<String> = out.done.iter().map(|i| i.external_id.clone()).collect();
    let mut left: Vec<String> = out.skipped.iter().map(|(id, _)| id.clone()).collect();
    done.sort();
    left.sort();
    attempts.push(("a qualifier of a number alone".to_string(), a.set_synonym_qualifiers(&admin, &["<n>".to_string()]).is_err()));
    attempts.push(("a coder sets the qualifiers".to_string(), c.set_synonym_qualifiers(&coder, &["left".to_string()]).is_err()));
    let mut list = a.synonym_qualifiers().unwrap();
    list.push("left".into());
    let rk = a.set_synonym_qualifiers(&admin, &list).unwrap();
    attempts.push((format!("pain left knee is now keyed '{}'", a.synonym_key("pain left knee").unwrap()), false));
    let mut synonyms: Vec<(String, String, bool, bool)> = a
        .synonyms(&dict.version)
        .unwrap()
        .into_iter()
        .map(|s| (s.term, s.approval, s.hold.is_some(), s.decided_by.as_deref() == Some(other.as_str())))
        .collect();
    synonyms.sort();
    GovernanceOutcome {
        keys,
        attempts,
        items: ["G1", "G2", "G3", "H2", "P1"]
            .iter()
            .map(|id| {
                let it = c.item(id).unwrap();
                (id.to_string(), it.state, it.source)
            })
            .collect(),
        synonyms,
        bulk: (done, left),
        rekeyed: (rk.items, rk.synonyms, rk.merged),
        audit_findings: a.audit(None).unwrap().findings,
    }
}

#[test]
fn synonym_governance_and_bulk_confirmation_follow_the_same_rules_on_both_backends() {
    let sqlite = governance_scenario(&Sqlite::new());
    assert_eq!(sqlite.keys, ["headache", "nausea", "vomiting", "itching all over body", "pain left knee", "severe", "dry mouth"]);
    let refused: Vec<bool> = sqlite.attempts.iter().map(|a| a.1).collect();
    assert_eq!(refused, [true, true, true, false, true, true, true, false, true, false, true, true, false], "{:#?}", sqlite.attempts);
    assert_eq!(sqlite.attempts[3].0, "G2 waits for the candidate's approval: New");
    assert_eq!(sqlite.attempts[12].0, "pain left knee is now keyed 'pain knee'");
    let state = |id: &str| sqlite.items.iter().find(|i| i.0 == id).unwrap().clone();
    assert_eq!(state("G2").1, State::Confirmed, "autocoded once approved, then bulk-confirmed");
    assert_eq!(state("G2").2.as_deref(), Some("synonym"));
    assert_eq!(state("H2").1, State::New, "a declined candidate never autocodes");
    assert_eq!(state("P1").1, State::Proposed);
    assert_eq!(sqlite.bulk, (vec!["G2".to_string(), "G3".to_string()], vec!["P1".to_string()]));
    assert_eq!(
        sqlite.synonyms,
        [("odd ache".to_string(), "approved".to_string(), false, true), ("strange itch".to_string(), "declined".to_string(), true, false)]
    );
    assert!(sqlite.audit_findings.is_empty(), "{:?}", sqlite.audit_findings);
    let Some(pg) = Postgres::new("v") else { return };
    assert_eq!(governance_scenario(&pg), sqlite);
}

/// What the attacks on governance (a second look at issue #24) got, on one backend.
#[derive(Debug, PartialEq)]
struct GovernanceAttacks {
    /// (what was tried, refused?)
    attempts: Vec<(String, bool)>,
    /// (key, LLT is the second one?, approval, held?)
    synonyms: Vec<(String, bool, String, bool)>,
    audit_findings: Vec<String>,
}

/// The holes a second look found, closed on both backends: a candidate whose confirmation was
/// recoded away cannot be approved (not by its reviewer, whose decision the log keeps, nor by
/// anyone: nothing backs it); a qualifier taken off the list gives the synonym its old key back
/// (the audit stays clean); a code declined for a key stays declined after another code was
/// confirmed in between.
fn governance_attacks(b: &dyn Backend) -> GovernanceAttacks {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let mut current = dict.llts.iter().filter(|l| l.current);
    let (llt, other_llt) = (current.next().unwrap().code, current.next().unwrap().code);
    let (coder, reviewer, other, admin) = (b.user(CODER), b.user(REVIEWER), b.user(OTHER_REVIEWER), b.user("ann"));
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let mut o = b.open(OTHER_REVIEWER);
    let mut a = b.open("ann");
    a.set_setting(&admin, "synonym_approval", "review").unwrap();
    b.import(&[("K1", "zork pain mild"), ("B1", "blorp left"), ("D1", "snarf"), ("D2", "snarf x3"), ("D3", "snarf severe")]);
    let mut attempts = Vec::new();
    c.act(&dict, &coder, "K1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "K1", Some(1), Action::Confirm).unwrap();
    a.act(&dict, &admin, "K1", Some(2), Action::Recode { llt: other_llt, source: Source::Search, comment: Some("wrong".into()) }).unwrap();
    let e = r.decide_synonym(&reviewer, &dict, "", "zork pain", None).err().map(|e| format!("{e}"));
    attempts.push(("its reviewer approves after the recode".into(), e.as_deref().is_some_and(|e| e.contains("four-eye rule"))));
    let e = o.decide_synonym(&other, &dict, "", "zork pain", None).err().map(|e| format!("{e}"));
    attempts.push(("anyone approves what nothing backs".into(), e.as_deref().is_some_and(|e| e.contains("no confirmed item backs"))));
    // A qualifier added, then taken off again.
    c.act(&dict, &coder, "B1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "B1", Some(1), Action::Confirm).unwrap();
    let list = a.synonym_qualifiers().unwrap();
    let mut with_left = list.clone();
    with_left.push("left".into());
    a.set_synonym_qualifiers(&admin, &with_left).unwrap();
    let keyed = a.synonym("", "blorp left", &dict.version).unwrap().map(|s| s.term);
    attempts.push((format!("with left: {keyed:?}"), false));
    a.set_synonym_qualifiers(&admin, &list).unwrap();
    attempts.push((format!("without left again: {:?}", a.synonym("", "blorp left", &dict.version).unwrap().map(|s| s.term)), false));
    attempts.push((format!("plain blorp: {:?}", a.synonym("", "blorp", &dict.version).unwrap().map(|s| s.term)), false));
    // Two synonyms that code differently are never merged by a qualifier; two that agree are,
    // and come back apart when the qualifier goes.
    b.import(&[("S1", "snorf left"), ("S2", "snorf"), ("G1", "glim left"), ("G2", "glim")]);
    for (id, code) in [("S1", llt), ("S2", other_llt), ("G1", llt), ("G2", llt)] {
        c.act(&dict, &coder, id, Some(0), Action::Propose { llt: code, source: Source::Search }).unwrap();
        r.act(&dict, &reviewer, id, Some(1), Action::Confirm).unwrap();
    }
    let e = a.set_synonym_qualifiers(&admin, &with_left).err().map(|e| format!("{e}"));
    attempts.push(("a qualifier merging two codes".into(), e.as_deref().is_some_and(|e| e.contains("would share the key 'snorf'"))));
    a.act(&dict, &admin, "S2", Some(2), Action::Recode { llt, source: Source::Search, comment: Some("same as S1".into()) }).unwrap();
    o.act(&dict, &other, "S2", Some(3), Action::Confirm).unwrap();
    let rk = a.set_synonym_qualifiers(&admin, &with_left).unwrap();
    attempts.push((format!("merged once they agree: {}", rk.merged), false));
    a.set_synonym_qualifiers(&admin, &list).unwrap();
    attempts.push((format!("glim left is back: {:?}", a.synonym("", "glim left", &dict.version).unwrap().map(|s| s.term)), false));
    // Declined, another code in between, then the declined code again.
    c.act(&dict, &coder, "D1", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "D1", Some(1), Action::Confirm).unwrap();
    o.decide_synonym(&other, &dict, "", "snarf", Some("too vague")).unwrap();
    c.act(&dict, &coder, "D2", Some(0), Action::Propose { llt: other_llt, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "D2", Some(1), Action::Confirm).unwrap();
    c.act(&dict, &coder, "D3", Some(0), Action::Propose { llt, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "D3", Some(1), Action::Confirm).unwrap();
    let e = o.decide_synonym(&other, &dict, "", "snarf", None).err().map(|e| format!("{e}"));
    attempts.push(("the declined code approved after all".into(), e.as_deref().is_some_and(|e| e.contains("not a candidate"))));
    let mut synonyms: Vec<(String, bool, String, bool)> =
        a.synonyms(&dict.version).unwrap().into_iter().map(|s| (s.term, s.llt_code == other_llt, s.approval, s.hold.is_some())).collect();
    synonyms.sort();
    GovernanceAttacks { attempts, synonyms, audit_findings: a.audit(None).unwrap().findings }
}

#[test]
fn the_holes_a_second_look_found_in_synonym_governance_stay_closed_on_both_backends() {
    let sqlite = governance_attacks(&Sqlite::new());
    assert!(sqlite.attempts[0].1 && sqlite.attempts[1].1, "{:#?}", sqlite.attempts);
    assert_eq!(sqlite.attempts[2].0, "with left: Some(\"blorp\")");
    assert_eq!(sqlite.attempts[3].0, "without left again: Some(\"blorp left\")");
    assert_eq!(sqlite.attempts[4].0, "plain blorp: None", "a term never confirmed has no synonym");
    assert!(sqlite.attempts[5].1, "{:#?}", sqlite.attempts);
    assert_eq!(sqlite.attempts[6].0, "merged once they agree: 2");
    assert_eq!(sqlite.attempts[7].0, "glim left is back: Some(\"glim left\")");
    assert!(sqlite.attempts[8].1, "{:#?}", sqlite.attempts);
    assert!(sqlite.synonyms.contains(&("snarf".to_string(), false, "declined".to_string(), true)), "{:?}", sqlite.synonyms);
    assert!(sqlite.audit_findings.is_empty(), "{:?}", sqlite.audit_findings);
    let Some(pg) = Postgres::new("w") else { return };
    assert_eq!(governance_attacks(&pg), sqlite);
}

/// What synonym lists per study did, on one backend.
#[derive(Debug, PartialEq)]
struct ScopeOutcome {
    /// (what was tried, refused?)
    attempts: Vec<(String, bool)>,
    /// (item, state, code: 'A', 'B' or '-')
    items: Vec<(String, State, char)>,
    /// (list, key, code, approval, held?)
    synonyms: Vec<(String, String, char, String, bool)>,
    audit_findings: Vec<String>,
}

/// Synonym lists per study (issue #24): a study's entry for a key wins over the global list for
/// that study's items only; a study's retired entry keeps the global one from coding there; under
/// synonym_scope = study a confirmation teaches its study's list, and under review its candidate
/// is approved on that list (the global list is not touched, and a study candidate awaiting
/// approval leaves the global entry deciding meanwhile).
fn scope_scenario(b: &dyn Backend) -> ScopeOutcome {
    let dict: Dictionary = b.open(CODER).active_dictionary().unwrap();
    let mut current = dict.llts.iter().filter(|l| l.current);
    let (la, lb) = (current.next().unwrap().code, current.next().unwrap().code);
    let code = |c: Option<u32>| match c {
        Some(c) if c == la => 'A',
        Some(c) if c == lb => 'B',
        Some(_) => '?',
        None => '-',
    };
    let (coder, reviewer, other, admin) = (b.user(CODER), b.user(REVIEWER), b.user(OTHER_REVIEWER), b.user("ann"));
    let mut c = b.open(CODER);
    let mut r = b.open(REVIEWER);
    let mut o = b.open(OTHER_REVIEWER);
    let mut a = b.open("ann");
    let rows = |t: &[(&str, u32)]| t.iter().enumerate().map(|(i, (term, llt))| Labelled { term: term.to_string(), llt: *llt, line: i + 2 }).collect::<Vec<_>>();
    let mut attempts = Vec::new();
    a.import_synonyms(&admin, &dict, "", &rows(&[("sore tum", la)]), "global.csv").unwrap();
    a.import_synonyms(&admin, &dict, "T", &rows(&[("sore tum", lb)]), "t.csv").unwrap();
    a.import_synonyms(&admin, &dict, "U", &rows(&[("achy", lb)]), "u.csv").unwrap();
    attempts.push(("a study with a control character".into(), a.import_synonyms(&admin, &dict, "T\u{1b}[2J", &rows(&[("x", la)]), "x.csv").is_err()));
    attempts.push(("a study with blanks around it".into(), a.import_synonyms(&admin, &dict, " T", &rows(&[("x", la)]), "x.csv").is_err()));
    attempts.push(("a coder imports a study list".into(), c.import_synonyms(&coder, &dict, "T", &rows(&[("x", la)]), "x.csv").is_err()));
    b.import(&[("T:Q1", "Sore tum"), ("Q2", "sore tum"), ("U:Q3", "achy"), ("Q4", "achy")]);
    // The study's retired entry keeps the global one from coding its items.
    a.retire_synonym(&admin, &dict.version, "T", "sore tum").unwrap();
    attempts.push(("retired twice".into(), a.retire_synonym(&admin, &dict.version, "T", "sore tum").is_err()));
    attempts.push(("a list that lacks the key".into(), a.retire_synonym(&admin, &dict.version, "U", "sore tum").is_err()));
    b.import(&[("T:Q5", "sore tum"), ("Q6", "sore tum")]);
    attempts.push(("synonym scope 'sometimes'".into(), a.set_setting(&admin, "synonym_scope", "sometimes").is_err()));
    attempts.push(("a coder sets the scope".into(), c.set_setting(&coder, "synonym_scope", "study").is_err()));
    a.set_setting(&admin, "synonym_scope", "study").unwrap();
    b.import(&[("T:Q7", "gut grumble")]);
    c.act(&dict, &coder, "Q7", Some(0), Action::Propose { llt: la, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "Q7", Some(1), Action::Confirm).unwrap();
    b.import(&[("T:Q8", "gut grumble"), ("Q9", "gut grumble")]);
    // Under review, a study's candidate is decided on its list.
    a.set_setting(&admin, "synonym_approval", "review").unwrap();
    b.import(&[("U:Q10", "belly ache"), ("U:Q11", "belly ache")]);
    c.act(&dict, &coder, "Q10", Some(0), Action::Propose { llt: lb, source: Source::Search }).unwrap();
    r.act(&dict, &reviewer, "Q10", Some(1), Action::Confirm).unwrap();
    attempts.push(("approved on the global list".into(), o.decide_synonym(&other, &dict, "", "belly ache", None).is_err()));
    attempts.push(("approved on another study's list".into(), o.decide_synonym(&other, &dict, "T", "belly ache", None).is_err()));
    attempts.push(("its reviewer approves it".into(), r.decide_synonym(&reviewer, &dict, "U", "belly ache", None).is_err()));
    o.decide_synonym(&other, &dict, "U", "belly ache", None).unwrap();
    // A study candidate awaiting approval leaves the global entry deciding.
    b.import(&[("U:Q12", "sore tum")]);
    r.act(&dict, &reviewer, "Q12", Some(1), Action::Confirm).unwrap();
    b.import(&[("U:Q13", "sore tum")]);
    let items = (1..=13)
        .map(|n| {
            let it = c.item(&format!("Q{n}")).unwrap();
            (it.external_id.clone(), it.state, code(it.llt_code))
        })
        .collect();
    let mut synonyms: Vec<(String, String, char, String, bool)> =
        a.synonyms(&dict.version).unwrap().into_iter().map(|s| (s.study, s.term, code(Some(s.llt_code)), s.approval, s.hold.is_some())).collect();
    synonyms.sort();
    ScopeOutcome { attempts, items, synonyms, audit_findings: a.audit(None).unwrap().findings }
}

#[test]
fn synonym_lists_per_study_follow_the_same_rules_on_both_backends() {
    let sqlite = scope_scenario(&Sqlite::new());
    assert!(sqlite.attempts.iter().all(|a| a.1), "every attempt refused: {:#?}", sqlite.attempts);
    let s = |id: &str, state: State, code: char| (id.to_string(), state, code);
    assert_eq!(
        sqlite.items,
        [
            s("Q1", State::Proposed, 'B'),
            s("Q2", State::Proposed, 'A'),
            s("Q3", State::Proposed, 'B'),
            s("Q4", State::New, '-'),
            s("Q5", State::New, '-'),
            s("Q6", State::Proposed, 'A'),
            s("Q7", State::Confirmed, 'A'),
            s("Q8", State::Proposed, 'A'),
            s("Q9", State::New, '-'),
            s("Q10", State::Confirmed, 'B'),
            s("Q11", State::Proposed, 'B'),
            s("Q12", State::Confirmed, 'A'),
            s("Q13", State::Proposed, 'A'),
        ],
        "T's list wins in T, its retired entry blocks the global one there; a confirmation teaches its study's list"
    );
    let y = |study: &str, term: &str, code: char, approval: &str, held: bool| (study.to_string(), term.to_string(), code, approval.to_string(), held);
    assert_eq!(
        sqlite.synonyms,
        [
            y("", "sore tum", 'A', "approved", false),
            y("T", "gut grumble", 'A', "approved", false),
            y("T", "sore tum", 'B', "approved", true),
            y("U", "achy", 'B', "approved", false),
            y("U", "belly ache", 'B', "approved", false),
            y("U", "sore tum", 'A', "pending", true),
        ]
    );
    assert!(sqlite.audit_findings.is_empty(), "{:?}", sqlite.audit_findings);
    let Some(pg) = Postgres::new("x") else { return };
    assert_eq!(scope_scenario(&pg), sqlite);
}

/// Both backends refuse the same characters in stored text: Cc and Cf (and line/paragraph
/// separators), tab allowed.
#[test]
fn both_backends_refuse_the_same_characters() {
    let (Ok(socket), Ok(port)) = (std::env::var("MEDCODER_TEST_PG_SOCKET"), std::env::var("MEDCODER_TEST_PG_PORT")) else {
        eprintln!("skipped: no test PostgreSQL (scripts/test starts one)");
        return;
    };
    let p = Postgres { db: format!("t{}", std::process::id()), socket, port };
    let admin = format!("postgresql://postgres@/{}?host={}&port={}", p.db, p.socket, p.port);
    p.cli(&admin, &["team", "init"], None);
    let mut c = postgres::Config::new().host_path(&p.socket).port(p.port.parse().unwrap()).user("postgres").dbname(&p.db).connect(postgres::NoTls).unwrap();
    let mut chars: Vec<char> =
        (1u32..0x250).chain(0x600..0x720).chain(0x1800..0x1900).chain(0x2000..0x2100).chain(0xfe00..0x10000).filter_map(char::from_u32).collect();
    chars.extend(['\u{110bd}', '\u{13430}', '\u{1d173}', '\u{e0001}', '\u{e0041}', '\u{1f600}', '\u{10000}']);
    for ch in chars {
        let text = format!("a{ch}b");
        let db_refuses = c.query_one("SELECT medcoder.check_text('x', $1, true)", &[&text]).is_err();
        assert_eq!(db_refuses, medcoder::text::forbidden_char(&text).is_some(), "U+{:04X}", ch as u32);
    }
}

/// The command line on one backend: `medcoder --db ... ARGS` as one of the scenario's people.
trait Line {
    fn run(&self, who: &str, args: &[&str]) -> (bool, String);
    /// The output with what differs by nature between the backends made alike: role names (a team's
    /// are prefixed, its admin is ann), the folder of the test files.
    fn tidy(&self, out: &str) -> String;
    fn dir(&self) -> &std::path::Path;
}

struct SqliteLine(common::Env);

impl Line for SqliteLine {
    fn run(&self, who: &str, args: &[&str]) -> (bool, String) {
        let mut all = vec!["--user", who];
        all.extend_from_slice(args);
        let (ok, out, err) = self.0.run(&all);
        (ok, if ok { out } else { err })
    }
    fn tidy(&self, out: &str) -> String {
        out.replace(&self.0.dir.path().display().to_string(), "DIR")
    }
    fn dir(&self) -> &std::path::Path {
        self.0.dir.path()
    }
}

struct TeamLine(Postgres, tempfile::TempDir);

impl Line for TeamLine {
    fn run(&self, who: &str, args: &[&str]) -> (bool, String) {
        use std::io::Write;
        let who = if who == "admin" { "ann" } else { who };
        // A user named in the arguments is a role of this database (prefixed).
        let args: Vec<String> =
            args.iter().enumerate().map(|(i, a)| if i > 0 && matches!(args[i - 1], "--to" | "--for") { self.0.user(a) } else { a.to_string() }).collect();
        let mut c = Command::new(env!("CARGO_BIN_EXE_medcoder"));
        c.arg("--db").arg(self.0.url(who)).arg("--password-stdin").args(&args).env_remove("MEDCODER_USER").env_remove("MEDCODER_DB");
        c.env("MEDCODER_HOME", self.1.path().join("home"));
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(format!("{PW}\n").repeat(3).as_bytes());
        let out = child.wait_with_output().unwrap();
        let ok = out.status.success();
        (ok, String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr }).into_owned())
    }
    fn tidy(&self, out: &str) -> String {
        out.replace(&self.1.path().display().to_string(), "DIR").replace(&self.0.user("ann"), "admin").replace(&format!("{}_", self.0.db), "")
    }
    fn dir(&self) -> &std::path::Path {
        self.1.path()
    }
}

/// CSV rows without the columns that differ by nature (times, the log head a team's longer log
/// has): what an export says of the codes.
fn csv_without(text: &str, drop: &[&str]) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let keep: Vec<usize> = (0..header.len()).filter(|i| !drop.contains(&header[*i].as_str())).collect();
    let mut rows = vec![keep.iter().map(|i| header[*i].clone()).collect()];
    rows.extend(r.records().map(|rec| {
        let rec = rec.unwrap();
        keep.iter().map(|i| rec[*i].to_string()).collect()
    }));
    rows
}

/// Every workflow command both backends run, in one coding scenario, each observed as a user
/// sees it (its success and its output, made comparable).
fn cli_scenario(b: &dyn Line) -> Vec<(String, bool, String, String)> {
    let dict = Dictionary::new(&medcoder::meddra::Release::read(std::path::Path::new("assets/demo/MedAscii")).unwrap().0);
    let mut current = dict.llts.iter().filter(|l| l.current);
    let (l1, l2) = (current.next().unwrap(), current.next().unwrap());
    let (c1, c2) = (l1.code.to_string(), l2.code.to_string());
    let queue = b.dir().join("q.csv");
    std::fs::write(&queue, format!("id,study,subject,reported_term\nA1,S1,001,my head hurts\nA2,S1,002,tummy upset\nA3,S2,003,odd feeling\nA4,S2,004,tingly fingers\nA5,S2,005,\"Tingly, fingers\"\nA6,S1,006,{}\n", l2.name)).unwrap();
    let synonyms = b.dir().join("s.csv");
    std::fs::write(&synonyms, format!("reported_term,llt_code\nwobbly legs,{c2}\n")).unwrap();
    let corrected = b.dir().join("corrected.csv");
    std::fs::write(&corrected, "id,study,subject,reported_term\nA4,S2,004,tingling in fingers\nA6,S1,006,another term\nA5,S9,005,not this record\n").unwrap();
    let answers = b.dir().join("answers.csv");
    std::fs::write(&answers, "item_id,answer,corrected_term\nA3,it was a tingling,tingling hands\n").unwrap();
    let (q, s) = (queue.display().to_string(), synonyms.display().to_string());
    let (corrected, answers) = (corrected.display().to_string(), answers.display().to_string());
    // A coded SDTM AE dataset (Dataset-JSON) to seed the synonym list from (issue #22).
    let sdtm = b.dir().join("ae.json");
    std::fs::write(
        &sdtm,
        format!(
            r#"{{"name":"AE","columns":[{{"name":"AETERM"}},{{"name":"AELLT"}},{{"name":"AELLTCD"}}],"rows":[["HEAD THROBBING","","{c1}"],["WOBBLY","WOBBLINESS",""],["{}","",""]]}}"#,
            "FUNNY TURN"
        ),
    )
    .unwrap();
    let sdtm = sdtm.display().to_string();
    // An uncoded AE dataset received, coded and written back (issue #22).
    let dataset = b.dir().join("ae-s3.csv");
    std::fs::write(
        &dataset,
        format!(
            "STUDYID,DOMAIN,USUBJID,AESEQ,AETERM,AELLT,AELLTCD,AEDECOD,AESEV\nS3,AE,S3-001,1,\"{}\",,,,MILD\nS3,AE,S3-002,1,sore knee,,,,SEVERE\n",
            l2.name
        ),
    )
    .unwrap();
    let (dataset, coded) = (dataset.display().to_string(), b.dir().join("ae-s3-coded.csv").display().to_string());
    let steps: Vec<(&str, Vec<&str>)> = vec![
        ("cody", vec!["dict", "search", "head", "--limit", "5"]),
        ("cody", vec!["dict", "show", &c1]),
        ("cody", vec!["queue", "import", &q]),
        ("cody", vec!["queue", "import", &q]),
        ("cody", vec!["queue", "list"]),
        ("cody", vec!["queue", "list", "--state", "proposed"]),
        ("cody", vec!["code", "A1", &c1]),
        ("cody", vec!["confirm", "A1", "--rev", "1"]),
        ("rita", vec!["confirm", "A1", "--rev", "0"]),
        ("rita", vec!["confirm", "A1", "--rev", "1"]),
        ("rob", vec!["code", "A2", &c1]),
        ("rob", vec!["confirm", "A2", "--rev", "1"]),
        ("rita", vec!["return", "A2", "--comment", "which part of the belly?", "--rev", "1"]),
        ("cody", vec!["query", "A3", "--note", "please describe the feeling"]),
        ("cody", vec!["query", "list"]),
        ("cody", vec!["query", "list", "--study", "S1"]),
        ("cody", vec!["query", "list", "--csv", "-"]),
        ("cody", vec!["code-group", "tingly fingers", &c2]),
        ("rita", vec!["confirm-group", "tingly fingers", "--llt", &c1]),
        ("rita", vec!["confirm-group", "tingly fingers", "--llt", &c2]),
        ("cody", vec!["recode", "A1", &c2, "--comment", "closer to the verbatim"]),
        ("rob", vec!["confirm", "A1", "--rev", "3"]),
        ("cody", vec!["queue", "show", "A1"]),
        ("cody", vec!["synonym", "list", "--json"]),
        ("cody", vec!["synonym", "list", "--conflicts"]),
        ("cody", vec!["synonym", "export"]),
        ("cody", vec!["synonym", "import", &s]),
        ("admin", vec!["synonym", "import", &s]),
        ("admin", vec!["synonym", "retire", "wobbly legs"]),
        ("cody", vec!["settings", "autocode-confirm", "on"]),
        ("admin", vec!["settings", "autocode-confirm", "on"]),
        ("cody", vec!["settings", "show"]),
        ("cody", vec!["export"]),
        ("cody", vec!["export", "--format", "jsonl", "--study", "S2"]),
        ("cody", vec!["data", "export-training"]),
        ("cody", vec!["backtest"]),
        ("cody", vec!["recode-check"]),
        ("cody", vec!["audit", "log", "--json"]),
        ("cody", vec!["audit", "verify"]),
        ("cody", vec!["user", "list"]),
        ("cody", vec!["dict", "versions"]),
        // The work around a code (issue #21).
        ("admin", vec!["settings", "autocode-confirm", "off"]),
        ("cody", vec!["split", "A2", "tummy ache", "nausea"]),
        ("cody", vec!["queue", "show", "A2#1"]),
        ("cody", vec!["query", "import-answers", &answers]),
        ("cody", vec!["query", "list", "--all"]),
        ("cody", vec!["queue", "import", &corrected]),
        ("cody", vec!["code", "A4", &c1]),
        ("cody", vec!["withdraw", "A4"]),
        ("admin", vec!["assign", "--study", "S2", "--to", "cody"]),
        ("admin", vec!["assign", "--item", "A2#2", "--review", "--to", "rita"]),
        ("admin", vec!["due", "S2", "2026-01-31"]),
        ("admin", vec!["assign", "--list"]),
        ("cody", vec!["worklist"]),
        ("rita", vec!["worklist", "--all", "--json"]),
        ("rita", vec!["return", "A2", "--comment", "keep it whole: one event", "--rev", "3"]),
        ("cody", vec!["queue", "list"]),
        ("cody", vec!["export", "--state", "confirmed,void,split,returned"]),
        ("admin", vec!["synonym", "import", "--from-sdtm", &sdtm]),
        ("cody", vec!["queue", "import", &dataset]),
        ("cody", vec!["queue", "datasets"]),
        ("cody", vec!["queue", "show", "S3-S3-002-AE1"]),
        ("rita", vec!["confirm", "S3-S3-001-AE1", "--rev", "1"]),
        ("cody", vec!["export", "--sdtm", "--domain", "AE", "--out", &coded]),
        ("cody", vec!["queue", "import", &dataset]),
    ];
    let mut seen = Vec::new();
    for (who, args) in steps {
        let (ok, out) = b.run(who, &args);
        let out = b.tidy(&out);
        let what = b.tidy(&format!("{who}: {}", args.join(" ")));
        // A refusal is compared by its outcome: each backend words its rules' refusals.
        let observed = match (ok, args[0], args.get(1).copied()) {
            (false, _, _) => String::new(),
            (true, "queue", Some("show")) => out.lines().take(4).collect::<Vec<_>>().join("\n"),
            (true, "synonym", Some("list")) if args.contains(&"--json") => out
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{} {} {} {} {}", v["term"], v["llt_code"], v["origin"], v["confirmations"], v["reviewer"])
                })
                .collect::<Vec<_>>()
                .join("\n"),
            (true, "settings", Some("show")) => out.lines().filter(|l| !l.starts_with("anchor file")).collect::<Vec<_>>().join("\n"),
            // The dataset written back, as written.
            (true, "export", _) if args.contains(&"--sdtm") => std::fs::read_to_string(args.last().unwrap()).unwrap(),
            (true, "queue", Some("datasets")) => out.lines().map(|l| l.split_whitespace().take(6).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n"),
            (true, "export", _) if args.contains(&"jsonl") => out
                .lines()
                .map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    format!("{} {} {} {} {} {}", v["item_id"], v["state"], v["llt_code"], v["pt_name"], v["soc_name"], v["reviewer"])
                })
                .collect::<Vec<_>>()
                .join("\n"),
            (true, "export", _) => format!("{:?}", csv_without(&out, &["imported_at", "proposed_at", "confirmed_at", "log_seq", "log_hash"])),
            (true, "data", _) => format!("{:?}", csv_without(&out, &["confirmed_at"])),
            (true, "query", Some("list")) if args.contains(&"--csv") => format!("{:?}", csv_without(&out, &["raised_at"])),
            (true, "audit", Some("log")) => out
                .lines()
                .filter_map(|l| {
                    let v: serde_json::Value = serde_json::from_str(l).unwrap();
                    v["external_id"].as_str().map(|id| format!("{} {} {id} {} {} {}", v["user"], v["action"], v["llt_code"], v["state_to"], v["source"]))
                })
                .collect::<Vec<_>>()
                .join("\n"),
            (true, "audit", Some("verify")) => out.lines().filter(|l| l.contains("match the log")).collect::<Vec<_>>().join("\n"),
            (true, "assign", _) => out.lines().map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n"),
            (true, "user", _) => out.lines().map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n"),
            (true, "dict", Some("versions")) => out.lines().map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n"),
            _ => out.clone(),
        };
        // Columns are padded to the names' widths, and a team's role names are longer.
        let observed = observed.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join("\n");
        seen.push((what, ok, observed, out));
    }
    seen
}

#[test]
fn every_command_gives_the_same_result_on_both_backends() {
    let env = common::Env::new();
    env.add_users(&[("cody", "coder"), ("rita", "reviewer"), ("rob", "reviewer")]);
    env.ok(&["--user", "admin", "dict", "import", "assets/demo/MedAscii"]);
    let sqlite = SqliteLine(env);
    let on_sqlite = cli_scenario(&sqlite);
    // What the rules refuse: a coder confirming, a stale revision, one's own proposal, a group
    // signed for a code it was not proposed with, a coder importing synonyms or changing settings.
    let c1 = Dictionary::new(&medcoder::meddra::Release::read(std::path::Path::new("assets/demo/MedAscii")).unwrap().0)
        .llts
        .iter()
        .find(|l| l.current)
        .unwrap()
        .code;
    let refused: Vec<&str> = on_sqlite.iter().filter(|(_, ok, _, _)| !ok).map(|(w, _, _, _)| w.as_str()).collect();
    let want = [
        "cody: confirm A1 --rev 1".to_string(),
        "rita: confirm A1 --rev 0".into(),
        "rob: confirm A2 --rev 1".into(),
        format!("rita: confirm-group tingly fingers --llt {c1}"),
        "cody: synonym import DIR/s.csv".into(),
        "cody: settings autocode-confirm on".into(),
    ];
    assert_eq!(refused, want, "{on_sqlite:#?}");
    let Some(pg) = Postgres::new("l") else { return };
    let team = TeamLine(pg, tempfile::tempdir().unwrap());
    let on_team = cli_scenario(&team);
    // What only SQLite has is refused on a team database in one wording, with what to do instead.
    for args in [&["user", "add", "newbie", "--role", "coder"][..], &["user", "unlock", "cody"], &["settings", "anchor-file", "/tmp/a"], &["demo"]] {
        let (ok, err) = team.run("admin", args);
        assert!(!ok && err.contains("is not available on a team database: "), "{args:?}: {err}");
    }
    for (s, t) in on_sqlite.iter().zip(&on_team) {
        assert_eq!(s.0, t.0);
        assert_eq!((s.1, &s.2), (t.1, &t.2), "the backends differ on {}:\nSQLite:\n{}\nPostgreSQL:\n{}", s.0, s.3, t.3);
    }
    assert_eq!(on_sqlite.len(), on_team.len());
}
