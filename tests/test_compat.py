"""dgkernels.compat is a drop-in for gguf.quants.quantize / dequantize: same results, shapes, dtypes and
exceptions as gguf-py for every type gguf-py supports, on fresh random data.

Encoded bytes are compared only where gguf-py's numpy encoder matches ggml. Where it does not (the
golden-vector manifest's crosscheck `ggufpy_quant_diff_blocks` > 0: Q4_0, Q4_1, Q5_0, Q5_1 write +0.0
where ggml writes -0.0 for the scale or min of all-zero and sparse blocks, because numpy's max/min and
argmax do not scan like ggml's loops), compat follows ggml (test_oracles proves it byte for byte), so
only the decoded values of its output are compared with gguf-py's decoder.
"""
from __future__ import annotations

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf.lazy import LazyNumpyTensor  # noqa: E402

import dgkernels as dg  # noqa: E402
from dgkernels import bounds, compat  # noqa: E402
from helpers import assert_bytes_equal, assert_floats_nan_equal, manifest, require_plain_ggufpy  # noqa: E402


@pytest.fixture(autouse=True)
def _plain_ggufpy():
    require_plain_ggufpy()


def _ggufpy_encodes(t) -> bool:
    if t in (T.F32, T.F16):
        return True
    q = gguf.quants._type_traits.get(t)
    return q is not None and "quantize_blocks" in q.__dict__


def _ggufpy_decodes(t) -> bool:
    return t in (T.F32, T.F16) or t in gguf.quants._type_traits


def _encoder_differs_from_ggml() -> set[str]:
    """Formats where gguf-py's numpy encoder gave other bytes than ggml on some golden vector."""
    try:
        types = manifest()["types"]
    except FileNotFoundError:
        return {"Q4_0", "Q4_1", "Q5_0", "Q5_1"}
    out = set()
    for name, t in types.items():
        for e in t["entries"]:
            d = e.get("crosscheck", {}).get("ggufpy_quant_diff_blocks")
            if isinstance(d, int) and d > 0:
                out.add(name)
    return out


OURS = {f.name for f in dg.formats()}
ENCODE_TYPES = [t for t in T if _ggufpy_encodes(t) and t.name in OURS]
DECODE_TYPES = [t for t in T if _ggufpy_decodes(t)]
DIFFERS = _encoder_differs_from_ggml()


def _block(t) -> tuple[int, int]:
    return gguf.GGML_QUANT_SIZES[t]


def _data(rng, t, lead=(3,), family=None) -> np.ndarray:
    bw, _ = _block(t)
    n = max(bw, 32) * int(rng.integers(1, 5)) if bw > 1 else int(rng.integers(1, 200))
    fam = family or str(rng.choice(bounds.FAMILIES))
    rows = int(np.prod(lead, dtype=np.int64))
    return bounds.sample(rng, fam, rows, n, bw, float(10 ** rng.uniform(-2, 2))).reshape(*lead, n)


def _assert_same_array(name, got, want):
    assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape, \
        f"{name}: got {type(got).__name__} {got.dtype}{got.shape}, gguf-py gives {type(want).__name__} {want.dtype}{want.shape}"


@pytest.mark.parametrize("lead", [(), (1,), (3,), (2, 3)])
@pytest.mark.parametrize("t", ENCODE_TYPES, ids=lambda t: t.name)
def test_quantize_like_ggufpy(t, lead, rng):
    x = _data(rng, t, lead)
    got, want = compat.quantize(x, t), gguf.quants.quantize(x, t)
    _assert_same_array(t.name, got, want)
    if t.name in DIFFERS:
        # gguf-py's encoder is not ggml's here (module doc): compare what the blocks decode to.
        with np.errstate(all="ignore"):
            assert_floats_nan_equal(t.name, gguf.quants.dequantize(got, t), gguf.quants.dequantize(want, t))
    else:
        assert_bytes_equal(t.name, np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int16])
