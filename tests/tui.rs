//! Screens rendered to a test backend and driven with keys, on the demo data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use medcoder::engine::worker;
use medcoder::intake::queue::{NewItem, Report};
use medcoder::store::item::State;
use medcoder::store::proposals::{Proposal, ProposalSet};
use medcoder::store::users::Role;
use medcoder::store::Store;
use medcoder::tui::action::Action;
use medcoder::tui::app::App;
use medcoder::tui::screens::browse::Browse;
use medcoder::tui::screens::ScreenId;
use medcoder::tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn demo_store(dir: &std::path::Path) -> std::path::PathBuf {
    let db = dir.join("t.db");
    let mut s = Store::open(&db).unwrap();
    // A demo database: users are picked and sign nothing (signatures: `a_real_desk_signs_...`).
    s.mark_demo().unwrap();
    let (rel, _) = medcoder::meddra::Release::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")).unwrap();
    s.import_release(None, &rel, "demo", false, false).unwrap();
    s.add_user(None, "admin", Role::Admin).unwrap();
    s.add_user(Some("admin"), "alice", Role::Coder).unwrap();
    s.add_user(Some("admin"), "bob", Role::Reviewer).unwrap();
    let items: Vec<NewItem> = [("Q1", "pain of right thigh to the knee"), ("Q2", "hedache since day 2"), ("Q3", "Nausea")]
        .iter()
        .enumerate()
        .map(|(i, (id, t))| NewItem {
            line: i + 2,
            report: Report {
                external_id: id.to_string(),
                study: "DEMO-1".into(),
                subject: "S-1".into(),
                reported_term: t.to_string(),
                onset_date: Some("2026-03-01".into()),
                ..Default::default()
            },
        })
        .collect();
    s.import_items("alice", &items, "test").unwrap();
    // What the worker would have stored for Q1.
    let d = s.active_dictionary().unwrap();
    let code = |n: &str| d.llts.iter().find(|l| l.name == n).unwrap().code;
    let props = ["Knee pain", "Unilateral leg pain", "Leg pain", "Pain in leg", "Swollen knee"]
        .iter()
        .enumerate()
        .map(|(i, n)| Proposal {
            llt_code: code(n),
            pt_code: d.llt(code(n)).unwrap().pt_code,
            score: 1.0,
            confidence: [0.5, 0.2, 0.1, 0.1, 0.05][i],
            evidence: None,
            pt_confidence: None,
            raw: None,
        })
        .collect();
    let id = s.item("Q1").unwrap().id;
    s.set_proposals(&[(
        id,
        ProposalSet { model_version: "m-test".into(), meddra_version: d.version.clone(), entropy: Some(1.2), proposals: props, computed_at: "t".into() },
    )])
    .unwrap();
    db
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| app.draw(f, Theme { color: false })).unwrap();
    let buf = term.backend().buffer().clone();
    (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>() + "\n").collect()
}

/// The background worker with a tiny random encoder (fast; its proposals mean nothing).
fn tiny_worker(db: &std::path::Path) -> worker::Worker {
    let tok = Arc::new(medcoder::model::tokenize::Tok::load(&medcoder::model::default_base_dir().join("tokenizer.json")).unwrap());
    let dict = Arc::new(Store::open(db).unwrap().active_dictionary().unwrap());
    let db = db.to_path_buf();
    worker::spawn(move || {
        let cfg = medcoder::model::bert::BertConfig::tiny(tok.vocab_size() as i64);
        let enc = medcoder::model::Encoder::random(&cfg, tok, tch::Device::Cpu);
        let store: Box<dyn medcoder::store::ProposalStore> = Box::new(Store::open(&db)?);
        Ok((medcoder::engine::Engine::builder(dict).encoder(enc, None, "tiny-random").build()?, store))
    })
}

fn key(app: &mut App, c: KeyCode) {
    app.on_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn sign_in_lists_users_and_opens_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), None).unwrap();
    let s = render(&app, 80, 24);
    assert!(s.contains("Sign in: who are you?") && s.contains("alice") && s.contains("reviewer"), "{s}");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), ScreenId::Queue);
    let s = render(&app, 80, 24);
    assert!(s.contains("alice (coder)") && s.contains("Signed in as alice"), "{s}");
}

#[test]
fn queue_shows_counts_items_and_top_proposal_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = App::new(Box::new(Store::open(&demo_store(dir.path())).unwrap()), Some("alice")).unwrap();
    let s = render(&app, 80, 24);
    assert!(s.contains("new 2") && s.contains("proposed 1"), "{s}");
    assert!(s.contains("Q1") && s.contains("pain of right thigh") && s.contains("Knee pain") && s.contains("50%"), "{s}");
    // Every line fits in 80 columns, footer included.
    assert!(s.contains("q quit"), "{s}");
    key(&mut app, KeyCode::Char('t'));
    key(&mut app, KeyCode::Char('n'));
    let s = render(&app, 80, 24);
    assert!(s.contains("state: new") && !s.contains("Q3 "), "{s}");
    key(&mut app, KeyCode::Char('f'));
    typed(&mut app, "hed");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.queue.rows.len(), 1);
    assert!(render(&app, 120, 30).contains("subject"), "wide terminals show more columns");
}

#[test]
fn coding_screen_proposes_from_the_list_and_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), ScreenId::Coding);
    let s = render(&app, 80, 24);
    for want in ["Reported term: pain of right thigh to the knee", "1 Knee pain", "PT Arthralgia", "2 Unilateral leg pain", "50%", "DEMO-1"] {
        assert!(s.contains(want), "missing {want:?}\n{s}");
    }
    key(&mut app, KeyCode::Char('2'));
    let s = render(&app, 80, 24);
    assert!(s.contains("Q1 proposed: Unilateral leg pain"), "{s}");
    assert_eq!(app.ctx.open.as_ref().unwrap().item.external_id, "Q2", "moved on to the next item");
    let st = Store::open(&db).unwrap();
    let q1 = st.item("Q1").unwrap();
    assert_eq!((q1.state, q1.source.as_deref()), (State::Proposed, Some("model")));
    assert_eq!(st.log_entries(Some(q1.id)).unwrap().last().unwrap().entry.chosen_rank, Some(2));
}

