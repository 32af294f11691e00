"""Single-thread encode speed of the IQ formats in CPU time: dgkernels AVX2, dgkernels scalar and
ggml (libgguf, LIBGGUF_NUM_THREADS=1), measured in the same run.

CPU time (time.process_time) rather than wall time, so that other processes sharing the cores
change the figures little: each encoder runs `--reps` times on the same N(0,1) rows (the three
interleaved, so slow drifts hit all alike) and the smallest CPU time is kept. ggml builds its
IQ1/IQ2 search tables on first use (tens of seconds); every encoder is warmed up on one row first.
The outputs are compared byte for byte (dgkernels scalar vs AVX2, and vs ggml).

    PYTHONPATH=python python3 benchmarks/iq_encode_cputime.py [--rows 64] [--cols 4096] [--reps 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["LIBGGUF_NUM_THREADS"] = "1"  # read by libgguf when it is imported

import numpy as np

FORMATS = ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S"]


def _version(mod: str) -> str:
    from importlib.metadata import version
    try:
        return version(mod)
    except Exception:
        return "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--no-ggml", action="store_true", help="skip libgguf")
    args = ap.parse_args(argv)

    import dgkernels as dg

    lg = None
    if not args.no_ggml:
        try:
            import libgguf as lg
        except ImportError:
            print("libgguf not installed: no ggml column", file=sys.stderr)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, args.cols)).astype(np.float32)
    im = np.exp(rng.standard_normal(args.cols)).astype(np.float32)
    isas = [i for i in ("avx2", "scalar") if i in dg.available_isas()]
    mw = args.rows * args.cols / 1e6

    print(f"# {args.rows}x{args.cols} N(0,1) float32, imatrix exp(N(0,1)); 1 thread; best CPU time of "
          f"{args.reps}; Mw/s = million weights per CPU second; libgguf {_version('libgguf') if lg else '-'}")
    hdr = f"{'format':8} " + " ".join(f"{i + ' Mw/s':>12}" for i in isas)
    hdr += f" {'ggml Mw/s':>10} {'avx2/ggml':>9} {'avx2/scalar':>11} {'bytes':>6}"
    print(hdr)
    for name in args.formats.split(","):
        f = dg.format_info(name)
        run = {}
        for i in isas:
            def enc(i=i, k=args.rows):
                with dg.using_isa(i):
                    return dg.quantize(x[:k], f, imatrix=im, threads=1)
            run[i] = enc
        if lg is not None:
            run["ggml"] = lambda k=args.rows: lg.quantize_rows(x[:k], f.type_id, im)
        for fn in run.values():  # warm-up: tables, first-touch
            fn(k=1)
        best = {k: float("inf") for k in run}
        outs = {}
        for _ in range(args.reps):
            for k, fn in run.items():
                t0 = time.process_time()
                outs[k] = fn()
                best[k] = min(best[k], time.process_time() - t0)
        rate = {k: mw / v for k, v in best.items()}
        same = all(np.array_equal(np.asarray(outs[k]).ravel(), np.asarray(outs[isas[0]]).ravel()) for k in outs)
        line = f"{name:8} " + " ".join(f"{rate[i]:12.3f}" for i in isas)
        g = rate.get("ggml")
        line += f" {g:10.3f}" if g else f" {'-':>10}"
        line += f" {rate['avx2'] / g:9.2f}" if g and "avx2" in rate else f" {'-':>9}"
        line += f" {rate['avx2'] / rate['scalar']:11.2f}" if "scalar" in rate and "avx2" in rate else f" {'-':>11}"
        line += f" {'same' if same else 'DIFF':>6}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
