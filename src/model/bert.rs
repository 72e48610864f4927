//! A BERT encoder in tch whose variable names match Hugging Face's BertModel safetensors, so the
//! weights of any BERT-family checkpoint load directly.

use serde::Deserialize;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct BertConfig {
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    #[serde(default = "two")]
    pub type_vocab_size: i64,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default)]
    pub model_type: Option<String>,
}

fn two() -> i64 {
    2
}
fn eps() -> f64 {
    1e-12
}
fn dropout() -> f64 {
    0.1
}

impl BertConfig {
    /// A tiny configuration for tests: fast to run, random weights.
    pub fn tiny(vocab_size: i64) -> BertConfig {
        BertConfig {
            vocab_size,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            max_position_embeddings: 128,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            model_type: Some("bert".into()),
        }
    }
}

#[derive(Debug)]
struct Layer {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    attn_out: nn::Linear,
    attn_norm: nn::LayerNorm,
    intermediate: nn::Linear,
    output: nn::Linear,
    out_norm: nn::LayerNorm,
}

#[derive(Debug)]
pub struct Bert {
    word: nn::Embedding,
    position: nn::Embedding,
    token_type: nn::Embedding,
    emb_norm: nn::LayerNorm,
    layers: Vec<Layer>,
    pub config: BertConfig,
}

impl Bert {
    /// Builds the encoder under `p` (the var store root for a plain HF checkpoint).
    pub fn new(p: &nn::Path, c: &BertConfig) -> Bert {
        let ln = nn::LayerNormConfig { eps: c.layer_norm_eps, ..Default::default() };
        let e = p / "embeddings";
        let emb_cfg = Default::default();
        let h = c.hidden_size;
        let layers = (0..c.num_hidden_layers)
            .map(|i| {
                let l = p / "encoder" / "layer" / i;
                let a = &l / "attention";
                Layer {
                    query: nn::linear(&a / "self" / "query", h, h, Default::default()),
                    key: nn::linear(&a / "self" / "key", h, h, Default::default()),
                    value: nn::linear(&a / "self" / "value", h, h, Default::default()),
                    attn_out: nn::linear(&a / "output" / "dense", h, h, Default::default()),
                    attn_norm: nn::layer_norm(&a / "output" / "LayerNorm", vec![h], ln),
                    intermediate: nn::linear(&l / "intermediate" / "dense", h, c.intermediate_size, Default::default()),
                    output: nn::linear(&l / "output" / "dense", c.intermediate_size, h, Default::default()),
                    out_norm: nn::layer_norm(&l / "output" / "LayerNorm", vec![h], ln),
                }
            })
            .collect();
        Bert {
            word: nn::embedding(&e / "word_embeddings", c.vocab_size, h, emb_cfg),
            position: nn::embedding(&e / "position_embeddings", c.max_position_embeddings, h, emb_cfg),
            token_type: nn::embedding(&e / "token_type_embeddings", c.type_vocab_size, h, emb_cfg),
            emb_norm: nn::layer_norm(&e / "LayerNorm", vec![h], ln),
            layers,
            config: c.clone(),
        }
    }

    /// Hidden states [batch, tokens, hidden]. `mask` is 1 for real tokens, 0 for padding.
    pub fn forward_t(&self, ids: &Tensor, mask: &Tensor, type_ids: Option<&Tensor>, train: bool) -> Tensor {
        let (b, t) = ids.size2().expect("ids are [batch, tokens]");
        let c = &self.config;
        let positions = Tensor::arange(t, (Kind::Int64, ids.device())).unsqueeze(0);
        let types = match type_ids {
            Some(tt) => self.token_type.forward(tt),
            None => self.token_type.forward(&Tensor::zeros([b, t], (Kind::Int64, ids.device()))),
        };
        let mut x = (self.word.forward(ids) + self.position.forward(&positions) + types).apply(&self.emb_norm);
        x = x.dropout(c.hidden_dropout_prob, train);
        let heads = c.num_attention_heads;
        let hd = c.hidden_size / heads;
        // Boolean mask broadcast over heads and query positions: true where a key may be attended.
        let attn_mask = mask.gt(0).view([b, 1, 1, t]);
        let split = |y: Tensor| y.view([b, t, heads, hd]).transpose(1, 2);
        for l in &self.layers {
            let q = split(x.apply(&l.query));
            let k = split(x.apply(&l.key));
            let v = split(x.apply(&l.value));
            let p_drop = if train { c.attention_probs_dropout_prob } else { 0.0 };
            let ctx = Tensor::scaled_dot_product_attention(&q, &k, &v, Some(&attn_mask), p_drop, false, None, false);
            let ctx = ctx.transpose(1, 2).contiguous().view([b, t, c.hidden_size]);
            let a = (ctx.apply(&l.attn_out).dropout(c.hidden_dropout_prob, train) + &x).apply(&l.attn_norm);
            let inter = a.apply(&l.intermediate).gelu("none");
            x = (inter.apply(&l.output).dropout(c.hidden_dropout_prob, train) + a).apply(&l.out_norm);
        }
        x
    }
}

/// Mean of the token states over real tokens: [batch, hidden].
pub fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Tensor {
    let m = mask.unsqueeze(-1).to_kind(hidden.kind());
    (hidden * &m).sum_dim_intlist(1, false, hidden.kind()) / m.sum_dim_intlist(1, false, hidden.kind()).clamp_min(1e-9)
}

/// Rows scaled to unit length.
pub fn l2_normalize(x: &Tensor) -> Tensor {
    x / x.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12)
}
