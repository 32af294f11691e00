"""GPU vs CPU, byte for byte: every format decoded to every dtype, every GPU encoder with and without an
importance matrix, torch and cupy inputs, non-default streams, and bad input. Skipped (with the reason)
where no GPU is usable; tests/test_cuda_emulation.py covers the kernels' logic without one."""
from __future__ import annotations

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_bytes_equal, assert_floats_identical, golden_entries, vector_file

pytestmark = pytest.mark.cuda

if not dg.cuda_available():
    from dgkernels import cuda as _gpu
    pytest.skip(f"no usable GPU: {_gpu.unavailable_reason()}", allow_module_level=True)

from dgkernels import cuda as gpu  # noqa: E402

try:
    import torch
    HAVE_TORCH = torch.cuda.is_available()
except ImportError:
    torch, HAVE_TORCH = None, False
try:
    import cupy
    HAVE_CUPY = cupy.cuda.runtime.getDeviceCount() > 0
except Exception:
    cupy, HAVE_CUPY = None, False

LIBS = [pytest.param("torch", marks=pytest.mark.skipif(not HAVE_TORCH, reason="torch with CUDA not installed")),
        pytest.param("cupy", marks=pytest.mark.skipif(not HAVE_CUPY, reason="cupy not installed"))]
ALL = [f.name for f in dg.formats()]
ENC = gpu.encode_formats()
NOT_ENC = [f for f in ALL if f not in ENC]
DTYPES = ["float32", "float16", "bfloat16"]


def to_dev(a: np.ndarray, lib):
    if lib == "torch":
        return torch.from_numpy(np.ascontiguousarray(a)).cuda()
    return cupy.asarray(a)


def to_host(a, lib) -> np.ndarray:
    if lib == "torch":
        if a.dtype == torch.bfloat16:
            a = a.view(torch.int16)
        return a.cpu().numpy()
    return cupy.asnumpy(a)


def cpu_decode(data, fmt, dtype):
    out = dg.dequantize(data, fmt, dtype=dtype)
    return out.view(np.uint16) if dtype == "bfloat16" else out


def gpu_decode(data, fmt, dtype, lib):
    got = dg.dequantize(to_dev(data, lib), fmt, dtype=dtype)
    if lib == "torch":
        assert got.is_cuda and str(got.dtype) == f"torch.{dtype}"
    else:
        assert isinstance(got, cupy.ndarray)
    h = to_host(got, lib)
    return h.view(np.uint16) if dtype == "bfloat16" else h


