"""The CUDA kernels' per-block functions, run on the host (dgkernels._cuda.emulate_*), against the _core CPU
reference, byte for byte. The device kernels call these very functions (csrc/cuda/include/dgk_cuda/*.cuh),
so this verifies the device code's logic on a machine without a GPU. Runs wherever _cuda is built; what
it cannot cover (host/device compiler differences) is listed in README "GPU path" and checked by
tests/test_cuda.py on a GPU."""
from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

import dgkernels as dg
from helpers import assert_bytes_equal, assert_floats_identical, golden_entries, vector_file

_cuda = pytest.importorskip("dgkernels._cuda", reason="the CUDA extension is not built (no nvcc or DGKERNELS_CUDA=OFF)")
from dgkernels import cuda as gpu  # noqa: E402

ALL = [f.name for f in dg.formats()]
ENC = gpu.encode_formats()
NOT_ENC = [f for f in ALL if f not in ENC]
DTYPES = ["float32", "float16", "bfloat16"]


def cpu_decode(data, fmt, dtype):
    out = dg.dequantize(data, fmt, dtype=dtype)
    return out.view(np.uint16) if dtype == "bfloat16" else out


def check_decode(fmt, data, dtype):
    got = gpu.emulate_dequantize(data, fmt, dtype)
    want = cpu_decode(data, fmt, dtype)
    assert_floats_identical(fmt, got, want.reshape(got.shape))


# ---- decode ------------------------------------------------------------------------------------
# The device decoders are the CPU's own (csrc/formats/<fmt>/decode_group.h), called per group of 8 where the
# CPU decodes runs of up to 32 or 256 elements: these tests check that the group path (indexing, the
# per-group scales) gives the same bits as the CPU's runs. The x86 NaN fix-ups of dgk/nan_ops.h exist only
# in device code (the host hardware already gives those NaNs); tests/test_cuda.py checks them on a GPU.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ALL)
def test_decode_random_bytes(fmt, dtype, rng):
    """Arbitrary bytes (NaN/inf/subnormal scales, every index and sign pattern) decode identically."""
    f = dg.format_info(fmt)
    nblocks = 4096 // f.block_weights + 3
    data = rng.integers(0, 256, size=(2, nblocks * f.block_bytes), dtype=np.uint8)
    check_decode(fmt, data, dtype)


