"""DynamicGate's table, reproduced honestly: for each low-bit target, the llama.cpp-standard mix, DynamicGate
(published patch and the model card's reading) and the budget plan at DynamicGate's size, each quantized
with dgkernels and scored with llama.cpp (perplexity and KL-divergence to the source model).

    python benchmarks/dynamicgate_table.py --calib ../shared/data/emma_calib.txt \
        --text ../shared/data/pride_and_prejudice.txt --chunks 40 --out-dir /tmp/dgtable

Needs llama-cpp-python (extra `eval`) and, without --model, the demo model (extra `demo`). IQ1_S, IQ2_XXS and
IQ2_XS cannot be encoded without an importance matrix: give --imatrix, or --calib to compute one here with a
small numpy forward pass of the (Llama-architecture) model, llama-imatrix style: mean squared input of every
matrix multiplication over chunks of 512 tokens.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from dgkernels import quantizer  # noqa: E402
from dgkernels.evaluate import evaluate  # noqa: E402
from dgkernels.gguf_io import field, model_spec, open_gguf, tensor_f32  # noqa: E402
from dgkernels.imatrix_io import Imatrix, load_imatrix, save_imatrix  # noqa: E402
from dgkernels.policy import make_plan  # noqa: E402

TARGETS = ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S")
POLICIES = ("llama", "dynamicgate", "dynamicgate-card", "budget")


# ---- a llama-imatrix stand-in: numpy forward pass of a Llama-architecture GGUF --------------------------

def _rms(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def _rope(x, pos, base):
    """ggml's normal RoPE: consecutive pairs (2i, 2i+1) rotated by pos * base^(-2i/d). x: (T, H, d)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = pos[:, None] * inv[None, :]
    c, s = np.cos(ang)[:, None, :].astype(np.float32), np.sin(ang)[:, None, :].astype(np.float32)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = a * s + b * c
    return out


