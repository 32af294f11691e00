"""The Python <-> C++ boundary: buffers that overlap, are misaligned, strided, reversed or byte-swapped,
thread counts at and past the limits, unusual importance matrices, and direct calls into the native
module that bypass api.py (which must still never read or write out of bounds)."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from dgkernels import _core

ROWS, N = 3, 256
IMATRIX_FORMATS = [f.name for f in dg.formats() if f.imatrix != "ignored"]


def _x(seed=0, rows=ROWS, n=N):
    return np.random.default_rng(seed).standard_normal((rows, n)).astype(np.float32)


def _misaligned(a: np.ndarray, offset: int) -> np.ndarray:
    """A copy of `a` whose data starts `offset` bytes past an 8-aligned address."""
    raw = np.zeros(a.nbytes + 16, np.uint8)
    start = (-raw.ctypes.data) % 8 + offset
    view = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    view[...] = a
    assert view.ctypes.data % 8 == offset
    return view


# ---- overlap ------------------------------------------------------------------------------------------

def test_quantize_out_overlapping_x_is_refused():
    x = _x(rows=1)
    out = x.view(np.uint8)[:, :dg.format_info("Q8_0").row_bytes(N)]
    assert out.flags.c_contiguous
    before = x.copy()
    with pytest.raises(ValueError, match=r"out overlaps x"):
        dg.quantize(x, "Q8_0", out=out)
    assert np.array_equal(x, before)


def test_quantize_out_overlapping_imatrix_is_refused():
    x = _x(rows=1)
    buf = np.zeros(4 * N, np.uint8)
    im = buf.view(np.float32)[:N]
    im[:] = 1
    out = buf[:dg.format_info("Q4_K").row_bytes(N)].reshape(1, -1)
    with pytest.raises(ValueError, match=r"out overlaps imatrix"):
        dg.quantize(x, "Q4_K", imatrix=im, out=out)


def test_dequantize_out_overlapping_data_is_refused():
    q = dg.quantize(_x(rows=1), "Q8_0")
    out = np.zeros((1, N), np.float32)
    data = out.view(np.uint8)[:, :q.shape[1]]
    data[...] = q
    with pytest.raises(ValueError, match=r"out overlaps data"):
        dg.dequantize(data, "Q8_0", out=out)


def test_separate_views_of_one_buffer_are_fine():
    buf = np.zeros(2 * 4 * N, np.uint8)
    x = buf[:4 * N].view(np.float32).reshape(1, N)
    x[...] = _x(rows=1)
    out = buf[4 * N:4 * N + dg.format_info("Q8_0").row_bytes(N)].reshape(1, -1)
    assert np.array_equal(dg.quantize(x, "Q8_0", out=out), dg.quantize(x.copy(), "Q8_0"))


# ---- layout of inputs and outputs ------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["Q4_0", "Q4_K", "IQ4_NL", "IQ2_XXS", "F16"])
@pytest.mark.parametrize("offset", [1, 2, 4])
def test_misaligned_buffers_give_the_same_result(fmt, offset, isa):
    f = dg.format_info(fmt)
    x = _x()
    im = np.abs(_x(1, 1, N)).reshape(-1) + 0.1 if f.imatrix != "ignored" else None
    want = dg.quantize(x, fmt, imatrix=im)
    got = dg.quantize(_misaligned(x, offset), fmt,
                      imatrix=None if im is None else _misaligned(im, offset))
    assert np.array_equal(got, want)
    out = _misaligned(np.zeros_like(want), offset)
    assert np.array_equal(dg.quantize(x, fmt, imatrix=im, out=out), want)
    dec = dg.dequantize(want, fmt)
    assert np.array_equal(dg.dequantize(_misaligned(want, offset), fmt).view(np.uint32), dec.view(np.uint32))
    out = _misaligned(np.zeros_like(dec), offset)
    assert np.array_equal(dg.dequantize(want, fmt, out=out).view(np.uint32), dec.view(np.uint32))


@pytest.mark.parametrize("make", [
    lambda x: x[::-1], lambda x: np.asfortranarray(x), lambda x: np.repeat(x, 2, axis=1)[:, ::2],
    lambda x: x.astype(">f4"), lambda x: np.broadcast_to(x[:1], x.shape),
])
def test_strided_reversed_and_swapped_inputs(make):
    x = _x()
    v = make(x)
    want = dg.quantize(np.ascontiguousarray(v, dtype=np.float32), "Q4_K")
    assert np.array_equal(dg.quantize(v, "Q4_K"), want)
    q = dg.quantize(x, "Q4_K")
    assert np.array_equal(dg.dequantize(q[::-1], "Q4_K"), dg.dequantize(q, "Q4_K")[::-1])


def test_reversed_out_is_refused():
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        dg.quantize(_x(), "Q8_0", out=np.zeros((ROWS, 272), np.uint8)[::-1])


# ---- threads ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("threads", [1, 1024])
def test_thread_count_limits_accepted(threads):
    x = _x()
    assert np.array_equal(dg.quantize(x, "Q4_0", threads=threads), dg.quantize(x, "Q4_0", threads=1))


@pytest.mark.parametrize("threads", [0, -1, 1025, 2**31 - 1])
def test_native_thread_count_checked(threads):
    x, out = _x(), np.zeros((ROWS, 144), np.uint8)
    with pytest.raises(ValueError, match="threads must be between 1 and 1024"):
        _core.encode(dg.format_info("Q4_0").index, x, out, None, ROWS, N, threads, 0)
    with pytest.raises(ValueError, match="threads must be between 1 and 1024"):
        _core.decode(dg.format_info("Q4_0").index, out, np.zeros((ROWS, N), np.float32), 0, ROWS * 8, threads, 0)


# ---- direct native calls bypassing api.py -----------------------------------------------------------------

Q4 = dg.format_info("Q4_0")


@pytest.mark.parametrize("case", ["reversed x", "strided x", "reversed out", "strided out", "short out",
                                  "reversed imatrix", "overflowing rows", "negative rows"])
def test_native_encode_rechecks_buffers(case):
    x, out, im, nrows, n = _x(), np.zeros((ROWS, 144), np.uint8), None, ROWS, N
    if case == "reversed x":
        x = x[::-1]
    elif case == "strided x":
        x = np.repeat(x, 2, axis=0)[::2]
    elif case == "reversed out":
        out = out[::-1]
    elif case == "strided out":
        out = np.zeros((ROWS, 288), np.uint8)[:, ::2]
    elif case == "short out":
        out = np.zeros((ROWS, 143), np.uint8)
    elif case == "reversed imatrix":
        im = np.ones(N, np.float32)[::-1]
    elif case == "overflowing rows":
        nrows = 2**62
    else:
        nrows = -ROWS
    with pytest.raises(ValueError):
        _core.encode(Q4.index, x, out, im, nrows, n, 1, 0)


@pytest.mark.parametrize("case", ["reversed data", "strided data", "reversed out", "overflowing blocks",
                                  "bad out type"])
def test_native_decode_rechecks_buffers(case):
    data, out, nblocks, ot = np.zeros((ROWS, 144), np.uint8), np.zeros((ROWS, N), np.float32), ROWS * 8, 0
    if case == "reversed data":
        data = data[::-1]
    elif case == "strided data":
        data = np.zeros((ROWS, 288), np.uint8)[:, ::2]
    elif case == "reversed out":
        out = out[::-1]
    elif case == "overflowing blocks":
        nblocks = 2**62
    else:
        ot = 7
    with pytest.raises(ValueError):
        _core.decode(Q4.index, data, out, ot, nblocks, 1, 0)


def test_native_find_nonfinite_rechecks_buffer():
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.find_nonfinite(np.zeros(8, np.float32)[::-1])


# ---- importance matrices --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", IMATRIX_FORMATS)
@pytest.mark.parametrize("kind", ["zeros", "one nonzero", "subnormal", "safe maximum"])
def test_unusual_imatrix_values(fmt, kind, isa):
    """Legal importance matrices at the edges, with inputs up to the fp16 limit: encoding works and
    decodes to finite values."""
    f = dg.format_info(fmt)
    n = 256
    im = {"zeros": np.zeros(n), "one nonzero": np.eye(1, n, 7).reshape(-1), "subnormal": np.full(n, 1e-42),
          "safe maximum": np.full(n, dg.api.SAFE_IMATRIX_MAX)}[kind].astype(np.float32)
    x = _x(2, 2, n) * 1000
    x[0, 3], x[1, 200] = 65504, -65504
    q = dg.quantize(x, fmt, imatrix=im)
    assert q.shape == (2, f.row_bytes(n))
    assert np.isfinite(dg.dequantize(q, fmt)).all()


@pytest.mark.parametrize("fmt", IMATRIX_FORMATS)
def test_imatrix_beyond_the_safe_range(fmt):
    """FLT_MAX importance is accepted as ggml accepts it: the sums overflow and the scales become NaN (as in
    ggml), identically on every ISA -- never a crash or an out-of-range read."""
    im = np.full(256, np.finfo(np.float32).max, np.float32)
    x = _x(2, 2, 256)
    outs = []
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            outs.append(dg.quantize(x, fmt, imatrix=im))
            dg.dequantize(outs[-1], fmt)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


def test_imatrix_2d_with_the_right_size_is_accepted():
    x = _x()
    im = np.abs(_x(1, 1, N)) + 0.5
    assert np.array_equal(dg.quantize(x, "Q4_K", imatrix=im), dg.quantize(x, "Q4_K", imatrix=im.reshape(-1)))
