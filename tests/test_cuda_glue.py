"""The Python side of the GPU path (dgkernels.cuda and the dispatch in quantize/dequantize), run without a GPU:
a fake cupy whose arrays live in host memory, and a fake _cuda whose launches call the real host emulation
of the kernels on those pointers. Checks argument handling, shapes, dtypes, out=, errors and results."""
from __future__ import annotations

import ctypes
import sys
import types

import numpy as np
import pytest

import dgkernels as dg

_cuda = pytest.importorskip("dgkernels._cuda", reason="the CUDA extension is not built")
from dgkernels import cuda as gpu  # noqa: E402


class FakeArray:
    """Just enough of cupy.ndarray, backed by a numpy array in host memory."""
    __module__ = "cupy_fake"

    def __init__(self, a: np.ndarray):
        self.a = a
        self.data = types.SimpleNamespace(ptr=a.ctypes.data)
        self.shape = a.shape
        self.dtype = a.dtype
        self.device = types.SimpleNamespace(id=0)
        self.flags = types.SimpleNamespace(c_contiguous=a.flags.c_contiguous)
        self.__cuda_array_interface__ = {"shape": a.shape}

    def astype(self, dt):
        return FakeArray(self.a.astype(dt))

    def reshape(self, *s):
        return FakeArray(self.a.reshape(*s))

    def __invert__(self):
        return FakeArray(~self.a)

    def any(self):
        return bool(self.a.any())

    def get(self):
        return self.a

    def __getitem__(self, k):
        return FakeArray(np.asarray(self.a[k]))

    def __int__(self):
        return int(self.a)


def _fake_cupy():
    m = types.ModuleType("cupy")

    class Device:
        def __init__(self, i):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    m.cuda = types.SimpleNamespace(Device=Device, get_current_stream=lambda: types.SimpleNamespace(ptr=0))
    m.empty = lambda shape, dtype: FakeArray(np.zeros(shape, dtype))
    m.asarray = lambda a: FakeArray(np.ascontiguousarray(a))
    m.isfinite = lambda x: FakeArray(np.isfinite(x.a))
    m.flatnonzero = lambda x: FakeArray(np.flatnonzero(x.a))
    return m


def _buf(ptr, nbytes, dtype=np.uint8):
    return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(ptr)).view(dtype)


class FakeCuda:
    """_cuda's launch API on host pointers, running the real emulation of the device code."""

    def status(self):
        return 1, ""

    encode_supported = staticmethod(_cuda.encode_supported)

    def decode(self, fmt, src, dst, out_type, count, device, stream):
        f = dg.formats()[fmt]
        nw = count * f.block_weights
        _cuda.emulate_decode(fmt, _buf(src, count * f.block_bytes), _buf(dst, nw * (4 if out_type == 0 else 2)),
                             out_type, count)

    def encode(self, fmt, x, dst, im, nrows, n, device, stream):
        f = dg.formats()[fmt]
        _cuda.emulate_encode(fmt, _buf(x, nrows * n * 4, np.float32), _buf(dst, nrows * f.row_bytes(n)),
                             None if not im else _buf(im, n * 4, np.float32), nrows, n)


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    monkeypatch.setattr(gpu, "_module", lambda: (FakeCuda(), None))
    monkeypatch.setattr(gpu, "_status", None)
    yield


@pytest.mark.parametrize("fmt", ["Q4_0", "Q5_1", "Q4_K", "Q6_K", "IQ4_XS", "IQ2_XXS", "IQ3_S", "MXFP4", "F16"])
def test_roundtrip_through_the_gpu_api(fake, fmt, rng):
    f = dg.format_info(fmt)
    x = rng.standard_normal((3, 512)).astype(np.float32)
    im = rng.uniform(0.5, 1.5, 512).astype(np.float32) if f.requires_imatrix or fmt == "Q4_K" else None
    q = dg.quantize(FakeArray(x), fmt, imatrix=im)
    assert isinstance(q, FakeArray) and q.dtype == np.uint8
    np.testing.assert_array_equal(q.a, dg.quantize(x, fmt, imatrix=im))
    for dtype in ["float32", "float16", "bfloat16"]:
        y = dg.dequantize(q, fmt, dtype=dtype)
        want = dg.dequantize(q.a, fmt, dtype=dtype)
        assert y.shape == want.shape
        np.testing.assert_array_equal(y.a.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))
    y = dg.dequantize(FakeArray(q.a.reshape(-1)), fmt, n_per_row=512)
    assert y.shape == (3, 512)


def test_gpu_errors(fake):
    x = np.zeros((4, 256), np.float32)
    with pytest.raises(ValueError, match="contiguous"):
        dg.quantize(FakeArray(np.zeros((256, 4), np.float32).T), "Q8_0")
    with pytest.raises(TypeError, match="dtype"):
        dg.quantize(FakeArray(np.zeros((4, 256), np.int32)), "Q8_0")
    with pytest.raises(ValueError, match="non-finite"):
        dg.quantize(FakeArray(np.full((4, 256), np.nan, np.float32)), "Q4_0")
    with pytest.raises(ValueError, match="multiple"):
        dg.quantize(FakeArray(np.zeros((4, 100), np.float32)), "Q4_0")
    with pytest.raises(ValueError, match="imatrix"):
        dg.quantize(FakeArray(x), "Q4_K", imatrix=np.ones(10, np.float32))
    with pytest.raises(ValueError, match="importance"):
        dg.quantize(FakeArray(x), "IQ2_XS")
    with pytest.raises(TypeError, match="uint8"):
        dg.dequantize(FakeArray(np.zeros((4, 34), np.float32)), "Q8_0")
    with pytest.raises(TypeError, match="dtype"):
        dg.dequantize(FakeArray(np.zeros((4, 34), np.uint8)), "Q8_0", dtype="int32")
    with pytest.raises(ValueError, match="multiple"):
        dg.dequantize(FakeArray(np.zeros((4, 33), np.uint8)), "Q8_0")
    out = FakeArray(np.zeros((4, 8 * 34), np.uint8))
    r = dg.quantize(FakeArray(np.ones((4, 256), np.float32)), "Q8_0", out=out)
    assert r is out and out.a.any()
    with pytest.raises(ValueError, match="shape"):
        dg.quantize(FakeArray(x), "Q8_0", out=FakeArray(np.zeros((4, 10), np.uint8)))


def test_float16_input_is_converted(fake, rng):
    x = rng.standard_normal((2, 256)).astype(np.float16)
    q = dg.quantize(FakeArray(x), "Q8_0")
    np.testing.assert_array_equal(q.a, dg.quantize(x.astype(np.float32), "Q8_0"))