#[test]
fn in_a_filtered_list_the_next_item_follows_the_one_that_left_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Char('t')); // state: new -> Q1, Q2
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(app.queue.rows.iter().map(|r| r.item.external_id.as_str()).collect::<Vec<_>>(), ["Q1", "Q2"]);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('1'));
    // Q1 is proposed now and leaves the "new" list; the coder goes on with Q2, not past it.
    assert_eq!(app.ctx.open.as_ref().unwrap().item.external_id, "Q2");
    assert_eq!(app.queue.rows.iter().map(|r| r.item.external_id.as_str()).collect::<Vec<_>>(), ["Q2"]);
    assert!(app.queue.counts.contains(&(State::New, 1)) && app.queue.counts.contains(&(State::Proposed, 2)), "{:?}", app.queue.counts);
}

#[test]
fn study_filter_cycles_through_the_studies_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut s = Store::open(&db).unwrap();
    let z = NewItem {
        line: 2,
        report: Report { external_id: "Z1".into(), study: "ALPHA".into(), subject: "S-9".into(), reported_term: "cough".into(), ..Default::default() },
    };
    s.import_items("alice", &[z], "test").unwrap();
    let mut app = App::new(Box::new(s), Some("alice")).unwrap();
    let ids = |app: &App| app.queue.rows.iter().map(|r| r.item.external_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&app), ["Q1", "Q2", "Q3", "Z1"]);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(ids(&app), ["Z1"], "ALPHA sorts before DEMO-1");
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(ids(&app), ["Q1", "Q2", "Q3"]);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(ids(&app).len(), 4, "after the last study: all studies again");
}

#[test]
fn a_long_queue_scrolls_to_the_selection() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut s = Store::open(&db).unwrap();
    let items: Vec<NewItem> = (0..300)
        .map(|i| NewItem {
            line: i + 2,
            report: Report {
                external_id: format!("L{i:03}"),
                study: "DEMO-1".into(),
                subject: "S-2".into(),
                reported_term: format!("term {i}"),
                ..Default::default()
            },
        })
        .collect();
    s.import_items("alice", &items, "test").unwrap();
    let mut app = App::new(Box::new(s), Some("alice")).unwrap();
    for _ in 0..250 {
        key(&mut app, KeyCode::Down);
    }
    let sel = app.queue.rows[app.queue.sel].item.external_id.clone();
    let screen = render(&app, 80, 24);
    assert!(screen.contains(&sel) && !screen.contains("Q1 "), "{sel}\n{screen}");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.ctx.open.as_ref().unwrap().item.external_id, sel);
}

#[test]
fn item_without_proposals_says_so_and_query_needs_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = App::new(Box::new(Store::open(&demo_store(dir.path())).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    let s = render(&app, 80, 24);
    assert!(s.contains("No model proposals for this item"), "{s}");
    key(&mut app, KeyCode::Char('u'));
    assert!(render(&app, 80, 24).contains("Query note for the site"));
    key(&mut app, KeyCode::Enter);
    let s = render(&app, 80, 24);
    assert!(s.contains("query needs a comment"), "{s}");
    key(&mut app, KeyCode::Char('u'));
    typed(&mut app, "is it headache?");
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("Q2 put on query"));
}

#[test]
fn search_types_ahead_and_refuses_non_current() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.screen(), ScreenId::Search);
    typed(&mut app, "cephalg");
    let s = render(&app, 80, 24);
    assert!(s.contains("Cephalgia (non-current)") && s.contains("PT Headache"), "{s}");
    // Down to the non-current match, as the coder would.
    let nc = app.ctx.desk().search("cephalg", 50).iter().position(|r| !r.current).unwrap();
    for _ in 0..nc {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("non-current: it cannot be chosen"));
    for _ in 0..7 {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "hedache");
    assert!(render(&app, 80, 24).contains("Headache"));
    // A neighbour by spelling is not proposed on the first Enter: it says what it is.
    key(&mut app, KeyCode::Enter);
    let s = render(&app, 80, 24);
    assert!(s.contains("is not 'hedache'") && s.contains("Enter again"), "{s}");
    assert_eq!(app.screen(), ScreenId::Search);
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("Q2 proposed: Headache"));
    assert_eq!(Store::open(&db).unwrap().item("Q2").unwrap().source.as_deref(), Some("search"));
}

#[test]
fn browser_starts_at_the_proposal_and_proposes_an_llt() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Char('b'));
    assert_eq!(app.screen(), ScreenId::Browse);
    let s = render(&app, 80, 24);
    assert!(s.contains("HLGT Musculoskeletal and connective tissue disorders NEC") && s.contains("PT Pain in extremity (") && s.contains("[primary]"), "{s}");
    let selected = |app: &App| app.active_as::<Browse>().unwrap().tree.selected().unwrap().name.clone();
    assert_eq!(selected(&app), "Unilateral leg pain");
    key(&mut app, KeyCode::Char('g'));
    let code = app.ctx.desk().dict.llts.iter().find(|l| l.name == "Leg pain").unwrap().code;
    typed(&mut app, &code.to_string());
    key(&mut app, KeyCode::Enter);
    assert_eq!(selected(&app), "Leg pain");
    key(&mut app, KeyCode::Enter);
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().source.as_deref(), Some("browse"));
}

