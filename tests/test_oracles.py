"""dgkernels against independent implementations, on fresh random data every run (seed printed on failure).

* encode == ggml byte for byte: libgguf.quantize_rows runs ggml's own ggml_quantize_chunk, with and
  without an imatrix, for every format libgguf has. Q8_K (no oracle package has it) is checked against a
  numpy transcription of the format's definition below.
* decode == ggml bit for bit (libgguf.dequantize_rows) and == gguf-py's numpy decoders, on random bytes
  (every byte string is a valid block: fp16 scales may be inf/NaN) and on ggml's encodings. A NaN matches
  any NaN: which operand's payload survives `q*d + m` when d and m are both NaN is the compiler's choice
  (IEEE leaves it open and GCC commutes the add: dgkernels' Q5_1 and ggml differ there), and gguf-py
  flips IQ2/IQ3 signs by multiplying, which changes NaN signs. Non-NaN values compare bit for bit.
Every test runs on every ISA this CPU has.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import dgkernels as dg
from dgkernels import bounds
from helpers import (assert_bytes_equal, assert_floats_nan_equal, bf16_bits,
                     bf16_bits_to_f32, ggml_dequantize, ggml_quantize, ggufpy_decodes, ggufpy_dequantize,
                     libgguf_supports)

ALL = [f.name for f in dg.formats()]

# Data kinds: (family of bounds.sample, range of a row's max |x|). Beyond the weight-like families at
# ordinary scale: values whose fp16 scales go subnormal or to zero, float32 subnormals, and values whose
# fp16 scales overflow to inf (ggml still produces defined bytes; dgkernels must produce the same).
# Kept below 3e6: ggml's IQ1 search aborts on sums that overflow (|x| ~ 1e19).
KINDS: dict[str, tuple[str, float, float]] = {
    **{fam: (fam, 1e-2, 1e2) for fam in bounds.FAMILIES},
    "tiny": ("gauss", 1e-32, 1e-28),
    "subnormal": ("outliers", 1e-41, 1e-38),
    "fp16_subnormal_scale": ("gauss", 1e-7, 1e-4),
    "huge": ("outliers", 1e3, 3e4),
    "fp16_overflow": ("gauss", 1e5, 2e6),
}

IMATRIX = ("none", "lognormal", "some_zeros", "all_zeros")


def draw_rows(rng: np.random.Generator, fmt: str, kind: str) -> np.ndarray:
    """(rows, n) float32 of one kind; shapes vary so row-level statistics (sigma^2 over the row) vary too."""
    f = dg.format_info(fmt)
    family, lo, hi = KINDS[kind]
    rows = int(rng.integers(1, 5))
    if f.block_weights == 1:
        n = int(rng.integers(1, 300))
    elif f.block_weights == 32:
        n = 32 * int(rng.integers(1, 25))
    else:
        n = f.block_weights * int(rng.integers(1, 4))
    amp = float(10.0 ** rng.uniform(math.log10(lo), math.log10(hi)))
    return bounds.sample(rng, family, rows, n, f.block_weights, amp)


def draw_imatrix(rng: np.random.Generator, kind: str, n: int):
    if kind == "none":
        return None
    im = bounds.random_imatrix(rng, n)
    if kind == "some_zeros":
        im[rng.random(n) < 0.3] = 0.0
    elif kind == "all_zeros":  # a column range no calibration token ever reached
        im[:] = 0.0
    return im


# ---- Q8_K: not in libgguf nor gguf-py, so a numpy model of ggml's definition --------------------------

def q8k_encode(x: np.ndarray) -> np.ndarray:
    """quantize_row_q8_K_ref: scale -127/max (max = first element of largest |x|), nearest_int via the
    1.5*2^23 trick, clamp at 127, f32 d = 1/iscale, int16 sums of 16."""
    b = np.ascontiguousarray(x, np.float32).reshape(-1, 256)
    nb = b.shape[0]
    mx = b[np.arange(nb), np.argmax(np.abs(b), axis=1)]
    zero = mx == 0
    with np.errstate(all="ignore"):
        iscale = np.float32(-127.0) / np.where(zero, np.float32(1.0), mx)
        t = (iscale[:, None] * b) + np.float32(12582912.0)
        d = np.float32(1.0) / iscale
    v = (t.astype(np.float32).view(np.int32) & 0x7FFFFF) - 0x400000
    q = np.minimum(127, v).astype(np.int8)  # int -> int8 wraps, as the C assignment does
    q[zero] = 0
    d[zero] = 0.0
    out = np.empty((nb, 292), np.uint8)
    out[:, :4] = d.astype("<f4").view(np.uint8).reshape(nb, 4)
    out[:, 4:260] = q.view(np.uint8)
    out[:, 260:] = q.reshape(nb, 16, 16).astype(np.int32).sum(axis=2).astype("<i2").view(np.uint8).reshape(nb, 32)
    return out.reshape(*x.shape[:-1], -1)


def q8k_decode(data: np.ndarray) -> np.ndarray:
    b = np.ascontiguousarray(data, np.uint8).reshape(-1, 292)
    d = b[:, :4].copy().view("<f4").astype(np.float32)
    with np.errstate(all="ignore"):
        y = d * b[:, 4:260].view(np.int8).astype(np.float32)
    return y.reshape(*data.shape[:-1], -1)


def q8k_mask_unwritten(q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """ggml leaves bsums of an all-zero Q8_K block unwritten: zero them so only defined bytes compare."""
    q = q.reshape(-1, 292).copy()
    q[~np.any(x.reshape(-1, 256) != 0, axis=1), 260:] = 0
    return q


# ---- encode ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("imatrix", IMATRIX)
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ALL)
def test_encode_equals_ggml(fmt, kind, imatrix, isa, rng):
    f = dg.format_info(fmt)
    if imatrix == "none" and f.requires_imatrix:
        pytest.skip(f"{fmt} cannot be encoded without an imatrix (test_errors checks the refusal)")
    if fmt != "Q8_K" and not libgguf_supports(fmt):
        pytest.skip(f"libgguf has no {fmt} encoder")
    x = draw_rows(rng, fmt, kind)
    im = draw_imatrix(rng, imatrix, x.shape[-1])
    got = dg.quantize(x, fmt, imatrix=im)
    if fmt == "Q8_K":
        assert_bytes_equal(fmt, q8k_mask_unwritten(got, x), q8k_mask_unwritten(q8k_encode(x), x))
    else:
        assert_bytes_equal(fmt, got, ggml_quantize(fmt, x, im))


# ---- decode ---------------------------------------------------------------------------------------

def _check_decode(fmt: str, data: np.ndarray) -> None:
    """dg.dequantize(data) against every oracle that has fmt, in f32, f16 and bf16 output."""
    f = dg.format_info(fmt)
    got = dg.dequantize(data, fmt)
    assert got.dtype == np.float32 and got.shape == (*data.shape[:-1], data.shape[-1] // f.block_bytes * f.block_weights)
    checked = 0
    if f.is_quantized and libgguf_supports(fmt):
        assert_floats_nan_equal(fmt, got, ggml_dequantize(fmt, data))
        checked += 1
    if ggufpy_decodes(fmt):
        with np.errstate(all="ignore"):
            want = ggufpy_dequantize(fmt, data)
        assert_floats_nan_equal(fmt, got, want.reshape(got.shape))
        checked += 1
    if fmt == "Q8_K":
        assert_floats_nan_equal(fmt, got, q8k_decode(data))
        checked += 1
    assert checked, f"no oracle decodes {fmt}"
    # Half outputs are the f32 result rounded to nearest even.
    with np.errstate(all="ignore"):
        assert_floats_nan_equal(fmt, dg.dequantize(data, fmt, dtype=np.float16), got.astype(np.float16))
    assert_floats_nan_equal(fmt, bf16_bits_to_f32(dg.dequantize(data, fmt, dtype="bfloat16")),
                            bf16_bits_to_f32(bf16_bits(got)))


@pytest.mark.parametrize("fmt", ALL)
def test_decode_random_bytes(fmt, isa, rng):
    f = dg.format_info(fmt)
    rows = int(rng.integers(1, 6))
    nblocks = int(rng.integers(1, 9)) if f.block_weights > 1 else int(rng.integers(1, 600))
    data = rng.integers(0, 256, (rows, nblocks * f.block_bytes), dtype=np.uint8)
    _check_decode(fmt, data)


# Byte offsets of each block's fp16 scale fields (default: one at offset 0).
FP16_SCALES = {"Q4_1": (0, 2), "Q5_1": (0, 2), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q2_K": (80, 82),
               "Q3_K": (108,), "Q6_K": (208,), "TQ1_0": (52,), "TQ2_0": (64,)}
SPECIAL_F16 = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE01, 0x7BFF, 0xFBFF, 0x0001, 0x83FF, 0x3C00]
SPECIAL_F32 = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0x7F7FFFFF,
               0x00000001, 0x80000001, 0x3F800000]
SPECIAL_E8M0 = [0x00, 0x01, 0x7F, 0xFE, 0xFF]


def _special_blocks(fmt: str, rng: np.random.Generator) -> np.ndarray:
    """Random blocks whose scale fields hold zeros, infinities, NaNs, the largest and subnormal values."""
    f = dg.format_info(fmt)
    if fmt in ("F32", "Q8_K"):
        vals, width = SPECIAL_F32, 4
    elif fmt == "MXFP4":
        vals, width = SPECIAL_E8M0, 1
    else:
        vals, width = SPECIAL_F16, 2
    data = rng.integers(0, 256, (len(vals), 2 * f.block_bytes), dtype=np.uint8)
    blocks = data.reshape(len(vals), 2, f.block_bytes)
    for i, v in enumerate(vals):
        raw = np.frombuffer(int(v).to_bytes(width, "little"), np.uint8)
        if fmt == "IQ1_M":  # the fp16 scale lives in the top nibbles of the four 16-bit words at byte 48
            for k in range(4):
                nib = (v >> (4 * k)) & 0xF
                blocks[i, :, 48 + 2 * k + 1] = (blocks[i, :, 48 + 2 * k + 1] & 0x0F) | (nib << 4)
            continue
        for off in FP16_SCALES.get(fmt, (0,)):
            blocks[i, :, off:off + width] = raw
    return data


@pytest.mark.parametrize("fmt", ALL)
def test_decode_special_scales(fmt, isa, rng):
    _check_decode(fmt, _special_blocks(fmt, rng))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ALL)
def test_decode_ggml_encodings(fmt, kind, isa, rng):
    f = dg.format_info(fmt)
    x = draw_rows(rng, fmt, kind)
    if fmt == "Q8_K":
        data = q8k_encode(x)
    elif libgguf_supports(fmt):
        im = bounds.random_imatrix(rng, x.shape[-1]) if (f.imatrix != "ignored" and rng.random() < 0.5) or f.requires_imatrix else None
        data = ggml_quantize(fmt, x, im)
    else:
        pytest.skip(f"no encoder oracle for {fmt}")
    _check_decode(fmt, data)
