"""A/B of extension builds in one process: encode speed of several `_core` modules, timed in turns.

On a shared machine whose speed drifts by 20% and more over minutes, two builds timed in separate
processes (or one after the other) differ by the phases they happened to hit. Here every round times
each build once on the same rows (CPU time) and the figure per build is the median over rounds of
t(first build) / t(build): both see the same phases. The outputs are compared byte for byte.

Each build is loaded under its own module name: importing a second file as `_core` returns the module
already loaded, and the A/B would compare a build with itself.

    PYTHONPATH=python python3 tools/ab_builds.py IQ3_XXS,IQ3_S OLD/_core*.so NEW/_core*.so [--rounds 40]
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import time

import numpy as np

import dgkernels as dg


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("formats")
    ap.add_argument("builds", nargs="+", help="paths of _core extension files; the first is the baseline")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--rows", type=int, default=32)
    a = ap.parse_args(argv)
    mods = []
    for i, path in enumerate(a.builds):
        spec = importlib.util.spec_from_file_location(f"ab{i}._core", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((a.rows, 4096)).astype(np.float32)
    im = np.exp(rng.standard_normal(4096)).astype(np.float32)
    for name in a.formats.split(","):
        f = dg.format_info(name)
        imatrix = im if f.imatrix != "ignored" else None
        outs = [np.zeros((a.rows, f.row_bytes(4096)), np.uint8) for _ in mods]

        def encode(j, rows):
            m = mods[j]
            m.encode(f.index, x[:rows], outs[j][:rows], imatrix, rows, 4096, 1, m.active_isa(), check_finite=True)

        for j in range(len(mods)):
            encode(j, 1)  # lazy tables
        ratios = [[] for _ in mods]
        for _ in range(a.rounds):
            t = []
            for j in range(len(mods)):
                t0 = time.process_time()
                encode(j, a.rows)
                t.append(time.process_time() - t0)
            for j in range(len(mods)):
                ratios[j].append(t[0] / t[j])
        same = ["same" if np.array_equal(o, outs[0]) else "DIFF" for o in outs[1:]]
        print(f"{name:8s} speed vs first build (median of {a.rounds} rounds): "
              + "  ".join(f"{statistics.median(r):.3f} {s}" for r, s in zip(ratios[1:], same)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
