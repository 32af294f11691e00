"""Q8_K has no golden vectors. Its encoder and decoder are checked against external oracles where
they support Q8_K (libgguf, gguf-py: both skip with the reason when they do not; a ggml-base shared
library named by $DGKERNELS_GGML_BASE) and always against `_q8_k_spec`, a numpy statement of ggml's
quantize_row_q8_K_ref / dequantize_row_q8_K."""
from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_bytes_equal, assert_floats_identical

QK_K = 256
BLOCK = np.dtype([("d", "<f4"), ("qs", "i1", QK_K), ("bsums", "<i2", QK_K // 16)])
assert BLOCK.itemsize == 292


def _q8_k_spec(x: np.ndarray) -> np.ndarray:
    """ggml's Q8_K reference encoder in numpy, block by block (float32 throughout).

    iscale = -127/max (max: the signed value of largest magnitude, first one on ties);
    q = min(127, round_half_even(iscale*x)); d = 1/iscale; bsums = sums of 16 quants.
    An all-zero block is stored as zeros (ggml leaves its bsums unwritten; dgkernels zeroes them).
    """
    xb = np.ascontiguousarray(x, np.float32).reshape(-1, QK_K)
    out = np.zeros(xb.shape[0], BLOCK)
    for i, v in enumerate(xb):
        a = np.abs(v)
        if not a.max() > 0:
            continue
        mx = v[int(np.argmax(a))]  # argmax returns the first maximum, as ggml's strict '>' scan
        iscale = np.float32(-127.0) / mx
        q = np.minimum(127, np.rint(iscale * v)).astype(np.int8)  # |iscale*v| <= 127: rint == nearest_int
        out[i]["qs"] = q
        out[i]["bsums"] = q.reshape(16, 16).astype(np.int32).sum(axis=1)
        out[i]["d"] = np.float32(1.0) / iscale
    return out.view(np.uint8).reshape(*x.shape[:-1], -1)


def _q8_k_spec_decode(enc: np.ndarray) -> np.ndarray:
    b = np.ascontiguousarray(enc).view(BLOCK).reshape(-1)
    y = b["d"][:, None] * b["qs"].astype(np.float32)  # float32 d times the int8 quant, as ggml
    return y.astype(np.float32).reshape(*enc.shape[:-1], -1)


def _random_rows(rng, rows=6, n=1024) -> np.ndarray:
    x = rng.standard_normal((rows, n)).astype(np.float32)
    x[1] *= np.float32(1e-3)                       # small scale
    x[2, :QK_K] = 0                                # an all-zero block
    x[3, 7] = -40                                  # negative outlier sets the scale
    x[4, 300] = x[4, 301] = 25                     # tie for the largest magnitude
    x[5] = np.round(x[5] * 4) / 4                  # values on a coarse grid (rounding ties)
    return x


def test_q8_k_matches_spec(rng, isa):
    x = _random_rows(rng)
    got = dg.quantize(x, "Q8_K")
    assert_bytes_equal("Q8_K", got, _q8_k_spec(x))
    assert_floats_identical("Q8_K", dg.dequantize(got, "Q8_K"), _q8_k_spec_decode(got))


def test_q8_k_decode_arbitrary_bytes(rng, isa):
    enc = rng.integers(0, 256, (4, 2 * 292), dtype=np.uint8)
    b = enc.view(BLOCK)
    b["d"] = rng.standard_normal(b["d"].shape).astype(np.float32)  # keep d finite for bit comparison
    assert_floats_identical("Q8_K", dg.dequantize(enc, "Q8_K"), _q8_k_spec_decode(enc))


def test_q8_k_round_trip_error(rng, isa):
    x = rng.standard_normal((8, 512)).astype(np.float32)
    y = dg.dequantize(dg.quantize(x, "Q8_K"), "Q8_K")
    amax = np.abs(x.reshape(-1, QK_K)).max(axis=1, keepdims=True)
    err = np.abs((y - x).reshape(-1, QK_K))
    assert (err <= amax / 127 * 0.5 * (1 + 1e-5)).all()  # half a quantization step


def test_q8_k_against_libgguf(rng, isa):
    libgguf = pytest.importorskip("libgguf")
    qt = libgguf.GGMLQuantizationType.Q8_K
    if libgguf.row_size(qt, QK_K) <= 0:
        pytest.skip("libgguf does not support Q8_K (row_size(Q8_K) == 0): covered by the numpy spec test")
    x = _random_rows(rng)
    x[2, :QK_K] = 1  # ggml leaves bsums of all-zero blocks unwritten: keep such blocks out
    got = dg.quantize(x, "Q8_K")
    assert_bytes_equal("Q8_K", got, libgguf.quantize_rows(x, qt))
    assert_floats_identical("Q8_K", dg.dequantize(got, "Q8_K"), libgguf.dequantize_rows(got, qt, x.shape[-1]))


def test_q8_k_against_gguf_py(rng, isa):
    gguf = pytest.importorskip("gguf")
    qt = gguf.GGMLQuantizationType.Q8_K
    x = _random_rows(rng)
    got = dg.quantize(x, "Q8_K")
    try:
        want = gguf.quants.dequantize(got, qt)
    except NotImplementedError as e:
        pytest.skip(f"gguf-py does not decode Q8_K ({e}): covered by the numpy spec test")
    assert_floats_identical("Q8_K", dg.dequantize(got, "Q8_K"), want)


def test_q8_k_against_ggml_library(rng, isa):
    """ggml itself, when a libggml-base.so is given: quantize_row_q8_K_ref and dequantize_row_q8_K."""
    path = os.environ.get("DGKERNELS_GGML_BASE")
    if not path:
        pytest.skip("set DGKERNELS_GGML_BASE=/path/to/libggml-base.so to compare with ggml itself")
    lib = ctypes.CDLL(path)
    for fn in (lib.quantize_row_q8_K_ref, lib.dequantize_row_q8_K):
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        fn.restype = None
    x = _random_rows(rng)
    x[2, :QK_K] = 1  # ggml leaves bsums of all-zero blocks unwritten: keep such blocks out
    want = np.zeros((x.shape[0], x.shape[1] // QK_K * 292), np.uint8)
    dec = np.empty_like(x)
    got = dg.quantize(x, "Q8_K")
    for r in range(x.shape[0]):
        lib.quantize_row_q8_K_ref(x[r].ctypes.data, want[r].ctypes.data, x.shape[1])
        lib.dequantize_row_q8_K(got[r].ctypes.data, dec[r].ctypes.data, x.shape[1])
    assert_bytes_equal("Q8_K", got, want)
    assert_floats_identical("Q8_K", dg.dequantize(got, "Q8_K"), dec)
