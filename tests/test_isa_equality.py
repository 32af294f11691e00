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
    sign = np.where(rng.random(n) < 0.5, -1, 1).astype(np.float32)
    blockscale = np.repeat(10.0 ** rng.uniform(-3, 3, -(-n // 32)), 32)[:n].astype(np.float32)
    group16 = np.arange(n) // 16  # K/IQ sub-blocks of 16: SIMD kernels put one per lane
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
        # the sign of a zero statistic depends on which element a strict-comparison scan keeps
        np.where(rng.random(n) < 0.5, 0.0, -0.0).astype(np.float32),
        np.where(rng.random(n) < 0.3, -0.0, np.abs(g)).astype(np.float32),   # min is a zero
        np.where(rng.random(n) < 0.3, 0.0, -np.abs(g)).astype(np.float32),   # max is a zero
        (sign * 0.7).astype(np.float32),                                # +a/-a ties for the extreme
        (sign * 3.0e38).astype(np.float32),                             # max-min and x^2 overflow
        (np.clip(g, -3, 3) * 1e38).astype(np.float32),
        (g * 1e19).astype(np.float32),                                  # x^2 near the f32 limit
        (g * 1e-42).astype(np.float32),                                 # deep subnormal
        np.where(rng.random(n) < 0.05, g * 1e30, g * 1e-30).astype(np.float32),
        np.full(n, -0.37, np.float32),                                  # constant <= 0: degenerate (scale, min) fits
        (g * 10.0 ** rng.uniform(-4, 4, -(-n // 16))[group16]).astype(np.float32),  # scales vary per 16
        np.where(group16 % 2 == 0, 0, g).astype(np.float32),           # all-zero sub-blocks beside live ones
        rng.standard_normal(-(-n // 16))[group16].astype(np.float32),      # constant sub-blocks
        (g * 1e36).astype(np.float32),                                  # x*x itself is inf
    ]
    # every 32-weight block from a random one of the rows above: octets of blocks in which some
    # take a fast path and others the general one
    kinds = np.stack(rows)
    pick = np.repeat(rng.integers(0, len(rows), -(-n // 32)), 32)[:n]
    return np.vstack([kinds, kinds[pick, np.arange(n)]])


def row_lengths(f) -> list[int]:
    """512 weights, and a row whose block count is not a multiple of 8 (kernels that take blocks
    eight at a time, or elements eight at a time, must handle the rest)."""
    return [512, 9 * f.block_weights if f.block_weights > 1 else 13]


def _encode_all(fmt, x, imatrix):
    out = {}
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            out[isa] = dg.quantize(x, fmt, imatrix=imatrix, threads=1)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("weighted", [False, True, "sparse"], ids=["noimat", "imat", "imat0"])
def test_encode_same_on_every_isa(fmt, weighted, rng):
    f = dg.format_info(fmt)
    if not weighted and f.requires_imatrix:
        pytest.skip(f"{fmt} cannot be encoded without an importance matrix")
    if weighted and f.imatrix == "ignored":
        pytest.skip(f"{fmt} ignores the importance matrix")
    for n in row_lengths(f):
        x = adversarial_rows(rng, n)
        imatrix = None
        if weighted:  # "sparse": half the columns have zero importance
            imatrix = rng.exponential(1.0, n).astype(np.float32)
            if weighted == "sparse":
                imatrix[rng.random(n) < 0.5] = 0
        try:
            res = _encode_all(fmt, x, imatrix)
        except NotImplementedError as e:
            pytest.fail(f"{fmt}: {e}")
        for isa in OTHER_ISAS:
            assert_bytes_equal(fmt, res[isa], res["scalar"])


@pytest.mark.parametrize("fmt", ["Q4_0", "Q4_1", "Q5_0", "Q5_1"])
def test_plain_legacy_octet_pipeline(fmt, rng):
    """The plain legacy encoders compute an octet's scales one octet ahead: long rows whose octets
    are clean or decline to the general path (a zero extreme, a +a/-a tie, a NaN) in random order
    must still give each octet its own scales."""
    octets, rows = 40, 6
    x = rng.standard_normal((rows, octets, 8, 32)).astype(np.float32)
    kind = rng.integers(0, 4, (rows, octets))
    blk = rng.integers(0, 8, (rows, octets))
    for r, o in zip(*np.nonzero(kind == 1)):
        x[r, o, blk[r, o]] = np.abs(x[r, o, blk[r, o]])
        # the min is a zero, whose sign is that of the block's first zero
        x[r, o, blk[r, o], rng.choice(32, 3, replace=False)] = rng.choice([-0.0, 0.0], 3)
    for r, o in zip(*np.nonzero(kind == 2)):
        x[r, o, blk[r, o], :2] = [3.5, -3.5]              # +a/-a tie for the extreme
        x[r, o, blk[r, o]] = np.clip(x[r, o, blk[r, o]], -3.5, 3.5)
    x = x.reshape(rows, -1)
    res = _encode_all(fmt, x, None)
    for isa in OTHER_ISAS:
        assert_bytes_equal(fmt, res[isa], res["scalar"])
    # a NaN octet mid-row: the error names it, and a clean copy of the row is unaffected by it
    bad = x[:1].copy()
    bad[0, 7 * 256 + 3] = np.nan
    for isa in dg.available_isas():
        with dg.using_isa(isa), pytest.raises(ValueError, match="NaN"):
            dg.quantize(bad, fmt, threads=1)


# Bytes that make fp16/bf16/e8m0 scale fields inf, NaN (quiet and signalling, both signs), zero,
# subnormal or tiny wherever they fall in a block.
SPECIAL_BYTES = np.array([0x00, 0x01, 0x7C, 0x7D, 0x7E, 0x7F, 0x80, 0xFC, 0xFE, 0xFF], np.uint8)


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
@pytest.mark.parametrize("kind", ["random", "special"])
def test_decode_same_on_every_isa(fmt, dtype, kind, rng):
    f = dg.format_info(fmt)
    nblocks = 64
    data = rng.integers(0, 256, nblocks * f.block_bytes, dtype=np.uint8)
    if kind == "special":  # most bytes special: blocks whose scales (d and m alike) are NaN/inf
        data = np.where(rng.random(data.size) < 0.7, rng.choice(SPECIAL_BYTES, data.size), data).astype(np.uint8)
    data = data.reshape(4, -1)
    res = {}
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            res[isa] = dg.dequantize(data, fmt, dtype=dtype, threads=1)
    for isa in OTHER_ISAS:
        assert_floats_identical(fmt, res[isa].view(np.uint16 if dtype != "float32" else np.float32),
                                res["scalar"].view(np.uint16 if dtype != "float32" else np.float32))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("threads", [1, 2])
def test_streaming_decode_same_bytes(fmt, dtype, threads, rng):
    """Outputs past the last-level cache are written with streaming stores (float32: each format's
    streaming decoder; float16/bfloat16: the conversion out of the L1 buffer). With the threshold at 0
    they run on small outputs: every length and element offset of the output (plain stores up to an
    alignment boundary, streaming ones after) gives the scalar reference's bits, and nothing outside."""
    from dgkernels import _core
    f = dg.format_info(fmt)
    data = rng.integers(0, 256, 300 * f.block_bytes, dtype=np.uint8)
    data = np.where(rng.random(data.size) < 0.3, rng.choice(SPECIAL_BYTES, data.size), data).astype(np.uint8)
    with dg.using_isa("scalar"):
        want = dg.dequantize(data, fmt, dtype=dtype)
    bits = np.uint32 if dtype == "float32" else np.uint16
    want = want.view(bits)
    cases = [(isa, nb, off) for isa in OTHER_ISAS for nb in (1, 7, 8, 33, 300) for off in range(8)]
    old = _core.set_stream_threshold(0)
    try:
        for isa, nblocks, offset in cases:
            n = nblocks * f.block_weights
            buf = np.full(n + 16, 0x5A5A, bits)
            out = buf[offset:offset + n]
            with dg.using_isa(isa):
                got = dg.dequantize(data[: nblocks * f.block_bytes], fmt, dtype=dtype, threads=threads)
                dg.dequantize(data[: nblocks * f.block_bytes], fmt, dtype=dtype, threads=threads,
                              out=out.view(got.dtype))
            assert np.array_equal(got.view(bits), want[:n]), f"{fmt} {dtype}: fresh output differs"
            assert np.array_equal(out, want[:n]), f"{fmt} {dtype} offset {offset}: out= output differs"
            assert (buf[:offset] == 0x5A5A).all() and (buf[offset + n:] == 0x5A5A).all(), "wrote outside out"
    finally:
        _core.set_stream_threshold(old)
