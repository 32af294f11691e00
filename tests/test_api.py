"""The numpy API apart from its errors (test_errors.py): the registry, argument forms, shapes, out=,
input conversions and layouts, ISA switching, and the bench entry point."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import dgkernels as dg
from helpers import PKG_PARENT, REPO

ALL = [f.name for f in dg.formats()]


# ---- registry -----------------------------------------------------------------------------------

def test_registry_matches_gguf():
    gguf = pytest.importorskip("gguf")
    for f in dg.formats():
        t = gguf.GGMLQuantizationType[f.name]
        assert f.type_id == int(t), f.name
        assert (f.block_weights, f.block_bytes) == tuple(gguf.GGML_QUANT_SIZES[t]), f.name


def test_registry_basics():
    names = [f.name for f in dg.formats()]
    assert len(names) == len(set(names)) and len({f.type_id for f in dg.formats()}) == len(names)
    assert [f.index for f in dg.formats()] == list(range(len(names)))
    q4k = dg.format_info("Q4_K")
    assert q4k.bits_per_weight == 4.5 and q4k.row_bytes(512) == 288 and q4k.is_quantized
    assert not dg.format_info("F16").is_quantized
    assert {f.name for f in dg.formats() if f.requires_imatrix} == {"IQ1_S", "IQ2_XXS", "IQ2_XS"}


@pytest.mark.parametrize("spec", ["Q4_K", "q4_k", 12, np.int32(12), np.uint64(12)])
def test_format_lookup_forms(spec):
    assert dg.format_info(spec) is dg.format_info("Q4_K")


def test_format_lookup_gguf_enum_and_format():
    gguf = pytest.importorskip("gguf")
    f = dg.format_info(gguf.GGMLQuantizationType.IQ4_XS)
    assert f.name == "IQ4_XS" and dg.format_info(f) is f


# ---- shapes and conversions (F16/BF16/F32 kernels are in the skeleton, so these run everywhere) ------

@pytest.mark.parametrize("shape", [(64,), (3, 64), (2, 3, 64), (0, 64), (1, 1, 1, 64)])
@pytest.mark.parametrize("fmt", ["F16", "BF16", "F32"])
def test_shapes_roundtrip(fmt, shape):
    f = dg.format_info(fmt)
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 7
    q = dg.quantize(x, fmt)
    assert q.dtype == np.uint8 and q.shape == (*shape[:-1], f.row_bytes(shape[-1]))
    y = dg.dequantize(q, fmt)
    assert y.dtype == np.float32 and y.shape == shape
    if fmt == "F32":
        assert np.array_equal(y, x)


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats()])
def test_quantize_into_out_gives_the_same_bytes(fmt, isa, rng):
    """With out= the input is validated up front and encoded by the unchecked kernels; without it the
    encoders check each row as they go: both must give the same bytes."""
    f = dg.format_info(fmt)
    n = 9 * f.block_weights
    x = rng.standard_normal((3, n)).astype(np.float32)
    x[1, : f.block_weights] = 0.0  # a zero block: the legacy fast path declines it
    im = rng.exponential(1.0, n).astype(np.float32) if f.requires_imatrix else None
    out = np.full((3, f.row_bytes(n)), 0xAB, np.uint8)
    assert dg.quantize(x, fmt, imatrix=im, out=out, threads=2) is out
    assert np.array_equal(out, dg.quantize(x, fmt, imatrix=im, threads=2))


def test_out_arguments_are_filled_and_returned():
    x = np.linspace(-3, 3, 96, dtype=np.float32).reshape(3, 32)
    out = np.empty((3, 64), np.uint8)
    assert dg.quantize(x, "F16", out=out) is out
    assert np.array_equal(out, dg.quantize(x, "F16"))
    for dtype in (np.float32, np.float16):
        y = np.empty((3, 32), dtype)
        assert dg.dequantize(out, "F16", dtype=dtype, out=y) is y
        assert np.array_equal(y, dg.dequantize(out, "F16", dtype=dtype))


@pytest.mark.parametrize("fmt", ["F16", "BF16"])
def test_input_float_types_are_converted(fmt):
    x64 = np.random.default_rng(1).standard_normal((4, 32)) * 100
    want = dg.quantize(x64.astype(np.float32), fmt)
    for x in (x64, x64.astype(">f8"), x64.astype(np.float32).astype(">f4"), x64.astype(np.float32).tolist()):
        assert np.array_equal(dg.quantize(x, fmt), want)
    h = x64.astype(np.float16)
    assert np.array_equal(dg.quantize(h, fmt), dg.quantize(h.astype(np.float32), fmt))


def test_layouts_give_the_same_bytes():
    """Strided, Fortran-ordered and misaligned inputs are copied, not misread."""
    base = np.random.default_rng(2).standard_normal((6, 64)).astype(np.float32)
    want = dg.quantize(base[::2], "BF16")
    assert np.array_equal(dg.quantize(np.asfortranarray(base[::2]), "BF16"), want)
    raw = np.empty(base[::2].nbytes + 1, np.uint8)[1:]  # float32 data at an odd address
    mis = raw.view(np.float32).reshape(3, 64)
    assert not mis.flags.aligned
    mis[...] = base[::2]
    assert np.array_equal(dg.quantize(mis, "BF16"), want)


def test_dequantize_input_forms():
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32)
    q = dg.quantize(x, "F16")
    want = dg.dequantize(q, "F16")
    assert np.array_equal(dg.dequantize(q.tobytes(), "F16", n_per_row=32), want)
    assert np.array_equal(dg.dequantize(bytearray(q.tobytes()), "F16", n_per_row=32), want)
    assert np.array_equal(dg.dequantize(memoryview(q.tobytes()), "F16", n_per_row=32), want)
    assert np.array_equal(dg.dequantize(q.view(np.int8), "F16"), want)
    assert np.array_equal(dg.dequantize(q.reshape(-1), "F16", n_per_row=32), want)
    assert dg.dequantize(q.reshape(-1), "F16").shape == (64,)  # no n_per_row: one row of all the bytes


def test_bfloat16_output():
    q = dg.quantize(np.array([[1.0, -2.5, 3e38, 1e-40]], np.float32), "F32")
    b = dg.dequantize(q, "F32", dtype="bfloat16")
    assert b.shape == (1, 4) and b.dtype.itemsize == 2
    bits = np.ascontiguousarray(b).view(np.uint16)
    assert bits[0, 0] == 0x3F80 and bits[0, 1] == 0xC020


def test_threads_none_and_env(monkeypatch):
    monkeypatch.delenv("DGKERNELS_NUM_THREADS", raising=False)
    assert dg.default_threads() >= 1
    monkeypatch.setenv("DGKERNELS_NUM_THREADS", "3")
    assert dg.default_threads() == 3
    x = np.ones((4, 32), np.float32)
    assert np.array_equal(dg.quantize(x, "F16", threads=None), dg.quantize(x, "F16", threads=np.int64(2)))


# ---- ISA ----------------------------------------------------------------------------------------

def test_isa_switching():
    avail = dg.available_isas()
    assert avail[0] == "scalar" and dg.isa() in avail
    before = dg.isa()
    for name in avail:
        with dg.using_isa(name):
            assert dg.isa() == name
        assert dg.isa() == before


def test_isa_env_selects_scalar():
    env = dict(os.environ, DGKERNELS_ISA="scalar", PYTHONPATH=PKG_PARENT)
    r = subprocess.run([sys.executable, "-c", "import dgkernels; print(dgkernels.isa())"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "scalar", r.stderr


# ---- bench --------------------------------------------------------------------------------------

@pytest.mark.parametrize("extra", [[], ["--prealloc"]])
def test_bench_quick_runs(tmp_path, extra):
    """`python -m dgkernels.bench` prints one table and writes JSON (formats without a kernel show n/a)."""
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=PKG_PARENT)
    r = subprocess.run([sys.executable, "-m", "dgkernels.bench", "--quick", "--formats", "F16,Q8_0,TQ2_0",
                        "--json", str(out), *extra], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert any(line.startswith("Q8_0") for line in lines) and any(line.lstrip().startswith("format") for line in lines)
    data = json.loads(out.read_text())
    assert [row["format"] for row in data["results"]] == ["F16", "Q8_0", "TQ2_0"]
    assert data["meta"]["threads"] == 1 and data["meta"]["write_gbps"] > 0
    assert data["meta"]["prealloc"] == bool(extra)
    q8 = next(row for row in data["results"] if row["format"] == "Q8_0")
    assert q8["dgkernels"]["dec_f32"] > 0 and q8["bytes_equal_ggml"] in (True, None)


@pytest.mark.parametrize("spec", [True, np.bool_(True), 12.0])
def test_format_lookup_refuses_bools_and_floats(spec):
    with pytest.raises(TypeError, match="format must be"):
        dg.format_info(spec)
