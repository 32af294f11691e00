"""Hypothesis properties of every format: round-trip error under dgkernels.bounds.BOUNDS, deterministic
bytes, zero blocks decode to zeros, shapes and dtypes, imatrix handling, no crash on any finite input.

Magnitudes: the error bound is checked for rows whose max |x| lies in bounds.AMPLITUDE[fmt], the range in
which the format's fp16 scales neither overflow nor go subnormal (see bounds.py). Outside it only the
properties that hold everywhere are checked (determinism, shapes, finiteness below the overflow limit).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dgkernels as dg
from dgkernels import bounds

ALL = [f.name for f in dg.formats()]

# DGKERNELS_HYPOTHESIS_SCALE=10 runs ten times the examples (a deeper run than CI's).
SCALE = float(os.environ.get("DGKERNELS_HYPOTHESIS_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


# The isa fixture holds one ISA for all examples of a test, so a function-scoped fixture is fine here.
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_every_format_has_a_bound_and_range():
    assert set(bounds.BOUNDS) == set(ALL) and set(bounds.AMPLITUDE) == set(ALL)
    assert all(lo < hi for lo, hi in bounds.AMPLITUDE.values())


def _max_blocks(f) -> int:
    return 4 if f.block_weights >= 256 else 16


@st.composite
def weight_like(draw, fmt: str):
    """(x, imatrix or None, family): x of shape (*lead, n) from one bounds.sample family."""
    f = dg.format_info(fmt)
    family = draw(st.sampled_from(bounds.FAMILIES))
    lead = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    unit = f.block_weights if f.block_weights > 1 else 32
    n = unit * draw(st.integers(1, _max_blocks(f)))
    lo, hi = bounds.AMPLITUDE[f.name]
    amp = 10.0 ** draw(st.floats(math.log10(lo), math.log10(hi)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = int(np.prod(lead, dtype=np.int64))
    x = bounds.sample(rng, family, rows, n, f.block_weights, amp).reshape(*lead, n)
    use_im = f.requires_imatrix or (f.imatrix != "ignored" and draw(st.booleans()))
    im = bounds.random_imatrix(rng, n) if use_im else None
    return x, im, family


def _expected_bytes_shape(f, x):
    return (*x.shape[:-1], f.row_bytes(x.shape[-1]))


@pytest.mark.parametrize("fmt", ALL)
def test_roundtrip(fmt, isa):
    f = dg.format_info(fmt)

    @settings(max_examples=examples(12), **SETTINGS)
    @given(weight_like(fmt))
    def check(case):
        x, im, family = case
        q = dg.quantize(x, fmt, imatrix=im)
        assert q.dtype == np.uint8 and q.shape == _expected_bytes_shape(f, x)
        # deterministic: same bytes again, and from a differently laid-out copy of the same values
        assert np.array_equal(q, dg.quantize(x, fmt, imatrix=im))
        xt = np.asfortranarray(x) if x.ndim > 1 else x[::-1].copy()[::-1]
        assert np.array_equal(q, dg.quantize(xt, fmt, imatrix=im))
        y = dg.dequantize(q, fmt)
        assert y.dtype == np.float32 and y.shape == x.shape
        assert np.all(np.isfinite(y)), "finite input inside the format's range decoded to inf/NaN"
        # whole zero blocks decode to zeros
        xb = x.reshape(-1, f.block_weights)
        zero = ~np.any(xb != 0, axis=1)
        assert np.all(y.reshape(-1, f.block_weights)[zero] == 0)
        if bounds.bound_applies(fmt, family, im is not None):
            err = bounds.relative_rms_error(x, y)
            assert err <= bounds.BOUNDS[fmt], f"{fmt}: relative RMS error {err:.4f} > bound {bounds.BOUNDS[fmt]} ({family})"

    check()


@pytest.mark.parametrize("fmt", ALL)
def test_half_outputs(fmt, isa):
    """float16 and bfloat16 outputs: right shape and dtype, equal to the float32 result rounded."""
    f = dg.format_info(fmt)

    @settings(max_examples=examples(5), **SETTINGS)
    @given(weight_like(fmt))
    def check(case):
        x, im, _ = case
        q = dg.quantize(x, fmt, imatrix=im)
        y = dg.dequantize(q, fmt)
        h = dg.dequantize(q, fmt, dtype=np.float16)
        assert h.dtype == np.float16 and h.shape == x.shape
        with np.errstate(over="ignore"):
            assert np.array_equal(h.view(np.uint16), y.astype(np.float16).view(np.uint16))
        b = dg.dequantize(q, fmt, dtype="bfloat16")
        assert b.shape == x.shape and b.dtype.itemsize == 2
        yb = y.view(np.uint32).astype(np.uint64)
        want = ((yb + 0x7FFF + ((yb >> 16) & 1)) >> 16).astype(np.uint16)  # finite y: plain RNE
        assert np.array_equal(np.ascontiguousarray(b).view(np.uint16), want)

    check()


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats() if f.imatrix == "ignored"])
def test_imatrix_ignored(fmt, isa):
    """Formats whose encoder never reads an imatrix give the same bytes with and without one."""
    @settings(max_examples=examples(5), **SETTINGS)
    @given(weight_like(fmt), st.integers(0, 2**32 - 1))
    def check(case, seed):
        x, _, _ = case
        im = bounds.random_imatrix(np.random.default_rng(seed), x.shape[-1])
        assert np.array_equal(dg.quantize(x, fmt), dg.quantize(x, fmt, imatrix=im))

    check()


@pytest.mark.parametrize("fmt", ALL)
def test_all_zero_input(fmt, isa):
    f = dg.format_info(fmt)

    @settings(max_examples=examples(4), **SETTINGS)
    @given(st.integers(1, _max_blocks(f)), st.booleans())
    def check(nblocks, negative_zero):
        x = np.full((2, nblocks * max(f.block_weights, 32)), -0.0 if negative_zero else 0.0, np.float32)
        im = np.ones(x.shape[-1], np.float32) if f.imatrix != "ignored" else None
        y = dg.dequantize(dg.quantize(x, fmt, imatrix=im), fmt)
        assert np.all(y == 0)

    check()


@st.composite
def finite_f32(draw, size: int) -> np.ndarray:
    """Finite float32 of any sign and magnitude: log-uniform exponents over a hypothesis-chosen range
    (float32 subnormals to 3.4e38), exact zeros, and a few hypothesis-chosen values (ties, extremes)
    planted at random places. Built with numpy from a drawn seed: fast, and still shrinkable."""
    e_lo = draw(st.integers(-149, 127))
    e_hi = draw(st.integers(e_lo, 127))
    palette = draw(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), max_size=6))
    zero_frac = draw(st.sampled_from([0.0, 0.1, 0.9]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mant = rng.uniform(1.0, 2.0, size)
    x = np.ldexp(mant, rng.integers(e_lo, e_hi + 1, size)) * rng.choice([-1.0, 1.0], size)
    x = np.clip(x, -np.finfo(np.float32).max, np.finfo(np.float32).max).astype(np.float32)
    x[rng.random(size) < zero_frac] = 0.0
    if palette:
        where = rng.random(size) < 0.25
        x[where] = rng.choice(np.asarray(palette, np.float32), int(where.sum()))
    return x


@pytest.mark.parametrize("fmt", ALL)
def test_any_finite_input(fmt, isa):
    """Arbitrary finite float32 of any magnitude (to 3.4e38, subnormals, ties): no crash, deterministic,
    right shapes; decoded values finite whenever max |x| is below the format's overflow limit."""
    f = dg.format_info(fmt)
    unit = max(f.block_weights, 32)

    @settings(max_examples=examples(10), **SETTINGS)
    @given(st.integers(1, 2 if unit >= 256 else 4), st.data())
    def check(nblocks, data):
        x = data.draw(finite_f32(nblocks * unit))
        im = None
        if f.imatrix != "ignored":
            im = bounds.random_imatrix(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), x.size)
            im[: data.draw(st.integers(0, x.size))] = 0.0  # zero importances are valid too
        q = dg.quantize(x, fmt, imatrix=im)
        assert q.shape == (f.row_bytes(x.size),)
        assert np.array_equal(q, dg.quantize(x, fmt, imatrix=im))
        with np.errstate(all="ignore"):
            y = dg.dequantize(q, fmt)
        assert y.shape == x.shape and y.dtype == np.float32
        if np.max(np.abs(x)) < bounds.AMPLITUDE[fmt][1]:
            assert np.all(np.isfinite(y)), "finite input below the overflow limit decoded to inf/NaN"

    check()
