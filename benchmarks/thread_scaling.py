"""Thread scaling of encode and decode: 4096x4096 N(0,1) float32 (64 MiB), 1 thread against N
threads (default: every core this process may use), wall time, best of --reps, interleaved so that
drifts in machine load hit both alike. The bytes are compared for every thread count. GB/s columns:
float32 read by the encoder, float32 written by the decoder (with N threads), to compare with the
machine's memory bandwidth with 1 and 2 threads (benchmarks/membw.c measures it): a path that one
thread already runs at that bandwidth cannot scale past the machine's own 2-thread / 1-thread ratio.

    PYTHONPATH=python python3 benchmarks/thread_scaling.py [--formats Q4_K,Q8_0] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import dgkernels as dg

DEFAULT_FORMATS = "Q4_0,Q8_0,Q4_K,Q6_K,IQ4_XS,IQ2_XXS"


def _best(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default=DEFAULT_FORMATS)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)

    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    im = np.random.default_rng(1).exponential(1.0, args.cols).astype(np.float32)
    nt = args.threads
    print(f"dgkernels {dg.__version__} thread scaling: {args.rows}x{args.cols}, isa={dg.isa()}, "
          f"1 vs {nt} threads, wall time best of {args.reps}")
    print(f"{'format':8} {'enc 1t ms':>10} {f'enc {nt}t ms':>10} {'x':>6} {'GB/s':>6} "
          f"{'dec 1t ms':>10} {f'dec {nt}t ms':>10} {'x':>6} {'GB/s':>6}")
    for name in args.formats.split(","):
        f = dg.format_info(name)
        imat = im if f.requires_imatrix else None
        enc = {t: [] for t in (1, nt)}
        dec = {t: [] for t in (1, nt)}
        q = {t: dg.quantize(x, f, imatrix=imat, threads=t) for t in (1, nt)}
        if not np.array_equal(q[1], q[nt]):
            raise SystemExit(f"{name}: bytes differ between 1 and {nt} threads")
        out = np.empty_like(x)
        for _ in range(args.reps):
            for t in (1, nt):
                enc[t].append(_best(lambda: dg.quantize(x, f, imatrix=imat, threads=t), 1))
                dec[t].append(_best(lambda: dg.dequantize(q[1], f, out=out, threads=t), 1))
        e1, en, d1, dn = min(enc[1]), min(enc[nt]), min(dec[1]), min(dec[nt])
        gb = x.nbytes / 1e9
        print(f"{name:8} {e1 * 1e3:10.1f} {en * 1e3:10.1f} {e1 / en:6.2f} {gb / en:6.1f} "
              f"{d1 * 1e3:10.1f} {dn * 1e3:10.1f} {d1 / dn:6.2f} {gb / dn:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
