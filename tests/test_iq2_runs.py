"""The IQ2 AVX2 searches skip neighbour scans by a proof with rounding margins: when the scans at two
trial scales with the same off-grid key pick the same neighbour with a certified gap, the trials
between them take it unscanned (common/avx2_iq2_runs.h). They must still give the scalar bytes.
Inputs built to make the margins matter: octets with pairs of equal (value, importance), where two
neighbours that swap levels between the pair have the same exact distance at every scale and the
float scan picks between them by rounding alone; few distinct values; one-ulp perturbations;
magnitudes from tiny to huge; importance with zeros and huge ratios."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_avx2_encodes_as_scalar, assert_bytes_equal, ulp_jitter

pytestmark = pytest.mark.skipif("avx2" not in dg.available_isas(), reason="this CPU only runs the scalar kernels")
FORMATS = ["IQ2_XS", "IQ2_XXS", "IQ2_S"]
N = 256  # one super-block per row


def _pairs(rng, rows: int, scale=1.0) -> np.ndarray:
    """Every value twice, in adjacent columns (importance repeats the same way below)."""
    return np.repeat(rng.standard_normal((rows, N // 2)) * scale, 2, axis=1).astype(np.float32)


def _pair_imatrix(rng) -> np.ndarray:
    return np.repeat(rng.exponential(1.0, N // 2), 2).astype(np.float32)


@pytest.mark.parametrize("fmt", FORMATS)
def test_equal_distance_neighbours(fmt, rng):
    rows = 256
    small = rng.choice(np.float32([0.3, 0.5, 0.7, 1.0, 1.5, 2.0]), (rows, N // 2))
    x = np.concatenate([
        _pairs(rng, rows),
        _pairs(rng, rows, 10.0 ** rng.uniform(-20, 20, (rows, 1))),
        np.repeat(small, 2, axis=1) * rng.choice(np.float32([-1, 1]), (rows, N)),
        np.repeat(np.round(rng.standard_normal((rows, N // 2)) * 4) / 4, 2, axis=1),
    ])
    for imatrix in (_pair_imatrix(rng), np.ones(N, np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x, imatrix)
        assert_avx2_encodes_as_scalar(fmt, ulp_jitter(rng, x, 0.2), imatrix)


@pytest.mark.parametrize("fmt", FORMATS)
def test_magnitudes_and_importance(fmt, rng):
    g = np.concatenate([_pairs(rng, 8), rng.standard_normal((8, N)).astype(np.float32)])
    scales = [1e-38, 1e-30, 1e-20, 1e-6, 1, 1e6, 1e15, 1e20, 1e30, 1e37]
    x = np.concatenate([g * np.float32(s) for s in scales])
    e = _pair_imatrix(rng)
    for imatrix in (e, np.where(rng.random(N) < 0.5, 0, e), (10.0 ** rng.uniform(-6, 6, N)).astype(np.float32),
                    np.full(N, 1e-30, np.float32), np.full(N, 1e30, np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x, imatrix.astype(np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_random_rows(fmt, rng):
    rows = 256
    for d in (rng.standard_normal((rows, N)), rng.laplace(size=(rows, N)), rng.standard_t(2, (rows, N)),
              rng.uniform(-1, 1, (rows, N))):
        assert_avx2_encodes_as_scalar(fmt, np.asarray(d, np.float32), np.exp(rng.standard_normal(N)).astype(np.float32))


def test_group_preparation(rng):
    """The AVX2 group preparation (weights, sign folding, maximum): signed zeros, subnormals, all-zero
    and tiny groups, odd counts of negatives with tied w*x*x, and IQ2_S without an importance matrix."""
    rows = 32
    x = rng.standard_normal((rows, N)).astype(np.float32)
    x[0::4, ::3] = -0.0
    x[1::4, ::2] = np.float32(1e-42) * rng.choice([-1, 1], (rows // 4, N // 2))
    x[2::4, :32] = 0
    x[3::4] = np.repeat(rng.choice(np.float32([-1, 1]), (rows // 4, N // 8)), 8, axis=1) * 0.5
    x[3::4, ::16] = -np.abs(x[3::4, ::16])
    for fmt in FORMATS:
        for imatrix in (np.exp(rng.standard_normal(N)).astype(np.float32), np.ones(N, np.float32)):
            assert_avx2_encodes_as_scalar(fmt, x, imatrix)
    out = {}
    for isa in ("scalar", "avx2"):
        with dg.using_isa(isa):
            out[isa] = dg.quantize(x, "IQ2_S", threads=1)
    assert_bytes_equal("IQ2_S", out["avx2"], out["scalar"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_run_boundaries(fmt, rng):
    """Runs of trials with one off-grid key are found from a mask of equal neighbouring keys
    (avx2_iq2_trials.h): octets whose key stays the same over many trial scales (one dominant
    element, two-level octets, constant octets), so runs start at the first trial, end at the last
    one, touch on-grid trials and each other, and have every length."""
    rows = 256
    spike = rng.uniform(0.0, 0.3, (rows, N)) * rng.choice([-1, 1], (rows, N))
    spike[:, ::8] = rng.uniform(1.0, 3.0, (rows, N // 8))
    lo_hi = np.where(rng.random((rows, N)) < rng.uniform(0.1, 0.9, (rows, 1)),
                     rng.uniform(0.2, 0.6, (rows, 1)), 1.0) * rng.choice([-1, 1], (rows, N))
    const = np.repeat(rng.uniform(0.1, 2.0, (rows, N // 8)), 8, axis=1) * rng.choice([-1, 1], (rows, N))
    const[:, 3::8] *= rng.uniform(0.5, 1.5, (rows, N // 8))
    x = np.concatenate([spike, lo_hi, const]).astype(np.float32)
    for imatrix in (np.exp(rng.standard_normal(N)).astype(np.float32), np.ones(N, np.float32)):
        assert_avx2_encodes_as_scalar(fmt, x, imatrix)
        assert_avx2_encodes_as_scalar(fmt, ulp_jitter(rng, x, 0.3), imatrix)


@pytest.mark.parametrize("fmt", FORMATS)
def test_level_fallback(fmt, rng):
    """The trial levels come from two compares when every |id*x| of a group is below 2^22, else from
    the rounding trick itself (avx2_iq2_trials.h), whose bits differ beyond that: for IQ2_XXS a huge
    negative element (the parity flip's pick, of tiny importance) next to ordinary ones; magnitudes
    spanning the float range for all three."""
    rows = 64
    x = rng.standard_normal((rows, N)).astype(np.float32)
    imatrix = np.exp(rng.standard_normal(N)).astype(np.float32)
    tiny = rng.choice(N, N // 8, replace=False)
    imatrix[tiny] = 1e-37
    huge = x.copy()
    huge[:, tiny] = -(10.0 ** rng.uniform(7, 12, (rows, tiny.size)))
    wide = x * (10.0 ** rng.uniform(-30, 30, (rows, N)))
    y = np.concatenate([huge, -huge, wide]).astype(np.float32)
    assert_avx2_encodes_as_scalar(fmt, y, imatrix)
    assert_avx2_encodes_as_scalar(fmt, y, np.ones(N, np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
def test_superblock_sigma2_lanes(fmt, rng):
    """The AVX2 encoders sum the super-blocks' squares eight super-blocks at a time, one per lane
    (avx2_iq2_prep.h): rows of 1 to 19 super-blocks (partial last batches), each super-block at its
    own magnitude so that a sum from the wrong super-block changes the weights."""
    for nsb in (1, 3, 8, 9, 16, 19):
        x = rng.standard_normal((4, nsb * N)) * np.repeat(10.0 ** rng.uniform(-3, 3, (4, nsb)), N, axis=1)
        imatrix = np.exp(rng.standard_normal(nsb * N)).astype(np.float32)
        assert_avx2_encodes_as_scalar(fmt, x.astype(np.float32), imatrix, row=nsb * N)