#[test]
fn review_confirms_others_and_refuses_own_proposals() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    {
        let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Char('2'));
    }
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), ScreenId::Review);
    let s = render(&app, 80, 24);
    for want in [
        "Proposed code and its MedDRA path(s):",
        "primary   PT   Pain in extremity",
        "SOC  Musculoskeletal and connective tissue disorders",
        "Proposed by alice (model)",
        "model rank 2 of 5",
    ] {
        assert!(s.contains(want), "missing {want:?}\n{s}");
    }
    key(&mut app, KeyCode::Char('a'));
    assert!(render(&app, 80, 24).contains("Q1 confirmed: Unilateral leg pain"));
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().state, State::Confirmed);

    // Bob proposes Q3 himself (it is autocoded: code it differently), then cannot confirm it.
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    app.queue.sel = app.queue.rows.iter().position(|r| r.item.external_id == "Q3").unwrap();
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "feeling sick");
    key(&mut app, KeyCode::Enter);
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    app.queue.sel = app.queue.rows.iter().position(|r| r.item.external_id == "Q3").unwrap();
    key(&mut app, KeyCode::Enter);
    let s = render(&app, 80, 24);
    assert!(s.contains("You proposed this code: another reviewer must confirm it"), "{s}");
    key(&mut app, KeyCode::Char('a'));
    assert!(render(&app, 80, 24).contains("four-eye rule"));
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(Store::open(&db).unwrap().item("Q3").unwrap().state, State::Proposed);
}

#[test]
fn return_with_comment_and_stale_item_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    app.queue.sel = app.queue.rows.iter().position(|r| r.item.external_id == "Q3").unwrap();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), ScreenId::Review);
    // Someone else changes the item while bob is looking at it.
    {
        let mut other = Store::open(&db).unwrap();
        let d = other.active_dictionary().unwrap();
        other.add_user(Some("admin"), "carl", Role::Coder).unwrap();
        let code = d.llts.iter().find(|l| l.name == "Feeling sick").unwrap().code;
        other.act(&d, "carl", "Q3", None, medcoder::store::workflow::Action::Propose { llt: code, source: medcoder::store::workflow::Source::Search }).unwrap();
    }
    key(&mut app, KeyCode::Char('r'));
    typed(&mut app, "please check");
    key(&mut app, KeyCode::Enter);
    let s = render(&app, 80, 24);
    assert!(s.contains("was changed by carl") && s.contains("reload it"), "{s}");
}

#[test]
fn help_overlay_and_stats_screen() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Char('?'));
    let s = render(&app, 80, 24);
    assert!(s.contains("Help") && s.contains("choose the state filter (then one key)"), "{s}");
    key(&mut app, KeyCode::Char('x'));
    assert!(!app.help);
    key(&mut app, KeyCode::Char('x'));
    assert!(render(&app, 80, 24).contains("nothing to back-test"));
    // Confirm Q1 from its proposals, then the statistics have one case.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('1'));
    let mut rev = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    key(&mut rev, KeyCode::Enter);
    key(&mut rev, KeyCode::Char('a'));
    key(&mut rev, KeyCode::Esc);
    key(&mut rev, KeyCode::Char('x'));
    let s = render(&rev, 80, 24);
    assert!(
        s.contains("The model, where it was asked: 1 items")
            && s.contains("By PT confidence")
            && s.contains("Calibration error")
            && s.contains("Accuracy (up) by coverage"),
        "{s}"
    );
    // Tab: the team reports of the last 30 days, at 80x24 too.
    key(&mut rev, KeyCode::Tab);
    let s = render(&rev, 80, 24);
    assert!(
        s.contains("Work per person") && s.contains("bob") && s.contains("Turnaround") && s.contains("1 confirmed") && s.contains("Queries to sites"),
        "{s}"
    );
    insta::assert_snapshot!("stats_team", s.replace(&medcoder::desk::today(), "[today]"));
}

#[test]
fn proposals_fill_in_from_the_background_worker() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    let w = tiny_worker(&db);
    app.attach_worker(w.jobs.clone());
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("model loading"));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        while let Ok(ev) = w.events.try_recv() {
            app.on_engine(ev);
        }
        if app.ctx.open.as_ref().is_some_and(|v| !v.proposals.is_empty()) && app.ctx.pending.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = render(&app, 80, 24);
    assert!(s.contains("Proposals (tiny-random)") && s.contains("model ready"), "{s}");
    assert!(app.queue.rows.iter().all(|r| r.top.is_some()), "every open item got proposals");
}

