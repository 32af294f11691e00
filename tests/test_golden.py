"""Golden vectors made by ggml itself (../shared/vectors): encode byte for byte, decode bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_bytes_equal, assert_floats_identical, golden_entries, vector_file, vectors_dir


def test_vectors_present():
    # Fails with the list of places searched when ../shared/vectors is missing.
    assert (vectors_dir() / "manifest.json").is_file()


ENTRIES = golden_entries()
IDS = [f"{fmt}-{e['case']}-{e['variant']}" for fmt, e in ENTRIES]


@pytest.mark.parametrize("fmt,entry", ENTRIES, ids=IDS)
def test_golden_decode(fmt, entry, isa):
    z = vector_file(fmt)
    key = f"{entry['case']}/{entry['variant']}"
    enc, dec = z[f"{key}/enc"], z[f"{key}/dec"]
    got = dg.dequantize(enc, fmt)
    assert_floats_identical(fmt, got, dec.reshape(got.shape))


@pytest.mark.parametrize("fmt,entry", ENTRIES, ids=IDS)
def test_golden_encode(fmt, entry, isa):
    z = vector_file(fmt)
    key = f"{entry['case']}/{entry['variant']}"
    x = z[f"{entry['case']}/x"]
    imatrix = z[f"{entry['case']}/imatrix"] if entry["imatrix"] else None
    if not np.isfinite(x).all():
        pytest.skip("input holds non-finite values, which quantize refuses by design")
    got = dg.quantize(x, fmt, imatrix=imatrix)
    assert_bytes_equal(fmt, got, z[f"{key}/enc"].reshape(got.shape))


@pytest.mark.parametrize("fmt,entry", ENTRIES, ids=IDS)
def test_golden_decode_half(fmt, entry, isa):
    """float16/bfloat16 output equals ggml's float32 result rounded to nearest even."""
    z = vector_file(fmt)
    key = f"{entry['case']}/{entry['variant']}"
    enc, dec = z[f"{key}/enc"], z[f"{key}/dec"].astype(np.float32)
    f16 = dg.dequantize(enc, fmt, dtype=np.float16)
    assert_floats_identical(fmt, f16.view(np.uint16), _f16_bits(dec.reshape(f16.shape)))
    bf16 = dg.dequantize(enc, fmt, dtype="bfloat16").view(np.uint16)
    assert_floats_identical(fmt, bf16, _bf16_bits(dec.reshape(bf16.shape)))


def _f16_bits(x: np.ndarray) -> np.ndarray:
    """numpy's round-to-nearest-even, with ggml's NaN convention (sign | 0x7E00)."""
    with np.errstate(over="ignore"):  # values beyond fp16 range become inf, as they must
        h = x.astype(np.float16).view(np.uint16)
    nan_bits = ((x.view(np.uint32) >> 16) & 0x8000 | 0x7E00).astype(np.uint16)
    return np.where(np.isnan(x), nan_bits, h)


def _bf16_bits(x: np.ndarray) -> np.ndarray:
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(nan, ((u >> 16) | 64).astype(np.uint16), r)