# ---- decode ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ALL)
def test_decode_random_bytes(fmt, dtype, lib, rng):
    f = dg.format_info(fmt)
    data = rng.integers(0, 256, size=(3, (8192 // f.block_weights + 5) * f.block_bytes), dtype=np.uint8)
    got = gpu_decode(data, fmt, dtype, lib)
    assert_floats_identical(fmt, got, cpu_decode(data, fmt, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ALL)
def test_decode_special_bytes(fmt, dtype, rng):
    """inf/NaN/zero scale fields: the GPU must give x86's NaN bits (see README, GPU path)."""
    from test_cuda_emulation import SPECIAL_BYTES
    lib = "torch" if HAVE_TORCH else "cupy"
    f = dg.format_info(fmt)
    data = rng.choice(SPECIAL_BYTES, size=(3, (8192 // f.block_weights + 5) * f.block_bytes))
    assert_floats_identical(fmt, gpu_decode(data, fmt, dtype, lib), cpu_decode(data, fmt, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ALL)
def test_decode_encoded_blocks(fmt, dtype, rng):
    lib = "torch" if HAVE_TORCH else "cupy"
    f = dg.format_info(fmt)
    n = max(256, f.block_weights) * 4
    x = (rng.standard_normal((16, n)) * np.exp(rng.uniform(-8, 8, size=(16, 1)))).astype(np.float32)
    im = rng.uniform(0.1, 2.0, n).astype(np.float32) if f.requires_imatrix else None
    try:
        data = dg.quantize(x, fmt, imatrix=im)
    except NotImplementedError:
        pytest.skip(f"the CPU has no encoder for {fmt}")
    assert_floats_identical(fmt, gpu_decode(data, fmt, dtype, lib), cpu_decode(data, fmt, dtype))


GOLDEN = golden_entries()


@pytest.mark.parametrize("fmt,entry", GOLDEN, ids=[f"{f}-{e['case']}-{e['variant']}" for f, e in GOLDEN])
def test_golden_on_gpu(fmt, entry):
    lib = "torch" if HAVE_TORCH else "cupy"
    z = vector_file(fmt)
    key = f"{entry['case']}/{entry['variant']}"
    enc, dec = z[f"{key}/enc"], z[f"{key}/dec"]
    got = gpu_decode(enc, fmt, "float32", lib)
    assert_floats_identical(fmt, got, dec.reshape(got.shape))
    x = z[f"{entry['case']}/x"]
    if fmt in ENC and np.isfinite(x).all():
        im = z[f"{entry['case']}/imatrix"] if entry["imatrix"] else None
        got = to_host(dg.quantize(to_dev(x, lib), fmt, imatrix=im), lib)
        assert_bytes_equal(fmt, got, enc.reshape(got.shape))


# ---- encode ------------------------------------------------------------------------------------
def adversarial(rng, n):
    from test_cuda_emulation import adversarial_rows
    return np.concatenate([adversarial_rows(rng, n), rng.standard_normal((64, n)).astype(np.float32)])


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("imat", [False, True], ids=["noimat", "imat"])
@pytest.mark.parametrize("fmt", ENC)
def test_encode_matches_cpu(fmt, imat, lib, rng):
    f = dg.format_info(fmt)
    if f.requires_imatrix and not imat:
        pytest.skip(f"{fmt} needs an importance matrix")
    n = 1024 if f.block_weights > 1 else 100
    x = adversarial(rng, n)
    im = None
    if imat:
        im = rng.uniform(0.0, 3.0, n).astype(np.float32)
        im[::7] = 0.0
    want = dg.quantize(x, fmt, imatrix=im)
    got = dg.quantize(to_dev(x, lib), fmt, imatrix=None if im is None else to_dev(im, lib))
    assert_bytes_equal(fmt, to_host(got, lib), want)


@pytest.mark.xfail(strict=False, reason="known gap: with |x| ~1e19+ fp32 sums overflow and a NaN scale may be stored; "
                   "x86 gives the negative default NaN, the GPU a positive one (the encoders do not emulate x86 "
                   "NaN results, the decoders do)")
@pytest.mark.parametrize("fmt", ["Q4_1", "Q3_K", "Q6_K", "IQ4_XS", "IQ3_S"])
def test_encode_overflowing_floats(fmt, rng):
    lib = "torch" if HAVE_TORCH else "cupy"
    x = (rng.standard_normal((8, 512)) * 1e20).astype(np.float32)
    im = rng.uniform(0.5, 1.5, 512).astype(np.float32)
    assert_bytes_equal(fmt, to_host(dg.quantize(to_dev(x, lib), fmt, imatrix=im), lib), dg.quantize(x, fmt, imatrix=im))


def test_every_cpu_encoder_has_a_gpu_encoder():
    assert set(ENC) == set(ALL), NOT_ENC


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats() if f.requires_imatrix])
def test_required_imatrix_on_gpu(fmt):
    lib = "torch" if HAVE_TORCH else "cupy"
    with pytest.raises(ValueError, match=fmt):
        dg.quantize(to_dev(np.ones((2, 256), np.float32), lib), fmt)


# ---- streams, devices, bad input -----------------------------------------------------------------
@pytest.mark.skipif(not HAVE_TORCH, reason="torch with CUDA not installed")
def test_torch_non_default_stream(rng):
    x = rng.standard_normal((256, 4096)).astype(np.float32)
    want_q = dg.quantize(x, "Q4_K")
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        xd = torch.from_numpy(x).to("cuda", non_blocking=True)
        q = dg.quantize(xd, "Q4_K")
        y = dg.dequantize(q, "Q4_K", dtype=torch.float16)
    s.synchronize()
    assert_bytes_equal("Q4_K", q.cpu().numpy(), want_q)
    assert_floats_identical("Q4_K", y.cpu().numpy(), dg.dequantize(want_q, "Q4_K", dtype="float16"))


@pytest.mark.skipif(not HAVE_CUPY, reason="cupy not installed")
def test_cupy_non_default_stream(rng):
    x = rng.standard_normal((256, 4096)).astype(np.float32)
    want_q = dg.quantize(x, "Q8_0")
    s = cupy.cuda.Stream(non_blocking=True)
    with s:
        q = dg.quantize(cupy.asarray(x), "Q8_0")
        y = dg.dequantize(q, "Q8_0")
    s.synchronize()
    assert_bytes_equal("Q8_0", cupy.asnumpy(q), want_q)
    assert_floats_identical("Q8_0", cupy.asnumpy(y), dg.dequantize(want_q, "Q8_0"))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch with CUDA not installed")
def test_torch_helper_uses_gpu(rng):
    from dgkernels.torch import dequantize as tdeq
    x = rng.standard_normal((64, 512)).astype(np.float32)
    q = dg.quantize(x, "IQ4_XS")
    y = tdeq(torch.from_numpy(q).cuda(), "IQ4_XS", (64, 512), torch.bfloat16)
    assert y.is_cuda and y.dtype == torch.bfloat16
    want = dg.dequantize(q, "IQ4_XS", dtype="bfloat16").view(np.uint16)
    assert np.array_equal(y.view(torch.int16).cpu().numpy().view(np.uint16), want)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch with CUDA not installed")
def test_bad_input_torch():
    x = torch.zeros((4, 256), device="cuda")
    with pytest.raises(ValueError, match="contiguous"):
        dg.quantize(x[:, ::2], "Q8_0")
    with pytest.raises(ValueError, match="contiguous"):
        dg.dequantize(torch.zeros((4, 68), dtype=torch.uint8, device="cuda")[:, ::2], "Q8_0")
    with pytest.raises(TypeError, match="dtype"):
        dg.quantize(torch.zeros((4, 256), dtype=torch.int32, device="cuda"), "Q8_0")
    with pytest.raises(TypeError, match="uint8"):
        dg.dequantize(torch.zeros((4, 34), dtype=torch.float32, device="cuda"), "Q8_0")
    with pytest.raises(TypeError, match="dtype"):
        dg.dequantize(torch.zeros((4, 34), dtype=torch.uint8, device="cuda"), "Q8_0", dtype=torch.int32)
    with pytest.raises(ValueError, match="multiple"):
        dg.quantize(torch.zeros((4, 100), device="cuda"), "Q4_0")
    with pytest.raises(ValueError, match="non-finite"):
        dg.quantize(torch.full((4, 256), float("nan"), device="cuda"), "Q4_0")
    with pytest.raises(ValueError, match="device|CPU"):
        dg.quantize(x, "Q4_0", out=torch.empty((4, 144), dtype=torch.uint8))
    with pytest.raises(ValueError, match="aligned"):
        dg.dequantize(torch.zeros(4 * 34 + 1, dtype=torch.uint8, device="cuda")[1:].reshape(4, 34), "Q8_0")
    with pytest.raises(ValueError, match="imatrix"):
        dg.quantize(x, "Q4_K", imatrix=np.ones(10, np.float32))


@pytest.mark.skipif(not HAVE_TORCH, reason="torch with CUDA not installed")
def test_out_argument_torch(rng):
    x = rng.standard_normal((8, 256)).astype(np.float32)
    out = torch.empty((8, 144), dtype=torch.uint8, device="cuda")
    r = dg.quantize(torch.from_numpy(x).cuda(), "Q4_K", out=out)
    assert r.data_ptr() == out.data_ptr()
    assert_bytes_equal("Q4_K", out.cpu().numpy(), dg.quantize(x, "Q4_K"))


@pytest.mark.skipif(not HAVE_CUPY, reason="cupy not installed")
def test_bad_input_cupy():
    with pytest.raises(ValueError, match="contiguous"):
        dg.quantize(cupy.zeros((256, 4), np.float32).T, "Q8_0")
    with pytest.raises(TypeError, match="dtype"):
        dg.quantize(cupy.zeros((4, 256), np.int32), "Q8_0")


def test_numpy_stays_on_cpu(rng):
    x = rng.standard_normal((4, 256)).astype(np.float32)
    assert isinstance(dg.quantize(x, "Q4_0"), np.ndarray)