/// Issue #24 at the desk: a reviewer bulk-confirms the list's proposals of others with one key
/// (their own left out and named); under synonym approval = review the confirmation becomes a
/// candidate that the reviewer who confirmed it cannot approve, and another reviewer approves on
/// the candidates screen (y); the review screen lists how the verbatim was coded before.
#[test]
fn a_reviewer_bulk_confirms_and_another_approves_the_synonym_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    {
        let mut s = Store::open(&db).unwrap();
        s.add_user(Some("admin"), "carol", Role::Reviewer).unwrap();
        s.set_team_setting("admin", "synonym_approval", "review").unwrap();
        let more = vec![NewItem {
            line: 2,
            report: Report {
                external_id: "Q4".into(),
                study: "DEMO-1".into(),
                subject: "S-2".into(),
                reported_term: "Pain of right thigh to the knee, severe".into(),
                ..Default::default()
            },
        }];
        s.import_items("alice", &more, "more").unwrap();
    }
    let row = |app: &App, id: &str| app.queue.rows.iter().find(|r| r.item.external_id == id).map(|r| r.item.state).unwrap();
    let mut alice = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut alice, KeyCode::Enter);
    key(&mut alice, KeyCode::Char('2'));
    let mut bob = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    // bob proposes Q2 himself: his bulk confirmation leaves it out, by name.
    key(&mut bob, KeyCode::Down);
    key(&mut bob, KeyCode::Enter);
    key(&mut bob, KeyCode::Char('/'));
    typed(&mut bob, "headache");
    key(&mut bob, KeyCode::Enter);
    key(&mut bob, KeyCode::Esc);
    key(&mut bob, KeyCode::Char('r'));
    assert_eq!(row(&bob, "Q1"), State::Proposed, "{:?}", bob.message);
    assert_eq!(row(&bob, "Q2"), State::Proposed, "{:?}", bob.message);
    key(&mut bob, KeyCode::Char('B'));
    assert!(render(&bob, 80, 24).contains("Type yes"), "{:?} {}", bob.message, render(&bob, 80, 24));
    typed(&mut bob, "yes");
    key(&mut bob, KeyCode::Enter);
    let (text, _) = bob.message.clone().unwrap();
    assert!(text.contains("confirmed") && text.contains("left out: Q2"), "{text}");
    assert_eq!(row(&bob, "Q1"), State::Confirmed);
    assert_eq!(row(&bob, "Q2"), State::Proposed);
    // Q4 shares Q1's synonym key, but the candidate is not approved yet: nothing autocoded it.
    assert_eq!(row(&bob, "Q4"), State::New);
    key(&mut bob, KeyCode::Char('y'));
    assert_eq!(bob.screen(), ScreenId::Synonyms);
    key(&mut bob, KeyCode::Char('a'));
    assert!(bob.message.clone().unwrap().0.contains("four-eye rule"), "{:?}", bob.message);
    let mut carol = App::new(Box::new(Store::open(&db).unwrap()), Some("carol")).unwrap();
    key(&mut carol, KeyCode::Char('y'));
    let screen = render(&carol, 80, 24);
    assert!(screen.contains("pain of right thigh") && screen.contains("alice/bob"), "{screen}");
    insta::assert_snapshot!("synonym_candidates", render(&carol, 80, 24));
    // The candidates are listed by key: "nausea", then the thigh pain.
    key(&mut carol, KeyCode::Down);
    key(&mut carol, KeyCode::Char('a'));
    assert!(carol.message.clone().unwrap().0.contains("Approved the synonym 'pain of right thigh to knee'"), "{:?}", carol.message);
    let screen = render(&carol, 80, 24);
    assert!(screen.contains("Synonym candidates (1)") && !screen.contains("alice/bob"), "{screen}");
    // Tab: the whole list, with each synonym's state; a reviewer may not retire one.
    key(&mut carol, KeyCode::Tab);
    let screen = render(&carol, 80, 24);
    assert!(screen.contains("Synonym list (2") && screen.contains("candidate") && screen.contains("confirmed"), "{screen}");
    key(&mut carol, KeyCode::Down);
    key(&mut carol, KeyCode::Char('x'));
    assert!(carol.message.clone().unwrap().0.contains("only an admin"), "{:?}", carol.message);
    key(&mut carol, KeyCode::Esc);
    assert_eq!(row(&carol, "Q4"), State::Proposed, "approved: Q4 autocoded from the synonym");
    // carol reviews Q4: the verbatim's earlier coding is listed.
    let pos = carol.queue.rows.iter().position(|r| r.item.external_id == "Q4").unwrap();
    for _ in 0..pos {
        key(&mut carol, KeyCode::Down);
    }
    key(&mut carol, KeyCode::Enter);
    assert_eq!(carol.screen(), ScreenId::Review);
    let screen = render(&carol, 80, 24);
    assert!(screen.contains("Synonym list as 'pain of right thigh to knee'"), "{screen}");
    let log = Store::open(&db).unwrap().log_entries(None).unwrap();
    assert!(log.iter().any(|e| e.entry.action == "synonym-approve" && e.entry.user == "carol"));
}

/// Every screen at 80x24 without colour, compared with the checked-in snapshots under
/// tests/snapshots/ (revisions and timestamps filtered), so a layout change fails here.
mod snapshots {
    use super::*;

    fn snap(name: &str, app: &App) {
        let screen = render(app, 80, 24);
        insta::with_settings!({ filters => vec![(r"rev \d\b", "rev N"), (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]")] }, {
            insta::assert_snapshot!(name, screen);
        });
    }

    #[test]
    fn every_screen_at_80x24() {
        let dir = tempfile::tempdir().unwrap();
        let db = demo_store(dir.path());
        let mut app = App::new(Box::new(Store::open(&db).unwrap()), None).unwrap();
        snap("signin", &app);
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        snap("queue", &app);
        key(&mut app, KeyCode::Char('g'));
        snap("queue_grouped", &app);
        key(&mut app, KeyCode::Char('g'));
        key(&mut app, KeyCode::Char('?'));
        snap("queue_help", &app);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('f'));
        typed(&mut app, "pain");
        snap("queue_filter_prompt", &app);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Down);
        snap("coding", &app);
        key(&mut app, KeyCode::Char('/'));
        typed(&mut app, "leg pain");
        snap("search", &app);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('b'));
        snap("browse", &app);
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('?'));
        let help = render(&app, 80, 24);
        assert!(help.contains("Any key closes this help"), "the coding help fits at 80x24:\n{help}");
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('n'));
        snap("coding_without_proposals", &app);
        key(&mut app, KeyCode::Char('p'));
        key(&mut app, KeyCode::Char('2'));
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::Char('x'));
        snap("stats_empty", &app);

        let mut rev = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
        key(&mut rev, KeyCode::Enter);
        snap("review", &rev);
        key(&mut rev, KeyCode::Char('a'));
        key(&mut rev, KeyCode::Esc);
        key(&mut rev, KeyCode::Char('x'));
        snap("stats", &rev);
    }
}

#[test]
fn actions_drive_screens_as_keys_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut by_key = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    let mut by_action = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut by_key, KeyCode::Char('t'));
    key(&mut by_key, KeyCode::Char('n'));
    by_action.perform(Action::PickState);
    by_action.perform(Action::Type('n'));
    assert_eq!(by_key.queue.state_filter, Some(State::New));
    assert_eq!(render(&by_key, 80, 24), render(&by_action, 80, 24));
    by_action.perform(Action::Select);
    assert_eq!(by_action.screen(), ScreenId::Coding);
    by_action.perform(Action::ProposeNth(1));
    let q1 = Store::open(&db).unwrap().item("Q1").unwrap();
    assert_eq!((q1.state, q1.source.as_deref()), (State::Proposed, Some("model")));
    by_action.perform(Action::Quit);
    assert!(by_action.quit);
}

