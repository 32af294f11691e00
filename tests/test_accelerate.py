"""dgkernels.accelerate(): gguf-py's functions routed through dgkernels give the same bits."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import dgkernels as dg

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf import quants  # noqa: E402


@pytest.fixture
def accelerated():
    dg.accelerate()
    yield
    dg.deaccelerate()


def _gguf_py_decodes(name: str) -> bool:
    return name in T.__members__ and getattr(quants, "_type_traits", {}).get(T[name]) is not None or name in ("F32", "F16")


FORMATS = [f for f in dg.formats() if _gguf_py_decodes(f.name)]


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_dequantize_bits_unchanged(fmt, rng):
    x = rng.standard_normal((8, 512 if fmt.block_weights <= 256 else fmt.block_weights)).astype(np.float32)
    imatrix = np.ones(x.shape[-1], np.float32) if fmt.requires_imatrix else None
    data = dg.quantize(x, fmt, imatrix=imatrix) if fmt.is_quantized else quants.quantize(x, T[fmt.name])
    qtype = T[fmt.name]
    want = quants.dequantize(data, qtype)
    dg.accelerate()
    try:
        got = gguf.dequantize(data, qtype)
        got2 = quants.dequantize(data, qtype)
    finally:
        dg.deaccelerate()
    for g in (got, got2):
        assert g.dtype == want.dtype and g.shape == want.shape
        assert np.array_equal(g.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("name", ["Q8_0", "BF16", "TQ1_0", "TQ2_0", "MXFP4", "Q4_0"])
def test_quantize_bits_unchanged(name, rng, accelerated):
    x = rng.standard_normal((4, 512)).astype(np.float32)
    dg.deaccelerate()
    want = quants.quantize(x, T[name])
    dg.accelerate()
    got = quants.quantize(x, T[name])
    assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


def test_quantize_adds_formats_gguf_py_lacks(rng, accelerated):
    x = rng.standard_normal((2, 256)).astype(np.float32)
    got = quants.quantize(x, T.Q4_K)
    assert np.array_equal(got, dg.quantize(x, "Q4_K"))


def test_idempotent_and_reversible():
    orig_q, orig_d, orig_top = quants.quantize, quants.dequantize, gguf.dequantize
    assert dg.accelerate() and dg.accelerate()
    assert dg.is_accelerated() and quants.dequantize is not orig_d and gguf.dequantize is quants.dequantize
    dg.deaccelerate()
    dg.deaccelerate()
    assert not dg.is_accelerated()
    assert (quants.quantize, quants.dequantize, gguf.dequantize) == (orig_q, orig_d, orig_top)


def test_modules_that_imported_the_function_by_name_are_patched():
    mod = type(sys)("fake_loader")
    mod.dequantize = gguf.dequantize
    sys.modules["fake_loader"] = mod
    try:
        dg.accelerate()
        assert mod.dequantize is quants.dequantize and hasattr(mod.dequantize, "__wrapped__")
        dg.deaccelerate()
        assert not hasattr(mod.dequantize, "__wrapped__")
    finally:
        del sys.modules["fake_loader"]


def test_environment_variable_turns_it_on_at_startup():
    pth = Path(sysconfig.get_paths()["purelib"]) / "dgkernels_accelerate.pth"
    if not pth.is_file():
        pytest.skip("dgkernels is not pip-installed here (the .pth hook ships with the wheel)")
    code = "import gguf; print(hasattr(gguf.dequantize, '__wrapped__'))"
    env = dict(os.environ, DGKERNELS_ACCELERATE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.parametrize("name", ["Q4_K", "Q8_0", "IQ4_XS"])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_torch_dequantize_matches_numpy(name, dtype, rng):
    import torch

    from dgkernels.torch import dequantize as tdeq

    x = rng.standard_normal((16, 512)).astype(np.float32)
    q = dg.quantize(x, name)
    got = tdeq(torch.from_numpy(q.reshape(-1)), name, (16, 512), getattr(torch, dtype))
    want = dg.dequantize(q, name, dtype=dtype)
    assert got.shape == (16, 512) and str(got.dtype) == f"torch.{dtype}"
    assert np.array_equal(got.view(torch.int16 if dtype != "float32" else torch.int32).numpy().view(np.uint8),
                          np.ascontiguousarray(want).view(np.uint8))
