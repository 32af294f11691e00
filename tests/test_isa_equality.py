"""Every ISA gives the scalar reference's exact bytes: encode and decode, every format, every output
dtype, on random and adversarial blocks (zeros, ties at rounding boundaries, subnormal and huge
scales, constant blocks, single outliers)."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_bytes_equal, assert_floats_identical

OTHER_ISAS = [i for i in dg.available_isas() if i != "scalar"]
pytestmark = pytest.mark.skipif(not OTHER_ISAS, reason="this CPU only runs the scalar kernels")
FORMATS = [f.name for f in dg.formats()]


def _iq4_near_midpoints(rng, n: int) -> np.ndarray:
    """n values drawn from the midpoints between adjacent IQ4 levels and their float neighbours."""
    block = np.zeros(18, np.uint8)
    block[:2] = np.frombuffer(np.float16(1).tobytes(), np.uint8)
    block[2:] = np.arange(16, dtype=np.uint8) * 17  # element j and j+16 both on level j
    with dg.using_isa("scalar"):
        levels = dg.dequantize(block, "IQ4_NL")[:16].astype(np.float64)
    mids = ((levels[:-1] + levels[1:]) / 2).astype(np.float32)  # half-integers: exact
    m = mids[rng.integers(0, mids.size, n)]
    return np.choose(rng.integers(0, 3, n), [m, np.nextafter(m, np.float32(-np.inf)),
                                             np.nextafter(m, np.float32(np.inf))]).astype(np.float32)


def adversarial_rows(rng, n: int) -> np.ndarray:
    """Rows of n weights, each a different kind of hard case, block scales varying inside a row."""
    g = rng.standard_normal(n).astype(np.float32)
    blockscale = np.repeat(10.0 ** rng.uniform(-3, 3, n // 32), 32).astype(np.float32)
    rows = [
        g,
        g * blockscale,
        np.zeros(n, np.float32),
        np.full(n, 0.37, np.float32),
        (rng.integers(-64, 65, n) / 16).astype(np.float32),             # exact k/16 values: rounding ties
        (rng.integers(-1, 2, n) * 0.7).astype(np.float32),              # ternary
        (g * 1e-38).astype(np.float32),                                 # subnormal
        (g * 3e4).astype(np.float32),                                   # near fp16 overflow
        np.where(rng.random(n) < 0.9, 0, g).astype(np.float32),        # sparse
        np.where(rng.random(n) < 0.01, g * 50, g).astype(np.float32),  # outliers
        rng.standard_t(3, n).astype(np.float32),
        np.abs(g) + 0.1,
        # half-integers with -127 leading each block: the IQ4 first fit lands exactly on midpoints
        # between levels (nearest-level ties)
        np.where(np.arange(n) % 32 == 0, -127, rng.integers(-254, 255, n) / 2).astype(np.float32),
        # same first fit (v = -x), v on a midpoint of two IQ4 levels or one ulp either side
        np.where(np.arange(n) % 32 == 0, np.float32(-127), -_iq4_near_midpoints(rng, n)),
        (g * 1e19).astype(np.float32),                                  # x*x overflows: inf/NaN weights
    ]
    return np.stack(rows)


def _encode_all(fmt, x, imatrix):
    out = {}
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            out[isa] = dg.quantize(x, fmt, imatrix=imatrix, threads=1)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("weighted", [False, True], ids=["noimat", "imat"])
def test_encode_same_on_every_isa(fmt, weighted, rng):
    f = dg.format_info(fmt)
    if not weighted and f.requires_imatrix:
        pytest.skip(f"{fmt} cannot be encoded without an importance matrix")
    if weighted and f.imatrix == "ignored":
        pytest.skip(f"{fmt} ignores the importance matrix")
    n = 512 if f.block_weights <= 256 else f.block_weights
    x = adversarial_rows(rng, n)
    imatrix = rng.exponential(1.0, n).astype(np.float32) if weighted else None
    try:
        res = _encode_all(fmt, x, imatrix)
    except NotImplementedError as e:
        pytest.fail(f"{fmt}: {e}")
    for isa in OTHER_ISAS:
        assert_bytes_equal(fmt, res[isa], res["scalar"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_encode_same_on_every_isa_overflowing_sums(fmt, rng):
    """Weights near the float limit with huge importance: sums of squares and weighted sums inside
    the searches overflow to inf/NaN, and the scalar code's fallbacks (e.g. a NaN scale leaving a
    search's starting levels in place) decide the bytes."""
    f = dg.format_info(fmt)
    n = 1024 if f.block_weights <= 256 else f.block_weights
    g = rng.standard_normal((4, n)).astype(np.float32)
    blockscale = np.repeat(10.0 ** rng.uniform(-6, 6, (4, n // 16)), 16, axis=1)
    x = np.concatenate([g * 1e18, g * blockscale]).astype(np.float32)
    e = rng.exponential(1.0, n)
    imatrices = [None] if f.imatrix == "ignored" else [(e * 1e30).astype(np.float32), (e ** 8).astype(np.float32)]
    for imatrix in imatrices:
        try:
            res = _encode_all(fmt, x, imatrix)
        except NotImplementedError as err:
            pytest.fail(f"{fmt}: {err}")
        for isa in OTHER_ISAS:
            assert_bytes_equal(fmt, res[isa], res["scalar"])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_decode_same_on_every_isa(fmt, dtype, rng):
    f = dg.format_info(fmt)
    nblocks = 64
    data = rng.integers(0, 256, nblocks * f.block_bytes, dtype=np.uint8).reshape(4, -1)
    res = {}
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            res[isa] = dg.dequantize(data, fmt, dtype=dtype, threads=1)
    for isa in OTHER_ISAS:
        assert_floats_identical(fmt, res[isa].view(np.uint16 if dtype != "float32" else np.float32),
                                res["scalar"].view(np.uint16 if dtype != "float32" else np.float32))