@pytest.mark.parametrize("t", [T.F16, T.BF16, T.Q8_0, T.TQ2_0], ids=lambda t: t.name)
def test_quantize_other_input_dtypes(t, dtype, rng):
    """gguf-py casts any numeric input to float32 first; so does compat."""
    x = (rng.standard_normal((2, 256)) * 50).astype(dtype)
    got, want = compat.quantize(x, t), gguf.quants.quantize(x, t)
    _assert_same_array(t.name, got, want)
    assert np.array_equal(np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("t", [T.F32, T.F16, T.BF16], ids=lambda t: t.name)
def test_float_types_with_nonfinite(t, rng):
    """F32/F16/BF16 carry NaN and Inf through like gguf-py (block formats refuse them, see below)."""
    x = rng.standard_normal((2, 40)).astype(np.float32)
    x[0, :4] = [np.nan, np.inf, -np.inf, 3e38]
    x[1, 7] = np.float32(np.nan) * -1
    with np.errstate(over="ignore"):  # 3e38 -> inf in F16 is the point
        got, want = compat.quantize(x, t), gguf.quants.quantize(x, t)
    _assert_same_array(t.name, got, want)
    assert np.array_equal(np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


@pytest.mark.parametrize("lead", [(1,), (2, 3)])
@pytest.mark.parametrize("t", DECODE_TYPES, ids=lambda t: t.name)
def test_dequantize_like_ggufpy(t, lead, rng):
    """Random bytes (every byte string is a valid block) decode to what gguf-py gives, NaN matching NaN."""
    bw, bb = _block(t)
    data = rng.integers(0, 256, (*lead, bb * int(rng.integers(1, 6))), dtype=np.uint8)
    with np.errstate(all="ignore"):
        got, want = compat.dequantize(data, t), gguf.quants.dequantize(data, t)
    _assert_same_array(t.name, got, want)
    assert_floats_nan_equal(t.name, got, want)


@pytest.mark.parametrize("t", [t for t in ENCODE_TYPES if t.name not in ("F32", "F16")], ids=lambda t: t.name)
def test_roundtrip_of_compat_output(t, rng):
    x = _data(rng, t, (4,), family="gauss")
    q = compat.quantize(x, t)
    with np.errstate(all="ignore"):
        assert_floats_nan_equal(t.name, compat.dequantize(q, t), gguf.quants.dequantize(q, t))


@pytest.mark.parametrize("t", [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_K], ids=lambda t: t.name)
def test_lazy_tensors_stay_lazy(t, rng):
    """convert_hf_to_gguf.py quantizes LazyNumpyTensor: shape and dtype known before evaluation."""
    x = _data(rng, t, (3,), family="gauss")
    lazy = LazyNumpyTensor.from_eager(x)
    q = compat.quantize(lazy, t)
    assert isinstance(q, LazyNumpyTensor)
    eager = compat.quantize(x, t)
    assert q.shape == eager.shape and q.dtype == eager.dtype
    assert np.array_equal(np.asarray(LazyNumpyTensor.to_eager(q)).view(np.uint8), np.ascontiguousarray(eager).view(np.uint8))
    raw = np.ascontiguousarray(eager).view(np.uint8) if t not in (T.F32, T.F16) else eager
    if t in (T.F32, T.F16):
        return  # gguf-py's own F32/F16 dequantize takes the byte view; nothing lazy-specific to add
    y = compat.dequantize(LazyNumpyTensor.from_eager(raw), t)
    assert isinstance(y, LazyNumpyTensor) and y.shape == x.shape and y.dtype == np.float32
    assert np.array_equal(LazyNumpyTensor.to_eager(y), compat.dequantize(raw, t))


def test_f32_dequantize_is_a_view():
    data = np.arange(32, dtype=np.float32).view(np.uint8).reshape(2, 64)
    y = compat.dequantize(data, T.F32)
    assert np.shares_memory(y, data) and y.shape == (2, 16)


def test_more_than_ggufpy():
    """Encoders gguf-py lacks (K-quants, IQ) work and equal dgkernels.quantize."""
    x = np.random.default_rng(0).standard_normal((2, 256)).astype(np.float32)
    for t in (T.Q2_K, T.Q4_K, T.Q6_K, T.IQ4_XS):
        with pytest.raises(NotImplementedError):
            gguf.quants.quantize(x, t)
        try:
            want = dg.quantize(x, t.name)
        except NotImplementedError:
            continue  # that kernel has not landed yet
        assert np.array_equal(compat.quantize(x, t), want)


# ---- errors: the same exception types as gguf-py ------------------------------------------------

def test_row_length_error_is_quanterror():
    x = np.zeros((2, 33), np.float32)
    with pytest.raises(gguf.quants.QuantError, match=r"Can't quantize tensor with shape \(2, 33\) to Q4_0"):
        compat.quantize(x, T.Q4_0)
    with pytest.raises(gguf.quants.QuantError):
        gguf.quants.quantize(x, T.Q4_0)


def test_byte_row_error_is_valueerror():
    data = np.zeros((2, 17), np.uint8)
    msg = r"Quantized tensor bytes per row \(17\) is not a multiple of Q4_0 type size \(18\)"
    with pytest.raises(ValueError, match=msg):
        compat.dequantize(data, T.Q4_0)
    with pytest.raises(ValueError, match=msg):
        gguf.quants.dequantize(data, T.Q4_0)


@pytest.mark.parametrize("t", [t for t in T if t.name not in OURS and not _ggufpy_encodes(t)], ids=lambda t: t.name)
def test_unsupported_quantize(t):
    with pytest.raises(NotImplementedError):
        compat.quantize(np.zeros((1, 256), np.float32), t)


@pytest.mark.parametrize("t", [t for t in T if t.name not in OURS and not _ggufpy_decodes(t)], ids=lambda t: t.name)
def test_unsupported_dequantize(t):
    with pytest.raises(NotImplementedError, match=rf"Dequantization for {t.name} is not yet implemented"):
        compat.dequantize(np.zeros((1, 1024), np.uint8), t)


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats() if f.requires_imatrix])
def test_imatrix_formats_refused_like_ggufpy(fmt):
    x = np.zeros((1, 256), np.float32)
    with pytest.raises(NotImplementedError, match=r"imatrix"):
        compat.quantize(x, T[fmt])
    with pytest.raises(NotImplementedError):
        gguf.quants.quantize(x, T[fmt])


def test_nonfinite_block_input_refused():
    x = np.ones((1, 32), np.float32)
    x[0, 3] = np.nan
    with pytest.raises(ValueError, match=r"non-finite"):
        compat.quantize(x, T.Q8_0)
