"""fp16/bf16 conversions decide stored scales and half-precision output: check them exhaustively or
on millions of bit patterns, on every ISA, against numpy and against each other."""
import numpy as np

import dgkernels as dg


def _edge_bits():
    rng = np.random.default_rng(1234)
    bits = np.concatenate([
        rng.integers(0, 2**32, size=1_000_000, dtype=np.uint64).astype(np.uint32),
        np.arange(0x33000000 - 4096, 0x33000000 + 4096, dtype=np.uint32),  # fp16 subnormal/zero edge
        np.arange(0x387fe000, 0x38802000, dtype=np.uint32),                # fp16 normal/subnormal edge
        np.arange(0x477fe000, 0x47800100, dtype=np.uint32),                # fp16 overflow edge
        np.array([0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0, 0x00000001], dtype=np.uint32),
    ])
    return np.concatenate([bits, bits | 0x80000000])


def test_f16_decode_exhaustive(isa):
    h = np.arange(65536, dtype=np.uint16)
    got = dg.dequantize(h.view(np.uint8).reshape(1, -1), "F16")
    want = h.view(np.float16).astype(np.float32)
    assert np.array_equal(got.view(np.uint32)[0][~np.isnan(want)], want.view(np.uint32)[~np.isnan(want)])
    assert np.isnan(got[0][np.isnan(want)]).all()


def test_f32_to_f16_round_to_nearest_even(isa):
    x = _edge_bits().view(np.float32)
    got = dg.dequantize(x.view(np.uint8).reshape(1, -1), "F32", dtype=np.float16).view(np.uint16)[0]
    finite = ~np.isnan(x)
    with np.errstate(over="ignore"):
        want = x[finite].astype(np.float16).view(np.uint16)
    assert np.array_equal(got[finite], want)
    # ggml's convention: every NaN becomes the canonical quiet NaN of its sign.
    sign = (x[~finite].view(np.uint32) >> 16) & 0x8000
    assert np.array_equal(got[~finite], (sign | 0x7E00).astype(np.uint16))


def test_f32_to_bf16_round_to_nearest_even(isa):
    x = _edge_bits().view(np.float32)
    got = dg.dequantize(x.view(np.uint8).reshape(1, -1), "F32", dtype="bfloat16").view(np.uint16)[0]
    u = x.view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    want = np.where(nan, (u >> 16) | 64, (u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    assert np.array_equal(got, want)


def test_f16_encode_matches_numpy(isa):
    x = _edge_bits().view(np.float32)
    x = x[~np.isnan(x) & ~np.isinf(x)]
    got = dg.quantize(x.reshape(1, -1), "F16").view(np.uint16)[0]
    with np.errstate(over="ignore"):
        assert np.array_equal(got, x.astype(np.float16).view(np.uint16))
