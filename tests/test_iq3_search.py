"""The IQ3 AVX2 group search (common/avx2_iq3_search.h) rounds every trial first, then scores each
quadruple's off-grid keys over a term table of the rows they read, one candidate scan per distinct
key over eight trial lanes (the final requantization per trial, with lane permutations and a
first-minimum scan), and replays the acceptance chain without branches: it must still give the
scalar bytes. Inputs built to hit the edges: weights on the rounding boundaries of the trial
scales (keys flipping between trials), equal neighbour distances (ties, zero importance, constant
and quarter-integer groups), distances overflowing to inf, subnormal and huge magnitudes, and
many rows of assorted distributions (both searches, long neighbour lists, spare IQ3_S lanes)."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_avx2_encodes_as_scalar, ulp_jitter

pytestmark = pytest.mark.skipif("avx2" not in dg.available_isas(), reason="this CPU only runs the scalar kernels")
FORMATS = ["IQ3_XXS", "IQ3_S"]
N = 256  # one super-block per row


def _boundary_rows(rng, rows: int) -> np.ndarray:
    """Groups with largest magnitude 1 whose other weights sit on a level boundary of some trial
    scale: 0.5*(id*x - 1) = k + 1/2 for id = (15 + 0.2*is)/1, i.e. x = (2k + 2)/(15 + 0.2*is)."""
    k = rng.integers(0, 7, (rows, N))
    trial = rng.integers(-15, 16, (rows, N))
    x = (2 * k + 2) / (15 + 0.2 * trial)
    x = np.minimum(x, 1.0)
    x[:, ::32] = 1.0
    sign = rng.choice([-1.0, 1.0], (rows, N))
    return (sign * x).astype(np.float32)


def _tie_rows(rng, rows: int) -> np.ndarray:
    sign = rng.choice(np.float32([-1, 1]), (rows, N))
    kinds = [
        np.round(rng.standard_normal((rows, N)) * 4) / 4,              # quarter-integers
        rng.choice(np.float32([0, 1, 2, 3]), (rows, N)) * sign,         # few values
        np.repeat(rng.standard_normal((rows, N // 32)), 32, axis=1),    # constant groups
        np.repeat(rng.standard_normal((rows, N // 4)), 4, axis=1),      # constant quadruples
        np.tile(rng.standard_normal((rows, 4)), N // 4) * sign,         # one quadruple repeated
        sign * 0.7,
    ]
    return np.concatenate([np.asarray(k, np.float32) for k in kinds])


def _imatrices(rng):
    e = rng.exponential(1.0, N).astype(np.float32)
    quad_zero = e.copy()
    quad_zero[rng.integers(0, N // 4, 16)[:, None] * 4 + np.arange(4)] = 0  # zero-importance quadruples
    return [None, np.ones(N, np.float32), e, np.where(rng.random(N) < 0.5, 0, e).astype(np.float32), quad_zero,
            (10.0 ** rng.uniform(-6, 6, N)).astype(np.float32)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_level_boundaries(fmt, rng):
    x = _boundary_rows(rng, 48)
    x = np.concatenate([x, ulp_jitter(rng, x)])
    for im in _imatrices(rng):
        assert_avx2_encodes_as_scalar(fmt, x, im)


@pytest.mark.parametrize("fmt", FORMATS)
def test_distance_ties(fmt, rng):
    x = _tie_rows(rng, 16)
    for im in _imatrices(rng):
        assert_avx2_encodes_as_scalar(fmt, x, im)
        assert_avx2_encodes_as_scalar(fmt, ulp_jitter(rng, x), im)


@pytest.mark.parametrize("fmt", FORMATS)
def test_magnitudes(fmt, rng):
    """Maxima down to subnormal (the trial inverse scale overflowing to inf) and up to where the
    neighbour distances overflow to inf (every candidate at FLT_MAX or beyond)."""
    g = rng.standard_normal((8, N)).astype(np.float32)
    scales = [1e-44, 1e-41, 1e-38, 1e-30, 1e-6, 1, 1e6, 1e15, 1e18, 1e19, 1e20, 1e30, 3e38]
    x = np.concatenate([np.clip(g, -1, 1) * np.float32(s) for s in scales]).astype(np.float32)
    for im in _imatrices(rng) + [np.full(N, 1e30, np.float32), np.full(N, 1e-30, np.float32)]:
        assert_avx2_encodes_as_scalar(fmt, x, im)


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_random_rows(fmt, rng):
    rows = 256
    dists = [
        rng.standard_normal((rows, N)),
        rng.laplace(size=(rows, N)),
        rng.uniform(-1, 1, (rows, N)),
        rng.standard_t(2, (rows, N)),
        rng.standard_cauchy((rows, N)),
        np.abs(rng.standard_normal((rows, N))) + 3,                      # high levels: other keys
        rng.standard_normal((rows, N)) * np.repeat(10.0 ** rng.uniform(-3, 3, (rows, N // 32)), 32, axis=1),
    ]
    for d in dists:
        for im in (None, np.exp(rng.standard_normal(N)).astype(np.float32)):
            assert_avx2_encodes_as_scalar(fmt, np.asarray(d, np.float32), im)


@pytest.mark.parametrize("fmt", FORMATS)
def test_sign_folding(fmt, rng):
    """The AVX2 fold (Iq3Fold): odd counts of negatives with tied w*x*x (the first is flipped), -0,
    and v = w*x*x NaN at lane 0 of a point (huge importance, x = 0: inf*0) beside finite lanes,
    where the scalar scan keeps lane 0."""
    rows = 32
    sign = rng.choice(np.float32([-1, 1]), (rows, N))
    mag = np.repeat(rng.uniform(0.5, 2, (rows, N // 8)), 8, axis=1)  # ties within each point
    x = sign * np.where(rng.random((rows, N)) < 0.3, np.round(mag), mag)
    x[:, ::8] = np.where(rng.random((rows, N // 8)) < 0.5, 0.0, -0.0)
    x[:, 3::16] *= 0
    big = np.where(np.arange(N) % 8 == 0, np.float32(3e38), np.float32(1))
    for im in (None, np.ones(N, np.float32), big.astype(np.float32), rng.exponential(1.0, N).astype(np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x.astype(np.float32), im)