SPECIAL_BYTES = np.array([0x00, 0x00, 0x7C, 0xFC, 0x7E, 0x7D, 0xFF, 0x80, 0x01, 0x3C, 0x88, 0x10], np.uint8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ALL)
def test_decode_special_bytes(fmt, dtype, rng):
    """Bytes from a small set, so scale fields are often +-inf, quiet/signalling NaN, +-0 or subnormal and
    quants often zero: inf*0, inf-inf and NaN-propagation cases, where x86 and GPU NaN bits differ."""
    f = dg.format_info(fmt)
    nblocks = 4096 // f.block_weights + 3
    data = rng.choice(SPECIAL_BYTES, size=(2, nblocks * f.block_bytes))
    check_decode(fmt, data, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fmt", ALL)
def test_decode_encoded_blocks(fmt, dtype, rng):
    """Blocks the CPU encoder produced (realistic scales) decode identically."""
    f = dg.format_info(fmt)
    n = max(256, f.block_weights)
    x = (rng.standard_normal((8, n)) * np.exp(rng.uniform(-8, 8, size=(8, 1)))).astype(np.float32)
    im = rng.uniform(0.1, 2.0, n).astype(np.float32) if f.requires_imatrix else None
    try:
        data = dg.quantize(x, fmt, imatrix=im)
    except NotImplementedError:
        pytest.skip(f"the CPU has no encoder for {fmt}")
    check_decode(fmt, data, dtype)


GOLDEN = golden_entries()
GOLDEN_IDS = [f"{fmt}-{e['case']}-{e['variant']}" for fmt, e in GOLDEN]


@pytest.mark.parametrize("fmt,entry", GOLDEN, ids=GOLDEN_IDS)
def test_golden(fmt, entry):
    """ggml's own vectors: the emulated decode is bit-identical, the emulated encode byte-identical."""
    z = vector_file(fmt)
    key = f"{entry['case']}/{entry['variant']}"
    enc, dec = z[f"{key}/enc"], z[f"{key}/dec"]
    got = gpu.emulate_dequantize(enc, fmt)
    assert_floats_identical(fmt, got, dec.reshape(got.shape))
    x = z[f"{entry['case']}/x"]
    if fmt not in ENC or not np.isfinite(x).all():
        return
    im = z[f"{entry['case']}/imatrix"] if entry["imatrix"] else None
    got = gpu.emulate_quantize(x, fmt, imatrix=im)
    assert_bytes_equal(fmt, got, enc.reshape(got.shape))


# ---- encode ------------------------------------------------------------------------------------
def adversarial_rows(rng, n):
    """Rows that stress ties, zeros, extremes and subnormals (each row is one case)."""
    k = np.arange(n, dtype=np.float32)
    rows = [
        rng.standard_normal(n),                                   # gaussian
        rng.standard_t(3, n),                                     # heavy tails
        np.zeros(n),                                              # all zero
        np.where(k % 37 == 0, 1.0, 0.0),                          # sparse single values
        np.full(n, 0.75),                                         # constant
        np.full(n, -2.5),                                         # constant negative
        rng.integers(-16, 17, n) / 16.0,                          # k/16 ties
        rng.integers(-1, 2, n) * 1.0,                             # ternary
        rng.standard_normal(n) * 1e-30,                           # tiny
        rng.standard_normal(n) * 1e-40,                           # subnormal
        rng.standard_normal(n) * 1e4,                             # huge
        rng.standard_normal(n) * 1e5,                             # fp16-overflowing scales
        2.0 ** rng.integers(-10, 10, n) * rng.choice([-1, 1], n),  # powers of two
        np.abs(rng.standard_normal(n)),                           # all positive
        -np.abs(rng.standard_normal(n)),                          # all negative
        rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n // 32).repeat(32)[:n],  # per-block scales
        np.where(rng.random(n) < 0.9, 0.0, rng.standard_normal(n)),  # 90% sparse
    ]
    return np.stack([np.asarray(r, dtype=np.float64) for r in rows]).astype(np.float32)


@pytest.mark.parametrize("imat", [False, True], ids=["noimat", "imat"])
@pytest.mark.parametrize("fmt", ENC)
def test_encode_matches_cpu(fmt, imat, rng):
    f = dg.format_info(fmt)
    if f.requires_imatrix and not imat:
        pytest.skip(f"{fmt} needs an importance matrix")
    n = 512 if f.block_weights > 1 else 64
    x = np.concatenate([adversarial_rows(rng, n), rng.standard_normal((16, n)).astype(np.float32)])
    im = None
    if imat:
        im = rng.uniform(0.0, 3.0, n).astype(np.float32)
        im[::7] = 0.0  # zero weights too
    want = dg.quantize(x, fmt, imatrix=im)
    got = gpu.emulate_quantize(x, fmt, imatrix=im)
    assert_bytes_equal(fmt, got, want)


@pytest.mark.parametrize("fmt", ENC)
def test_encode_odd_row_counts(fmt, rng):
    """Rows are independent: one row, and a row length that is a single block, match too."""
    f = dg.format_info(fmt)
    for shape in [(1, f.block_weights), (3, 3 * max(f.block_weights, 8))]:
        x = rng.standard_normal(shape).astype(np.float32)
        im = rng.uniform(0.5, 1.5, shape[1]).astype(np.float32) if f.requires_imatrix else None
        assert_bytes_equal(fmt, gpu.emulate_quantize(x, fmt, imatrix=im), dg.quantize(x, fmt, imatrix=im))


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats() if f.requires_imatrix])
def test_required_imatrix_is_enforced(fmt):
    with pytest.raises(ValueError, match=fmt):
        gpu.emulate_quantize(np.ones((1, 256), np.float32), fmt)


def test_encode_formats_listed():
    # Every format the CPU encodes has a GPU encoder.
    assert set(ENC) == {f.name for f in dg.formats()}


# ---- a host/device difference the emulation cannot see -----------------------------------------
def test_mxfp4_exponent_rule_at_power_of_two_edges():
    """The device computes MXFP4's floor(log2(amax)) as floor((float)log2((double)amax)); the CPU as
    floor(log2f(amax)) (glibc). They must agree wherever the floor can change: within 64 ulps of every
    power of two in the float range."""
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.log2f.restype, libm.log2f.argtypes = ctypes.c_float, [ctypes.c_float]
    libm.log2.restype, libm.log2.argtypes = ctypes.c_double, [ctypes.c_double]
    bad = []
    for e in range(-149, 128):
        p = np.float32(2.0) ** e if e > -127 else np.float32(np.ldexp(1.0, e))
        bits = np.array([p], np.float32).view(np.uint32)[0]
        for delta in range(-64, 65):
            b = int(bits) + delta
            if b <= 0 or b >= 0x7F800000:
                continue
            v = float(np.array([b], np.uint32).view(np.float32)[0])
            host = np.floor(np.float32(libm.log2f(v)))
            dev = np.floor(np.float32(libm.log2(v)))
            if host != dev:
                bad.append((v, host, dev))
    assert not bad, bad[:5]


def test_status_without_gpu_is_explained():
    n, reason = _cuda.status()
    if n == 0:
        assert reason and not dg.cuda_available()
        assert gpu.unavailable_reason()
    else:
        assert dg.cuda_available()


def test_extension_links_cudart_statically():
    """_cuda must import on machines without a CUDA toolkit or driver: no libcudart / libcuda dependency."""
    import shutil
    import subprocess
    if not shutil.which("ldd"):
        pytest.skip("ldd not available")
    out = subprocess.run(["ldd", _cuda.__file__], capture_output=True, text=True).stdout
    assert "libcudart" not in out and "libcuda.so" not in out, out
