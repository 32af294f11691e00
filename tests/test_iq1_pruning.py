"""The IQ1 AVX2 split searches skip work by proofs with rounding margins (the IQ1_S search starts its
scalar acceptance chain at a proven "clear record", iq1_s/avx2_split_record.h): they must still give
the scalar bytes. Inputs built to make the margins matter: near-ties between candidates (mirror-
symmetric groups, where a split with the + shift and the mirrored split with the - shift have the
same score up to rounding; few distinct values; one-ulp perturbations; duplicates), magnitudes at
and beyond the guards, importance with zeros and huge ratios, and many rows of assorted
distributions."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_avx2_encodes_as_scalar, ulp_jitter

pytestmark = pytest.mark.skipif("avx2" not in dg.available_isas(), reason="this CPU only runs the scalar kernels")
FORMATS = ["IQ1_S", "IQ1_M"]
N = 256  # one super-block per row


def _mirrored(rng, rows: int, scale) -> np.ndarray:
    """Groups of 32 whose second half is minus the first: + and - shift candidates tie exactly in
    exact arithmetic (the shifted values of one side are minus the other's, reversed)."""
    half = (rng.standard_normal((rows, N // 32, 16)) * scale).astype(np.float32)
    return np.concatenate([half, -half], axis=2).reshape(rows, N)


def _mirrored_imatrix(rng) -> np.ndarray:
    half = rng.exponential(1.0, (N // 32, 16)).astype(np.float32)
    return np.concatenate([half, half], axis=1).reshape(N)


def _near_tie_rows(rng, rows: int) -> np.ndarray:
    sign = rng.choice(np.float32([-1, 1]), (rows, N))
    small_set = rng.choice(np.float32([-2, -1, -0.5, 0, 0.5, 1, 2]), (rows, N))
    dup = np.repeat(rng.standard_normal((rows, N // 2)), 2, axis=1)
    kinds = [
        _mirrored(rng, rows, 1.0),
        ulp_jitter(rng, _mirrored(rng, rows, 1.0)),
        _mirrored(rng, rows, 10.0 ** rng.uniform(-8, 8, (rows, 1, 1))),
        small_set,
        ulp_jitter(rng, small_set),
        ulp_jitter(rng, small_set * 0.7),
        dup,
        ulp_jitter(rng, dup),
        sign * 0.7,                                               # blocks of +-a
        ulp_jitter(rng, sign * 0.7),
        np.full((rows, N), 0.37),                                 # constant blocks
        ulp_jitter(rng, np.full((rows, N), -1.3)),
        np.repeat(rng.standard_normal((rows, N // 32)), 32, axis=1),   # constant groups
        np.round(rng.standard_normal((rows, N)) * 4) / 4,         # quarter-integers: many equal values
    ]
    return np.concatenate([np.asarray(k, np.float32) for k in kinds])


@pytest.mark.parametrize("fmt", FORMATS)
def test_near_ties(fmt, rng):
    x = _near_tie_rows(rng, 24)
    for imatrix in (np.ones(N, np.float32), rng.exponential(1.0, N).astype(np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x, imatrix)
    # mirror-symmetric importance keeps the + / - ties of mirrored groups exact
    assert_avx2_encodes_as_scalar(fmt, np.concatenate([_mirrored(rng, 64, 1.0), ulp_jitter(rng, _mirrored(rng, 64, 1.0))]),
           _mirrored_imatrix(rng))


@pytest.mark.parametrize("fmt", FORMATS)
def test_magnitudes_and_importance(fmt, rng):
    """Scales from 1e-38 to 1e30 (inside and beyond the guards of the proofs) and importance with
    zeros, whole zero groups and ratios up to 1e12."""
    g = rng.standard_normal((16, N)).astype(np.float32)
    scales = [1e-38, 1e-30, 1e-20, 1e-12, 1e-6, 1e-3, 1, 1e3, 1e6, 1e12, 1e15, 1e20, 1e30]
    x = np.concatenate([g * np.float32(s) for s in scales] + [_mirrored(rng, 16, 1e15)])
    e = rng.exponential(1.0, N).astype(np.float32)
    zero_groups = e.copy()
    zero_groups[rng.integers(0, N // 32) * 32:][:32] = 0
    for imatrix in (e, np.where(rng.random(N) < 0.5, 0, e), zero_groups,
                    (10.0 ** rng.uniform(-6, 6, N)).astype(np.float32), np.zeros(N, np.float32) + 1e-30,
                    np.full(N, 1e30, np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x, imatrix.astype(np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_random_rows(fmt, rng):
    rows = 1024 if fmt == "IQ1_S" else 256
    dists = [
        rng.standard_normal((rows, N)),
        rng.laplace(size=(rows, N)),
        rng.uniform(-1, 1, (rows, N)),
        rng.standard_t(2, (rows, N)),
        rng.standard_cauchy((rows, N)),                                 # heavy tails
        rng.lognormal(0, 1, (rows, N)) * rng.choice([-1, 1], (rows, N)),
        np.abs(rng.standard_normal((rows, N))),                         # one-signed
        rng.standard_normal((rows, N)) + 3,                             # offset
    ]
    for d in dists:
        assert_avx2_encodes_as_scalar(fmt, np.asarray(d, np.float32), np.exp(rng.standard_normal(N)).astype(np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_sort_ties(fmt, rng):
    """The stable sort of a group (vectorized ranks: <= against earlier elements, < against later
    ones, in and across the 8-lane blocks): groups drawn from 2-4 values, with +0/-0 (equal, so
    index order decides), equal values placed in the same lane of different blocks, and ties at
    block boundaries."""
    rows = 64
    few = rng.choice(np.float32([-1.5, -0.0, 0.0, 0.75, 2.0]), (rows, N))
    two = rng.choice(np.float32([-1, 1]), (rows, N)) * rng.choice(np.float32([0.5, 1.0]), (rows, N // 32, 1)).repeat(32, 1).reshape(rows, N)
    lanes = np.tile(rng.standard_normal((rows, N // 32, 1, 8)), (1, 1, 4, 1)).reshape(rows, N)  # block copies
    edge = rng.standard_normal((rows, N)).astype(np.float32)
    g = edge.reshape(rows, N // 32, 32)
    g[:, :, 8] = g[:, :, 7]
    g[:, :, 16] = g[:, :, 15]
    g[:, :, 24] = g[:, :, 0]
    g[:, :, 31] = g[:, :, 23]
    x = np.concatenate([few, ulp_jitter(rng, few, 0.2), two, lanes, edge]).astype(np.float32)
    for imatrix in (np.ones(N, np.float32), rng.exponential(1.0, N).astype(np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x, imatrix)
