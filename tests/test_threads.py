"""Threading: any thread count gives the same bytes, and concurrent Python callers (the GIL is released
in the kernels) get what serial calls get, including the very first calls that build lazy IQ tables."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dgkernels as dg
from dgkernels import bounds
from helpers import PKG_PARENT, REPO, assert_bytes_equal, assert_floats_identical

ALL = [f.name for f in dg.formats()]
THREADS = (1, 2, 3, 7)

# The dispatcher gives each thread at least 2^15 weights, so 7 threads need 7 * 2^15 = 229376 weights or
# more to really run; 61 rows (a prime: uneven shares) of 4096 give 249856.
ROWS, N = 61, 4096


def _rows(rng, fmt, rows=ROWS, n=N):
    f = dg.format_info(fmt)
    x = bounds.sample(rng, "outliers", rows, n, f.block_weights, 1.0)
    use_im = f.requires_imatrix or (f.imatrix != "ignored" and rng.random() < 0.5)
    return x, (bounds.random_imatrix(rng, n) if use_im else None)


@pytest.mark.parametrize("fmt", ALL)
def test_encode_same_bytes_for_any_thread_count(fmt, isa, rng):
    x, im = _rows(rng, fmt)
    ref = dg.quantize(x, fmt, imatrix=im, threads=1)
    for t in THREADS[1:]:
        assert_bytes_equal(fmt, dg.quantize(x, fmt, imatrix=im, threads=t), ref)


@pytest.mark.parametrize("fmt", ALL)
def test_decode_same_values_for_any_thread_count(fmt, isa, rng):
    f = dg.format_info(fmt)
    data = rng.integers(0, 256, (ROWS, f.row_bytes(N)), dtype=np.uint8)  # any bytes are valid blocks
    for dtype in ("float32", "float16", "bfloat16"):
        ref = dg.dequantize(data, fmt, dtype=dtype, threads=1)
        for t in THREADS[1:]:
            assert_floats_identical(fmt, dg.dequantize(data, fmt, dtype=dtype, threads=t), ref)


@pytest.mark.parametrize("fmt", ALL)
def test_default_threads_same_bytes(fmt, isa, rng, monkeypatch):
    """threads=None (DGKERNELS_NUM_THREADS, else the affinity mask) is just another count."""
    x, im = _rows(rng, fmt, rows=9, n=1024)
    ref = dg.quantize(x, fmt, imatrix=im, threads=1)
    monkeypatch.setenv("DGKERNELS_NUM_THREADS", "5")
    assert dg.default_threads() == 5
    assert_bytes_equal(fmt, dg.quantize(x, fmt, imatrix=im), ref)


@pytest.mark.parametrize("fmt", ALL)
def test_concurrent_callers_match_serial(fmt, isa, rng):
    """Four Python threads, each encoding and decoding its own inputs with 2 native threads each."""
    jobs = [_rows(rng, fmt, rows=int(rng.integers(1, 9)), n=1024) for _ in range(8)]
    serial = [(dg.quantize(x, fmt, imatrix=im, threads=1)) for x, im in jobs]
    serial_dec = [dg.dequantize(q, fmt, threads=1) for q in serial]

    def work(i):
        x, im = jobs[i % len(jobs)]
        q = dg.quantize(x, fmt, imatrix=im, threads=2)
        return i, q, dg.dequantize(q, fmt, threads=2)

    with ThreadPoolExecutor(max_workers=4) as ex:
        for i, q, y in ex.map(work, range(3 * len(jobs))):
            assert_bytes_equal(fmt, q, serial[i % len(jobs)])
            assert_floats_identical(fmt, y, serial_dec[i % len(jobs)])


FIRST_USE = textwrap.dedent("""
    import sys, threading, numpy as np, dgkernels as dg
    from dgkernels import bounds
    fmt = sys.argv[1]
    f = dg.format_info(fmt)
    rng = np.random.default_rng(int(sys.argv[2]))
    jobs = [(bounds.sample(rng, "gauss", 4, 512, f.block_weights, 1.0), bounds.random_imatrix(rng, 512))
            for _ in range(6)]
    start = threading.Barrier(len(jobs))
    got = [None] * len(jobs)
    def work(i):
        start.wait()  # every thread reaches the not-yet-built tables at once
        x, im = jobs[i]
        got[i] = dg.quantize(x, fmt, imatrix=im, threads=1)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads: t.start()
    for t in threads: t.join()
    for i, (x, im) in enumerate(jobs):
        assert got[i] is not None, f"thread {i} failed"
        assert np.array_equal(got[i], dg.quantize(x, fmt, imatrix=im, threads=1)), f"thread {i} differs"
    print("ok")
""")


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats() if f.family == "iq"])
def test_concurrent_first_use(fmt, rng):
    """IQ encoders build neighbour tables lazily: six threads make the first call of a fresh process together."""
    seed = int(rng.integers(0, 2**31))
    env = dict(os.environ, PYTHONPATH=PKG_PARENT)
    r = subprocess.run([sys.executable, "-c", FIRST_USE, fmt, str(seed)], env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", \
        f"{fmt} (seed {seed}) exit code {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