#[test]
fn footers_fit_80_columns_and_every_footer_key_is_bound() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), None).unwrap();
    let mut seen = Vec::new();
    let mut check = |app: &App| {
        let footer = medcoder::tui::action::footer(app.keymap());
        assert!(footer.chars().count() <= 80, "{:?} footer too wide: {footer:?}", app.screen());
        for b in app.keymap().iter().filter(|b| !b.hint.is_empty()) {
            assert!(!b.label.is_empty() && (!b.keys.is_empty() || app.screen() == ScreenId::Search), "{b:?}");
        }
        seen.push(app.screen());
    };
    check(&app);
    key(&mut app, KeyCode::Enter);
    check(&app);
    key(&mut app, KeyCode::Enter);
    check(&app);
    key(&mut app, KeyCode::Char('/'));
    check(&app);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('b'));
    check(&app);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('x'));
    check(&app);
    let mut rev = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    key(&mut rev, KeyCode::Enter);
    check(&rev);
    assert_eq!(seen, [ScreenId::SignIn, ScreenId::Queue, ScreenId::Coding, ScreenId::Search, ScreenId::Browse, ScreenId::Stats, ScreenId::Review]);
}

#[test]
fn a_batch_that_fails_is_retried_per_item_and_a_dead_worker_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let w = tiny_worker(&db);
    let store = Store::open(&db).unwrap();
    let (q2, q3) = (store.item("Q2").unwrap().id, store.item("Q3").unwrap().id);
    // Item 999 does not exist: storing its proposals fails, which fails the batch as a whole.
    w.jobs.send(worker::Job::Batch(vec![(q2, "hedache".into()), (999, "ghost".into()), (q3, "nausea".into())])).unwrap();
    let mut events = Vec::new();
    let start = Instant::now();
    while events.len() < 3 && start.elapsed() < Duration::from_secs(60) {
        if let Ok(ev) = w.events.recv_timeout(Duration::from_millis(100)) {
            events.push(ev);
        }
    }
    assert!(matches!(&events[0], worker::WorkerEvent::Ready { .. }), "{events:?}");
    assert_eq!(events[1], worker::WorkerEvent::Proposed(vec![q2, q3]), "{events:?}");
    assert!(matches!(&events[2], worker::WorkerEvent::ItemFailed { item_id: 999, .. }), "{events:?}");
    assert!(store.proposals(q2).unwrap().is_some() && store.proposals(q3).unwrap().is_some());

    // The desk: per-item failures are reported and the model stays available; a closed channel
    // (the worker thread gone) says the model stopped instead of spinning forever.
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let q2 = Store::open(&db).unwrap().item("Q2").unwrap().id;
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    app.attach_worker(std::sync::mpsc::channel().0);
    tx.send(worker::WorkerEvent::Ready { description: "d".into(), model_version: "m".into() }).unwrap();
    tx.send(worker::WorkerEvent::ItemFailed { item_id: q2, reason: "CUDA out of memory".into() }).unwrap();
    medcoder::tui::drain_worker(&mut app, &rx);
    let s = render(&app, 80, 24);
    // Q2's failure leaves the model at work on the other open items.
    assert!(s.contains("no proposals for Q2: CUDA out of memory") && s.contains("model: 2 to propose"), "{s}");
    drop(tx);
    medcoder::tui::drain_worker(&mut app, &rx);
    let s = render(&app, 80, 24);
    assert!(s.contains("model stopped: the proposal worker ended unexpectedly"), "{s}");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("No proposals: model stopped"), "no spinner forever");
}

/// bob's desk on the review of the "achy head" group.
fn review_achy_heads(db: &std::path::Path) -> App {
    let mut rev = App::new(Box::new(Store::open(db).unwrap()), Some("bob")).unwrap();
    rev.perform(Action::Group);
    let pos = rev.queue.groups.iter().position(|g| g.term == "achy head").unwrap();
    for _ in 0..pos {
        rev.perform(Action::Down);
    }
    rev.perform(Action::Select);
    assert_eq!(rev.screen(), ScreenId::Review);
    rev
}

/// G0-G2: three spellings of one term, for the grouped queue.
fn achy_heads() -> Vec<NewItem> {
    ["achy head", "Achy-head", "ACHY HEAD!"]
        .iter()
        .enumerate()
        .map(|(i, t)| NewItem {
            line: i + 2,
            report: Report { external_id: format!("G{i}"), study: "DEMO-1".into(), subject: "S-3".into(), reported_term: t.to_string(), ..Default::default() },
        })
        .collect()
}

