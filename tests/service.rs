//! The proposal service's rounds, in process with a tiny random encoder: a bad item is reported
//! and skipped while the rest of the queue gets proposals, and skipped items stay skipped.

use std::collections::HashSet;
use std::sync::Arc;

use medcoder::engine::{service, Engine};
use medcoder::intake::queue::{NewItem, Report};
use medcoder::model::bert::BertConfig;
use medcoder::model::tokenize::Tok;
use medcoder::model::Encoder;
use medcoder::store::users::Role;
use medcoder::store::Store;

#[test]
fn a_bad_item_is_skipped_and_the_rest_proposed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let mut s = Store::open(&db).unwrap();
    let (rel, _) = medcoder::meddra::Release::read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")).unwrap();
    s.import_release(None, &rel, "demo", false, false).unwrap();
    s.add_user(None, "alice", Role::Coder).unwrap();
    let items: Vec<NewItem> = ["sore leg", "poison pill", "queasy", "itchy"]
        .iter()
        .enumerate()
        .map(|(i, t)| NewItem {
            line: i + 2,
            report: Report { external_id: format!("S{i}"), study: "S".into(), subject: "1".into(), reported_term: t.to_string(), ..Default::default() },
        })
        .collect();
    s.import_items("alice", &items, "test").unwrap();
    let poison = s.item("S1").unwrap().id;
    // Writing this item's proposals fails (as a term that crashes the model would).
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(&format!("CREATE TRIGGER poison BEFORE INSERT ON item_proposals WHEN NEW.item_id = {poison} BEGIN SELECT RAISE(ABORT, 'poisoned'); END;"))
        .unwrap();
    drop(c);

    let dict = Arc::new(s.active_dictionary().unwrap());
    let tok = Arc::new(Tok::load(&medcoder::model::default_base_dir().join("tokenizer.json")).unwrap());
    tch::manual_seed(1);
    let enc = Encoder::random(&BertConfig::tiny(tok.vocab_size() as i64), tok, tch::Device::Cpu);
    let mut engine = Engine::builder(dict).encoder(enc, None, "m-test").build().unwrap();
    let mut skip = HashSet::new();
    let r = service::round(&mut engine, &mut s, &mut skip).unwrap();
    assert_eq!(r.proposed, 3);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].0, poison);
    assert!(r.failed[0].1.contains("poisoned"), "{:?}", r.failed);
    assert!(skip.contains(&poison));
    // The next round has nothing to do: the bad item is not retried in a loop.
    assert_eq!(service::round(&mut engine, &mut s, &mut skip).unwrap(), service::Round::default());
}