def compute_imatrix(model_path, text_path, chunks=16, n_ctx=512, log=print) -> Imatrix:
    import llama_cpp
    r = open_gguf(model_path)
    arch = field(r, "general.architecture")
    if arch != "llama":
        raise SystemExit(f"the built-in imatrix pass handles Llama-architecture models only, not {arch}")
    hp = lambda k, d=None: field(r, f"{arch}.{k}", d)  # noqa: E731
    n_layer, n_head, n_kv = hp("block_count"), hp("attention.head_count"), hp("attention.head_count_kv")
    eps, base = hp("attention.layer_norm_rms_epsilon"), hp("rope.freq_base", 10000.0)
    rts = {t.name: t for t in r.tensors}
    W = {n: tensor_f32(r, t).reshape(-1, int(t.shape[0])) for n, t in rts.items()}
    tok = llama_cpp.Llama(model_path=str(model_path), vocab_only=True, verbose=False)
    ids = tok.tokenize(Path(text_path).read_text(encoding="utf-8").encode(), add_bos=True, special=False)
    n_chunk = min(chunks, len(ids) // n_ctx)
    sums = {}

    def mm(name, x):
        s = sums.setdefault(name, [np.zeros(x.shape[-1], np.float64), 0])
        s[0] += (x.astype(np.float64) ** 2).sum(0)
        s[1] += x.shape[0]
        return x @ W[name].T

    out_name = "output.weight" if "output.weight" in W else "token_embd.weight"
    t0 = time.perf_counter()
    for c in range(n_chunk):
        toks = np.array(ids[c * n_ctx:(c + 1) * n_ctx])
        toks[0] = tok.token_bos()
        x = W["token_embd.weight"][toks]
        pos = np.arange(len(toks), dtype=np.float64)
        mask = np.triu(np.full((len(toks), len(toks)), -np.inf, np.float32), 1)
        for i in range(n_layer):
            p = f"blk.{i}."
            h = _rms(x, W[p + "attn_norm.weight"][0], eps)
            q = mm(p + "attn_q.weight", h).reshape(len(toks), n_head, -1)
            k = mm(p + "attn_k.weight", h).reshape(len(toks), n_kv, -1)
            v = mm(p + "attn_v.weight", h).reshape(len(toks), n_kv, -1)
            q, k = _rope(q, pos, base), _rope(k, pos, base)
            rep = n_head // n_kv
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            att = np.einsum("thd,shd->hts", q, k) / np.float32(np.sqrt(q.shape[-1])) + mask
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            o = np.einsum("hts,shd->thd", att, v).reshape(len(toks), -1)
            x = x + mm(p + "attn_output.weight", o)
            h = _rms(x, W[p + "ffn_norm.weight"][0], eps)
            g = mm(p + "ffn_gate.weight", h)
            u = mm(p + "ffn_up.weight", h)
            x = x + mm(p + "ffn_down.weight", g / (1 + np.exp(-g)) * u)
        mm(out_name, _rms(x, W["output_norm.weight"][0], eps))
        log(f"imatrix: chunk {c + 1}/{n_chunk} ({time.perf_counter() - t0:.0f} s)")
    values = {n: (s / cnt).astype(np.float32).reshape(1, -1) for n, (s, cnt) in sums.items()}
    counts = {n: np.array([cnt]) for n, (s, cnt) in sums.items()}
    return Imatrix(values, counts, datasets=[Path(text_path).name], chunk_count=n_chunk, chunk_size=n_ctx)


# ---- the table --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="source GGUF (default: the demo model, SmolLM2-135M-Instruct)")
    ap.add_argument("--imatrix", help="importance matrix file (else computed from --calib)")
    ap.add_argument("--calib", help="calibration text for the imatrix (e.g. emma_calib.txt)")
    ap.add_argument("--calib-chunks", type=int, default=16)
    ap.add_argument("--text", required=True, help="evaluation text (e.g. pride_and_prejudice.txt)")
    ap.add_argument("--chunks", type=int, default=40, help="evaluation chunks of 512 tokens")
    ap.add_argument("--targets", nargs="+", default=list(TARGETS))
    ap.add_argument("--out-dir", default="dgtable", help="where the quantized files go")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    src = Path(a.model) if a.model else quantizer.demo_model_path()
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if a.imatrix:
        im = load_imatrix(a.imatrix)
    elif a.calib:
        imf = out / "imatrix.gguf"
        if not imf.exists():
            save_imatrix(compute_imatrix(src, a.calib, a.calib_chunks, log=lambda m: print(m, file=sys.stderr)), imf)
        im = load_imatrix(imf)
    else:
        im = None
    reader = open_gguf(src)
    model = model_spec(reader, src.stem)
    errors = None
    rows, files = [], []
    t_start = time.perf_counter()
    for target in a.targets:
        plans = {p: make_plan(model, p, target, has_imatrix=im is not None) for p in POLICIES[:3]}
        dg_bytes = plans["dynamicgate"].total_bytes
        plans["budget"] = quantizer.budget_plan(reader, model, target=target, imatrix=im, target_bytes=dg_bytes,
                                                threads=a.threads, errors=errors)
        errors = plans["budget"].budget["errors"]  # measured once, reused for every target
        row = {"target": target, "plans": {}}
        for name, plan in plans.items():
            path = out / f"{src.stem}-{name}-{target}.gguf"
            if not path.exists():
                try:
                    quantizer.quantize_file(src, path, plan, imatrix=im, threads=a.threads, progress=False)
                except ValueError as e:
                    print(f"{target} {name}: skipped ({e})", file=sys.stderr)
                    continue
            row["plans"][name] = {"file": str(path), "bytes": plan.total_bytes, "bpw": plan.bits_per_weight}
            files.append(path)
        rows.append(row)
    res = evaluate(src, files, text_path=a.text, chunks=a.chunks, threads=a.threads, progress=True)
    by_file = {r["model"]: r for r in res["results"]}
    for row in rows:
        for v in row["plans"].values():
            v.update({k: by_file[v["file"]][k] for k in ("ppl", "kld", "kld_stderr", "top1_agreement")})
    print(table(rows, res, src, im, a))
    print(f"\n(total {time.perf_counter() - t_start:.0f} s)", file=sys.stderr)
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "eval": res}, indent=1))
    return 0


def table(rows, res, src, im, a) -> str:
    head = ["target"] + [f"{p} MiB / bpw / PPL / KLD" for p in POLICIES] + ["Δ KLD DG vs llama", "Δ KLD budget vs DG"]
    lines = [f"model {src.name} (base PPL {res['base_ppl']:.3f}); eval {Path(res['text']).name}, "
             f"{res['chunks']} x {res['n_ctx']} tokens, second half scored; imatrix "
             f"{Path(im.path).name + ' (' + str(im.chunk_count) + ' chunks)' if im else 'none'}",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["target"]]
        for p in POLICIES:
            v = row["plans"].get(p)
            cells.append("n/a" if v is None else
                         f"{v['bytes'] / 2**20:.2f} / {v['bpw']:.3f} / {v['ppl']:.3f} / {v['kld']:.4f}")
        pl = row["plans"]

        def rel(x, y):
            return "n/a" if x not in pl or y not in pl else f"{100 * (pl[x]['kld'] / pl[y]['kld'] - 1):+.1f}%"
        cells += [rel("dynamicgate", "llama"), rel("budget", "dynamicgate")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