#[test]
fn grouped_queue_codes_and_confirms_identical_terms_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut s = Store::open(&db).unwrap();
    s.import_items("alice", &achy_heads(), "test").unwrap();
    let mut app = App::new(Box::new(s), Some("alice")).unwrap();
    key(&mut app, KeyCode::Char('g'));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Coding queue by term") && screen.contains("achy head"), "{screen}");
    let pos = app.queue.groups.iter().position(|g| g.term == "achy head").unwrap();
    assert_eq!((app.queue.groups[pos].items, app.queue.groups[pos].to_code), (3, 3));
    let sizes: Vec<i64> = app.queue.groups.iter().map(|g| g.items).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest groups first: {sizes:?}");
    // `o` sorts items, not groups: it says so and changes nothing underneath.
    let sort = app.queue.sort;
    key(&mut app, KeyCode::Char('o'));
    assert!(render(&app, 80, 24).contains("Groups are listed largest first"));
    assert_eq!(app.queue.sort, sort);
    for _ in 0..pos {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.screen(), ScreenId::Coding);
    assert!(render(&app, 80, 24).contains("Group 'achy head': proposing codes all 3"), "{}", render(&app, 80, 24));
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "headache");
    key(&mut app, KeyCode::Enter);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("'achy head': 3 item(s) proposed: Headache"), "{screen}");
    assert_eq!(app.screen(), ScreenId::Queue);
    let st = Store::open(&db).unwrap();
    for id in ["G0", "G1", "G2"] {
        let it = st.item(id).unwrap();
        assert_eq!((it.state, it.source.as_deref(), it.proposer.as_deref()), (State::Proposed, Some("search"), Some("alice")));
        assert_eq!(st.log_entries(Some(it.id)).unwrap().iter().filter(|e| e.entry.action == "propose").count(), 1, "one log row per item");
    }
    // The ungrouped list shows the code each item was proposed with.
    key(&mut app, KeyCode::Char('g'));
    assert!(render(&app, 120, 30).contains("= Headache"), "{}", render(&app, 120, 30));

    // bob proposes one of them himself (another code), then confirms the group: his own is left out.
    let mut st = Store::open(&db).unwrap();
    let d = st.active_dictionary().unwrap();
    let code = d.llts.iter().find(|l| l.name == "Headache").unwrap().code;
    st.act(&d, "bob", "G2", None, medcoder::store::workflow::Action::Propose { llt: code, source: medcoder::store::workflow::Source::Search }).unwrap();
    let mut rev = review_achy_heads(&db);
    rev.perform(Action::Confirm);
    let screen = render(&rev, 80, 24);
    assert!(screen.contains("2 item(s) confirmed") && screen.contains("left out: G2"), "{screen}");
    let st = Store::open(&db).unwrap();
    assert_eq!(["G0", "G1", "G2"].map(|id| st.item(id).unwrap().state), [State::Confirmed, State::Confirmed, State::Proposed]);
}

#[test]
fn below_80x24_the_desk_says_so_and_takes_no_action_but_quit() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    {
        let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Char('2'));
    }
    let mut rev = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    key(&mut rev, KeyCode::Enter);
    assert_eq!(rev.screen(), ScreenId::Review);
    let s = render(&rev, 20, 5);
    assert!(s.contains("terminal") && s.contains("small"), "{s}");
    // At 20x5 the code is not visible: `a` must not confirm it.
    key(&mut rev, KeyCode::Char('a'));
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().state, State::Proposed);
    render(&rev, 80, 24);
    key(&mut rev, KeyCode::Char('a'));
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().state, State::Confirmed);
    render(&rev, 79, 24);
    key(&mut rev, KeyCode::Char('q'));
    assert!(rev.quit);
}

#[test]
fn control_characters_in_terms_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut s = Store::open(&db).unwrap();
    let evil = NewItem {
        line: 2,
        report: Report {
            external_id: "E1".into(),
            study: "DEMO-1".into(),
            subject: "S-9".into(),
            reported_term: "rash\u{1b}[2J\u{1b}]0;pwned\u{7}\nitch".into(),
            ..Default::default()
        },
    };
    s.import_items("alice", &[evil], "test").unwrap();
    let mut app = App::new(Box::new(s), Some("alice")).unwrap();
    let mut term = Terminal::new(TestBackend::new(120, 30)).unwrap();
    for k in [None, Some(KeyCode::End), Some(KeyCode::Enter)] {
        if let Some(k) = k {
            key(&mut app, k);
        }
        term.draw(|f| app.draw(f, Theme { color: false })).unwrap();
        let buf = term.backend().buffer().clone();
        assert!(buf.content().iter().all(|c| !c.symbol().chars().any(char::is_control)), "a control character reached the screen");
    }
    assert!(render(&app, 120, 30).contains("rash"), "the rest of the term is shown");
}

/// Outside a demo, the first confirm or return of a desk session is an electronic signature: the
/// reviewer's password, typed masked; a wrong one confirms nothing; later decisions of the session
/// do not ask again (issue #11).
#[test]
fn a_real_desk_signs_the_first_decision_with_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("real.db");
    let mut s = Store::open(&db).unwrap();
    let (rel, _) = medcoder::meddra::Release::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")).unwrap();
    s.import_release(None, &rel, "demo", true, false).unwrap();
    s.add_user(None, "admin", Role::Admin).unwrap();
    s.add_user(Some("admin"), "alice", Role::Coder).unwrap();
    s.add_user(Some("admin"), "bob", Role::Reviewer).unwrap();
    s.set_password("bob", "bob", &medcoder::identity::hash_password("bob-secret").unwrap()).unwrap();
    let items: Vec<NewItem> = [("R1", "sore leg"), ("R2", "queasy")]
        .iter()
        .enumerate()
        .map(|(i, (id, t))| NewItem {
            line: i + 2,
            report: Report { external_id: id.to_string(), study: "S".into(), subject: "1".into(), reported_term: t.to_string(), ..Default::default() },
        })
        .collect();
    s.import_items("alice", &items, "test").unwrap();
    let d = s.active_dictionary().unwrap();
    let code = |n: &str| d.llts.iter().find(|l| l.name == n).unwrap().code;
    for (id, llt) in [("R1", code("Leg pain")), ("R2", code("Nausea"))] {
        s.act(&d, "alice", id, None, medcoder::store::workflow::Action::Propose { llt, source: medcoder::store::workflow::Source::Manual }).unwrap();
    }
    drop(s);

    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    assert!(!render(&app, 80, 24).contains("DEMO bob"));
    app.queue.sel = app.queue.rows.iter().position(|r| r.item.external_id == "R1").unwrap();
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('a'));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("Your password (electronic signature"), "{screen}");
    typed(&mut app, "wrong-pass");
    let screen = render(&app, 80, 24);
    assert!(screen.contains("**********") && !screen.contains("wrong-pass"), "typed masked:\n{screen}");
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("Not signed: wrong password for bob"));
    assert_eq!(Store::open(&db).unwrap().item("R1").unwrap().state, State::Proposed);
    key(&mut app, KeyCode::Char('a'));
    typed(&mut app, "bob-secret");
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("R1 confirmed: Leg pain"));
    assert_eq!(Store::open(&db).unwrap().item("R1").unwrap().state, State::Confirmed);
    // R2 opens next; confirming it does not ask again in this session.
    key(&mut app, KeyCode::Char('a'));
    assert!(render(&app, 80, 24).contains("R2 confirmed: Nausea"));
}

