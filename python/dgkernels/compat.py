"""Drop-in replacement for gguf-py's `gguf.quants.quantize` / `gguf.quants.dequantize`.

    from dgkernels.compat import quantize, dequantize      # instead of: from gguf.quants import ...

Same signatures, same input conventions and the same output shapes and dtypes as gguf-py:
* F32 / F16 are numpy casts and views exactly as gguf-py does them (no kernel involved);
* BF16 and the block formats go through dgkernels' kernels, which are byte-identical to ggml
  (where gguf-py's own numpy encoders are not: see tests/test_compat.py), and multi-threaded;
* quantize gives uint8 of shape quant_shape_to_byte_shape(x.shape); dequantize gives float32 of shape
  quant_shape_from_byte_shape(data.shape); gguf's LazyNumpyTensor stays lazy;
* a row length that is not a multiple of the block raises gguf's QuantError, a byte row that is not whole
  blocks a ValueError, a type with no implementation NotImplementedError.

Differences, all in the direction of doing more: every K-quant and IQ encoder exists (gguf-py has none);
types dgkernels lacks but gguf-py decodes (e.g. NVFP4) are passed to gguf-py. Two refusals remain:
NaN/Inf input to a block format raises ValueError (gguf-py would write garbage blocks), and the formats
ggml cannot encode without an importance matrix (IQ1_S, IQ2_XXS, IQ2_XS) raise NotImplementedError, as
in gguf-py: call `dgkernels.quantize(x, fmt, imatrix=...)` for those.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .api import dequantize as _dequantize
from .api import quantize as _quantize
from .formats import Format, format_info

try:
    from gguf import quants as _gguf_quants
    from gguf.lazy import LazyNumpyTensor as _Lazy

    QuantError = _gguf_quants.QuantError
except ImportError:  # gguf-py absent: same behaviour, own exception class
    _gguf_quants = None
    _Lazy = None

    class QuantError(Exception):  # type: ignore[no-redef]
        """A tensor whose row length is not a multiple of the format's block size."""

__all__ = ["quantize", "dequantize", "QuantError"]


def _lookup(qtype) -> Format | None:
    try:
        return format_info(qtype)
    except (ValueError, TypeError):
        return None


def _name(qtype) -> str:
    return getattr(qtype, "name", str(qtype))


def _gguf_type(qtype):
    """qtype as a gguf GGMLQuantizationType, or None (no gguf-py, or a type gguf does not know)."""
    if _gguf_quants is None:
        return None
    from gguf import GGMLQuantizationType as T
    try:
        return T[qtype.upper()] if isinstance(qtype, str) else T(int(getattr(qtype, "value", qtype)))
    except (KeyError, ValueError, TypeError):
        return None


def _is_lazy(t) -> bool:
    return _Lazy is not None and isinstance(t, _Lazy)


def _byte_shape(shape, f: Format) -> tuple[int, ...]:
    return (*shape[:-1], shape[-1] // f.block_weights * f.block_bytes)


def _value_shape(shape, f: Format) -> tuple[int, ...]:
    if shape[-1] % f.block_bytes:
        raise ValueError(f"Quantized tensor bytes per row ({shape[-1]}) is not a multiple of {f.name} type size ({f.block_bytes})")
    return (*shape[:-1], shape[-1] // f.block_bytes * f.block_weights)


def quantize(data: np.ndarray, qtype) -> np.ndarray:
    """gguf.quants.quantize(data, qtype): float rows -> uint8 blocks (F32/F16: the cast array)."""
    f = _lookup(qtype)
    name = f.name if f else _name(qtype)
    if name == "F32":
        return data.astype(np.float32, copy=False)
    if name == "F16":
        return data.astype(np.float16, copy=False)
    if f is None:
        gq = _gguf_type(qtype)
        if gq is not None:
            return _gguf_quants.quantize(data, gq)  # raises NotImplementedError when gguf-py lacks it too
        raise NotImplementedError(f"Quantization for {name} is not yet implemented")
    if f.requires_imatrix:
        raise NotImplementedError(f"Quantization for {name} is not yet implemented without an importance matrix "
                                  f"(use dgkernels.quantize(x, {name!r}, imatrix=...))")
    if data.shape[-1] % f.block_weights:
        raise QuantError(f"Can't quantize tensor with shape {data.shape} to {f.name}")
    if _is_lazy(data):
        return _Lazy._wrap_fn(lambda a: _quantize_array(a, f), meta_noop=(np.uint8, lambda s: _byte_shape(s, f)))(data)
    return _quantize_array(data, f)


def _quantize_array(data, f: Format) -> np.ndarray:
    x = np.asarray(data)
    if x.dtype != np.float32:
        x = x.astype(np.float32)  # gguf-py accepts any numeric dtype the same way
    if f.name == "BF16" and not np.all(np.isfinite(x)):
        return _bf16_nonfinite(x)
    return _quantize(x, f)


def _bf16_nonfinite(x: np.ndarray) -> np.ndarray:
    """BF16 of input holding NaN/Inf, which the kernels refuse: ggml's rule (NaN made quiet, else RNE)."""
    u = np.ascontiguousarray(x).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = np.where(nan, (u & 0xFFFF0000) | 0x400000, u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return r.astype("<u2").view(np.uint8).reshape(*x.shape[:-1], 2 * x.shape[-1])


def dequantize(data: np.ndarray, qtype) -> np.ndarray:
    """gguf.quants.dequantize(data, qtype): uint8 blocks -> float32 (F32: a view, F16: a cast)."""
    f = _lookup(qtype)
    name = f.name if f else _name(qtype)
    if name == "F32":
        return data.view(np.float32)
    if name == "F16":
        return data.view(np.float16).astype(np.float32)
    if f is None:
        gq = _gguf_type(qtype)
        if gq is not None:
            return _gguf_quants.dequantize(data, gq)  # raises NotImplementedError when gguf-py lacks it too
        raise NotImplementedError(f"Dequantization for {name} is not yet implemented")
    if _is_lazy(data):
        return _Lazy._wrap_fn(lambda a: _dequantize_array(a, f), meta_noop=(np.float32, lambda s: _value_shape(s, f)))(data)
    return _dequantize_array(data, f)


def _dequantize_array(data: Any, f: Format) -> np.ndarray:
    raw = np.asarray(data)
    if raw.dtype != np.uint8:
        raw = np.ascontiguousarray(raw).view(np.uint8)  # gguf-py reads any array as its bytes
    shape = _value_shape(raw.shape, f)
    return _dequantize(raw, f).reshape(shape)
