//! The tch BERT encoder reproduces transformers' BertModel (fixture made by
//! scripts/make_bert_fixture.py with transformers 4.57.1 / torch 2.11.0) within 1e-4.

use medcoder::model::bert::{l2_normalize, mean_pool};
use medcoder::model::{BaseModel, Encoder};
use tch::{Device, Kind, Tensor};

fn fixture() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn minilm_matches_transformers_within_1e_4() {
    let base = BaseModel::locate(None).expect("the test command installs the base encoder (scripts/setup)");
    let enc = Encoder::pretrained(&base, Device::Cpu).unwrap();
    for case in fixture()["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let b = enc.tok.encode(&[text], Device::Cpu).unwrap();
        let ids: Vec<i64> = Vec::<i64>::try_from(b.ids.get(0)).unwrap();
        let want_ids: Vec<i64> = case["ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(ids, want_ids, "{text}: token ids");
        let h = tch::no_grad(|| enc.bert.forward_t(&b.ids, &b.mask, Some(&b.type_ids), false));
        let rows: Vec<Vec<f32>> =
            case["hidden_first16"].as_array().unwrap().iter().map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()).collect();
        let want = Tensor::from_slice(&rows.concat()).view([rows.len() as i64, 16]);
        let got = h.get(0).narrow(1, 0, 16);
        let d = max_diff(&got, &want);
        assert!(d < 1e-4, "{text}: hidden states differ by {d}");
        let pooled: Vec<f32> = case["pooled"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let got = l2_normalize(&mean_pool(&h, &b.mask)).get(0);
        let d = max_diff(&got, &Tensor::from_slice(&pooled));
        assert!(d < 1e-4, "{text}: pooled embedding differs by {d}");
    }
}

#[test]
fn batch_padding_does_not_change_embeddings() {
    let base = BaseModel::locate(None).unwrap();
    let enc = Encoder::pretrained(&base, Device::Cpu).unwrap();
    let texts = ["rash", "pain of right thigh to the knee with swelling", "ALT increased"];
    let together = enc.embed(&texts, 8, None).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let alone = enc.embed(&[t], 1, None).unwrap();
        let d = max_diff(&together.get(i as i64), &alone.get(0));
        assert!(d < 1e-5, "{t}: {d}");
    }
}

#[test]
fn fp16_copy_is_upcast_on_load() {
    let base = BaseModel::locate(None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tensors = Tensor::read_safetensors(&base.weights).unwrap();
    let half: Vec<(String, Tensor)> = tensors.into_iter().map(|(n, t)| (n, if t.kind() == Kind::Float { t.to_kind(Kind::Half) } else { t })).collect();
    Tensor::write_safetensors(&half, dir.path().join("model.fp16.safetensors")).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(base.dir.join(f), dir.path().join(f)).unwrap();
    }
    let small = BaseModel::locate(Some(dir.path())).unwrap();
    let enc16 = Encoder::pretrained(&small, Device::Cpu).unwrap();
    assert!(enc16.vs.variables().values().all(|v| v.kind() == Kind::Float), "weights are fp32 after load");
    let enc32 = Encoder::pretrained(&base, Device::Cpu).unwrap();
    let a = enc16.embed(&["nausea and vomiting"], 1, None).unwrap();
    let b = enc32.embed(&["nausea and vomiting"], 1, None).unwrap();
    assert!(max_diff(&a, &b) < 5e-3);
}

#[test]
fn non_bert_checkpoints_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type":"mpnet","vocab_size":10,"hidden_size":8,"num_hidden_layers":1,"num_attention_heads":1,"intermediate_size":8,"max_position_embeddings":8}"#).unwrap();
    let e = BaseModel::locate(Some(dir.path())).unwrap_err().to_string();
    assert!(e.contains("not BERT"), "{e}");
    let e = BaseModel::locate(Some(&dir.path().join("nope"))).unwrap_err().to_string();
    assert!(e.contains("not found"), "{e}");
}

#[test]
fn cli_half_copy_gives_the_same_proposals() {
    #[path = "common/mod.rs"]
    mod common;
    let env = common::Env::new();
    env.ok(&["dict", "import", common::s(&common::demo_dir())]);
    let half = env.dir.path().join("half");
    let out = env.ok(&["model", "half", common::s(&medcoder::model::default_base_dir()), common::s(&half)]);
    assert!(out.contains("model.fp16.safetensors (45 MB)"), "{out}");
    let a = env.ok(&["predict", "pain of right thigh to the knee"]);
    let b = env.ok(&["predict", "pain of right thigh to the knee", "--base", common::s(&half)]);
    let top = |s: &str| s.lines().nth(2).unwrap().split_whitespace().nth(2).unwrap().to_string();
    assert_eq!(top(&a), top(&b), "{a}\n{b}");
}