/// Several desks on one queue: within a few seconds a desk shows what a colleague (or the proposal
/// service) committed, keeping its selection (from issue #12).
#[test]
fn a_desk_follows_what_colleagues_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut bob = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    let row = |app: &App, id: &str| app.queue.rows.iter().find(|r| r.item.external_id == id).unwrap().item.state;
    assert_eq!(row(&bob, "Q1"), State::New);
    bob.queue.sel = 1;
    for _ in 0..medcoder::tui::app::REFRESH_TICKS {
        bob.tick();
    }
    // Alice proposes Q1 at her desk.
    let mut alice = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    alice.queue.sel = alice.queue.rows.iter().position(|r| r.item.external_id == "Q1").unwrap();
    key(&mut alice, KeyCode::Enter);
    key(&mut alice, KeyCode::Char('2'));
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().state, State::Proposed);
    assert_eq!(row(&bob, "Q1"), State::New, "not yet looked");
    for _ in 0..medcoder::tui::app::REFRESH_TICKS {
        bob.tick();
    }
    assert_eq!(row(&bob, "Q1"), State::Proposed, "{:?} {:?}", bob.message, bob.screen());
    assert_eq!(bob.queue.sel, 1, "the selection is kept");
}

/// Issue #19, case 10: a group confirmation in the desk signs what the reviewer saw. bob opens
/// the group (Headache on screen), alice re-proposes its items as another code meanwhile, bob
/// presses confirm: nothing is confirmed with the code he never saw, and the items are named.
#[test]
fn a_group_confirmation_never_signs_a_code_changed_after_it_opened() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut s = Store::open(&db).unwrap();
    s.import_items("alice", &achy_heads(), "test").unwrap();
    let d = s.active_dictionary().unwrap();
    let code = |name: &str| d.llts.iter().find(|l| l.name == name && l.current).unwrap().code;
    use medcoder::store::workflow::{Action as Act, Source};
    for id in ["G0", "G1", "G2"] {
        s.act(&d, "alice", id, None, Act::Propose { llt: code("Headache"), source: Source::Search }).unwrap();
    }
    let mut rev = review_achy_heads(&db);
    assert!(render(&rev, 100, 30).contains("Headache"), "{}", render(&rev, 100, 30));
    // alice re-proposes two of them as another code while bob looks at Headache.
    let other = d.llts.iter().find(|l| l.current && l.name != "Headache").unwrap().code;
    for id in ["G1", "G2"] {
        s.act(&d, "alice", id, None, Act::Propose { llt: other, source: Source::Search }).unwrap();
    }
    rev.perform(Action::Confirm);
    let screen = render(&rev, 120, 30);
    assert!(screen.contains("1 item(s) confirmed") && screen.contains("left out: G1") && screen.contains("G2"), "{screen}");
    let st = Store::open(&db).unwrap();
    assert_eq!(["G0", "G1", "G2"].map(|id| st.item(id).unwrap().state), [State::Confirmed, State::Proposed, State::Proposed]);
    assert_eq!(st.item("G1").unwrap().llt_code, Some(other), "never confirmed: still alice's proposal");
}

#[test]
fn an_admin_recodes_a_confirmed_item_from_the_desk_with_a_logged_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    {
        let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
        key(&mut app, KeyCode::Enter);
        key(&mut app, KeyCode::Char('2'));
        let mut bob = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
        key(&mut bob, KeyCode::Enter);
        key(&mut bob, KeyCode::Char('a'));
    }
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().state, State::Confirmed);
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("admin")).unwrap();
    let open_q1 = |app: &mut App| {
        app.queue.sel = app.queue.rows.iter().position(|r| r.item.external_id == "Q1").unwrap();
        key(app, KeyCode::Enter);
        assert_eq!(app.screen(), ScreenId::Coding);
    };
    open_q1(&mut app);
    // A confirmed item is not put on query; choosing a code asks why it changes, and Esc keeps it.
    key(&mut app, KeyCode::Char('u'));
    assert!(render(&app, 80, 24).contains("not put on query"));
    key(&mut app, KeyCode::Char('1'));
    assert!(render(&app, 80, 24).contains("Recode: why"), "{}", render(&app, 80, 24));
    key(&mut app, KeyCode::Esc);
    assert!(render(&app, 80, 24).contains("Not recoded"));
    assert_eq!(Store::open(&db).unwrap().item("Q1").unwrap().state, State::Confirmed);
    // With a reason, the new code goes to review with the admin as its proposer, and the log says why.
    key(&mut app, KeyCode::Char('1'));
    typed(&mut app, "thigh pain, not the whole leg");
    key(&mut app, KeyCode::Enter);
    assert!(render(&app, 80, 24).contains("Q1 recoded, back to review"), "{}", render(&app, 80, 24));
    let store = Store::open(&db).unwrap();
    let q1 = store.item("Q1").unwrap();
    assert_eq!((q1.state, q1.proposer.as_deref(), q1.source.as_deref()), (State::Proposed, Some("admin"), Some("model")));
    let last = store.log_entries(Some(q1.id)).unwrap().pop().unwrap();
    assert_eq!((last.entry.action.as_str(), last.entry.comment.as_deref()), ("recode", Some("thigh pain, not the whole leg")));
    // The four-eye rule holds for a recode: the admin cannot confirm their own new code.
    drop(store);
    open_q1(&mut app);
    assert_eq!(app.screen(), ScreenId::Coding, "the admin's own proposal is not theirs to review");
}

