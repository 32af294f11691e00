"""The roundings of llama.cpp's CPU backend that change a model's output measurably.

A small model amplifies 8-bit-sized perturbations: on SmolLM2-135M, float32 activations and llama.cpp's
8-bit ones differ by a mean KL of ~3e-3 per token, more than the whole budget for "agrees with
llama.cpp". So, where the forward pass is meant to agree with llama.cpp, it rounds as llama.cpp does:
  * a weight's input is converted to that weight's dot-product type (ggml-cpu's vec_dot_type):
    8-bit blocks for quantized weights (Q8_0, Q8_1 or Q8_K), fp16/bf16 for half-precision weights;
  * Q4_1/Q5_1 weights add `min * s` per block, where s is the activation block's sum stored as fp16;
  * K and V live in an fp16 cache, and the attention products take fp16 inputs.
The products themselves are float32 here (llama.cpp: integer dots, float block sums), which only
reorders the additions.
"""
from __future__ import annotations

import numpy as np

# ggml type id -> the type its input is converted to; absent: Q8_K (K-quants, IQ, TQ formats).
ACTIVATION_TYPE = {0: None, 1: "F16", 30: "BF16", 2: "Q8_0", 6: "Q8_0", 8: "Q8_0", 20: "Q8_0", 39: "Q8_0",
                   3: "Q8_1", 7: "Q8_1"}
# Q4_1 / Q5_1 blocks: bytes per block; the fp16 block minimum sits at bytes 2..3 of each
_MIN_BLOCKS = {3: 20, 7: 24}


def f16(x: np.ndarray) -> np.ndarray:
    """Round float32 to fp16 and back (round to nearest even, as F16C), with integer bit operations:
    faster than numpy's float16 casts. Normal range: drop 13 mantissa bits with ties to even;
    below 2^-14 (fp16 subnormals, a 2^-24 grid): |x| + 0.5 - 0.5 rounds to that grid in float32."""
    x = np.asarray(x, dtype=np.float32)
    u = x.view(np.uint32)
    r = ((u + (np.uint32(0x0FFF) + ((u >> 13) & np.uint32(1)))) & np.uint32(0xFFFFE000)).view(np.float32)
    a = np.abs(x)
    small = a < np.float32(2.0 ** -14)
    if small.any():
        r = np.where(small, np.copysign((a + np.float32(0.5)) - np.float32(0.5), x), r)
    if not np.all(a <= np.float32(65504.0)):  # overflow to inf, NaN: the slow exact cast
        with np.errstate(over="ignore", invalid="ignore"):
            r = np.where(a <= np.float32(65504.0), r, x.astype(np.float16).astype(np.float32))
    return r


def bf16(x: np.ndarray) -> np.ndarray:
    """Round float32 to bfloat16 and back (nearest even, NaN kept), as ggml's fp32->bf16."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    r = ((u + (np.uint32(0x7FFF) + ((u >> 16) & 1))) & np.uint32(0xFFFF0000)).view(np.float32)
    return np.where(np.isnan(x), x, r)


def block_mins(raw: np.ndarray, type_id: int, rows: int) -> np.ndarray | None:
    """Per-block minima (rows, blocks) of a Q4_1/Q5_1 weight from its encoded bytes; None otherwise."""
    bb = _MIN_BLOCKS.get(type_id)
    if bb is None:
        return None
    blocks = np.ascontiguousarray(raw).reshape(rows, -1, bb)
    return np.ascontiguousarray(blocks[:, :, 2:4]).view(np.float16)[..., 0].astype(np.float32)


def _q8_blocks(x2: np.ndarray):
    """x86 quantize_row_q8_0/q8_1: per 32 values, q = round-half-even(x * 127/amax), d = amax/127."""
    b = x2.reshape(-1, 32)
    amax = np.abs(b).max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        inv = np.where(amax > 0, np.float32(127.0) / amax, np.float32(0.0)).astype(np.float32)
    q = np.rint(b * inv)
    d = amax / np.float32(127.0)
    return q, d


def round_input(x: np.ndarray, fmt: str | None):
    """(x as llama.cpp multiplies it, per-block s correction or None) for activation type `fmt`.

    For Q8_1 the correction is `fp16(d * sum(q)) - fp16(d) * sum(q)` per 32-block: the difference
    between the sum llama.cpp stores and the sum of the rounded values, to be multiplied by the
    weight's block minima.
    """
    if fmt is None:
        return x, None
    if fmt == "F16":
        return f16(x), None
    if fmt == "BF16":
        return bf16(x), None
    n = x.shape[-1]
    if fmt == "Q8_K" and n % 256 == 0:
        from ..api import dequantize, quantize
        return dequantize(quantize(x.reshape(-1, n), "Q8_K"), "Q8_K").reshape(x.shape), None
    if n % 32:
        return x, None
    q, d = _q8_blocks(x)
    d16 = f16(d)
    sq = q.sum(axis=-1, keepdims=True) if fmt == "Q8_1" else None
    q *= d16
    xr = q.reshape(x.shape)
    if sq is None:
        return xr, None
    return xr, (f16(d * sq) - d16 * sq).reshape(*x.shape[:-1], n // 32)