#[test]
fn after_a_decision_the_desk_moves_on_only_to_items_the_user_can_act_on() {
    use medcoder::store::workflow::{Action as Decision, Source};
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let opened = |app: &App| app.ctx.open.as_ref().map(|v| v.item.external_id.clone());
    {
        // Q2 is bob's own proposal, Q3 goes on query, Q4 is new.
        let mut s = Store::open(&db).unwrap();
        let d = s.active_dictionary().unwrap();
        let llt = d.llts.iter().find(|l| l.current).unwrap().code;
        s.act(&d, "bob", "Q2", None, Decision::Propose { llt, source: Source::Search }).unwrap();
        s.act(&d, "alice", "Q3", None, Decision::Query { note: "ask the site".into() }).unwrap();
        let q4 = NewItem {
            line: 2,
            report: Report { external_id: "Q4".into(), study: "DEMO-1".into(), subject: "S-2".into(), reported_term: "itchy".into(), ..Default::default() },
        };
        s.import_items("alice", &[q4], "test").unwrap();
    }
    // A coder passes over the proposed and query items to the next one to code.
    let mut alice = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut alice, KeyCode::Enter);
    assert_eq!(opened(&alice).as_deref(), Some("Q1"));
    key(&mut alice, KeyCode::Char('1'));
    assert_eq!(opened(&alice).as_deref(), Some("Q4"));
    // A reviewer passes over their own proposal (Q2) and the query; after the last, the list shows.
    let mut bob = App::new(Box::new(Store::open(&db).unwrap()), Some("bob")).unwrap();
    key(&mut bob, KeyCode::Enter);
    assert_eq!(opened(&bob).as_deref(), Some("Q1"));
    key(&mut bob, KeyCode::Char('a'));
    assert_eq!(opened(&bob).as_deref(), Some("Q4"));
    key(&mut bob, KeyCode::Char('u'));
    typed(&mut bob, "which part of the body?");
    key(&mut bob, KeyCode::Enter);
    assert_eq!(opened(&bob), None);
    assert!(render(&bob, 80, 24).contains("Nothing further down this list waits for you"), "{}", render(&bob, 80, 24));
    // An item on query says how long it has waited and what the site was asked.
    bob.queue.sel = bob.queue.rows.iter().position(|r| r.item.external_id == "Q3").unwrap();
    key(&mut bob, KeyCode::Enter);
    assert!(render(&bob, 80, 24).contains("On query for 0 day(s), asked by alice: ask the site"), "{}", render(&bob, 80, 24));
}

#[test]
fn one_key_picks_the_state_filter() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let mut app = App::new(Box::new(Store::open(&db).unwrap()), Some("alice")).unwrap();
    key(&mut app, KeyCode::Char('t'));
    let s = render(&app, 80, 24);
    assert!(s.contains("Show: a all n new p proposed r returned u query e answered s split c confirmed"), "{s}");
    // A key that is no state leaves the prompt up; u picks "query" here (q only ever quits).
    key(&mut app, KeyCode::Char('x'));
    assert!(render(&app, 80, 24).contains("Show: a all"));
    key(&mut app, KeyCode::Char('u'));
    assert!(!app.quit);
    assert_eq!(app.queue.state_filter, Some(State::Query));
    key(&mut app, KeyCode::Char('t'));
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(app.queue.state_filter, Some(State::Proposed));
    assert!(app.queue.rows.iter().all(|r| r.item.state == State::Proposed) && !app.queue.rows.is_empty());
    // Esc keeps the filter; a shows everything again.
    key(&mut app, KeyCode::Char('t'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.queue.state_filter, Some(State::Proposed));
    key(&mut app, KeyCode::Char('t'));
    key(&mut app, KeyCode::Char('a'));
    assert_eq!((app.queue.state_filter, app.queue.rows.len()), (None, 3));
}

/// An item from an SDTM record shows the record's clinical context under its term: severity,
/// causality, outcome and the serious criteria that hold (issue #22).
#[test]
fn an_sdtm_item_shows_its_records_context() {
    use medcoder::store::api::DeskStore;
    let dir = tempfile::tempdir().unwrap();
    let db = demo_store(dir.path());
    let ae = dir.path().join("ae.json");
    let cols = [
        ("STUDYID", "Study Identifier"),
        ("USUBJID", "Unique Subject Identifier"),
        ("AESEQ", "Sequence Number"),
        ("AETERM", "Reported Term for the Adverse Event"),
        ("AESEV", "Severity/Intensity"),
        ("AESER", "Serious Event"),
        ("AEREL", "Causality"),
        ("AEOUT", "Outcome of Adverse Event"),
        ("AESHOSP", "Requires or Prolongs Hospitalization"),
        ("AESDTH", "Results in Death"),
    ]
    .map(|(n, l)| format!(r#"{{"itemOID":"IT.AE.{n}","name":"{n}","label":"{l}","dataType":"{}"}}"#, if n == "AESEQ" { "integer" } else { "string" }))
    .join(",");
    std::fs::write(
        &ae,
        format!(r#"{{"name":"AE","label":"Adverse Events","columns":[{cols}],"rows":[["DEMO-1","S-7",1,"faint after dose","SEVERE","Y","PROBABLE","RECOVERED/RESOLVED","Y","N"]]}}"#),
    )
    .unwrap();
    let received = medcoder::intake::sdtm::receive(&ae).unwrap().unwrap();
    let mut store = Store::open(&db).unwrap();
    DeskStore::import_dataset(&mut store, "alice", &received, "ae.json").unwrap();
    let mut app = App::new(Box::new(store), Some("alice")).unwrap();
    key(&mut app, KeyCode::Char('f'));
    typed(&mut app, "faint");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.ctx.open.as_ref().unwrap().item.external_id, "DEMO-1-S-7-AE1");
    let s = render(&app, 80, 24);
    insta::assert_snapshot!("coding_sdtm_context", s);
    assert!(s.contains("Record: serious: hospitalisation · severity SEVERE · causality PROBABLE"), "{s}");
    assert!(render(&app, 110, 24).contains("outcome RECOVERED/RESOLVED"));
    assert!(!s.contains("death"), "a criterion that does not hold is not shown: {s}");
}
