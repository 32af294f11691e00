"""One line to make gguf-py (and everything built on it: transformers, ComfyUI-style loaders) use
dgkernels' kernels:

    import dgkernels; dgkernels.accelerate()        # or DGKERNELS_ACCELERATE=1 in the environment

`gguf.quants.dequantize` (and `gguf.dequantize`, and any module that imported it by name, such as
transformers' GGUF loader) is routed through `dgkernels.compat.dequantize`: same shapes, dtypes and
bits, multi-threaded C++ instead of numpy. `quantize` is routed for the formats where that changes no
result: those gguf-py cannot encode at all (K and IQ formats) and those where its numpy encoder already
equals ggml's bytes. gguf-py's Q4_0/Q4_1/Q5_0/Q5_1 encoders differ from ggml on some all-zero
sub-blocks, so they stay unless `ggml_exact=True` asks for ggml's bytes. `deaccelerate()` undoes it all.
"""
from __future__ import annotations

import sys
import warnings

from . import compat

__all__ = ["accelerate", "deaccelerate", "is_accelerated"]

# gguf-py encoders whose output differs from ggml's reference on some inputs (golden-vector crosscheck).
_GGUF_PY_DIVERGENT_ENCODERS = frozenset({"Q4_0", "Q4_1", "Q5_0", "Q5_1"})

_state: dict = {}  # while accelerated: the originals and every (module, attribute) we replaced


def is_accelerated() -> bool:
    return bool(_state)


def _make_quantize(original, ggml_exact: bool):
    def quantize(data, qtype):
        name = getattr(qtype, "name", str(qtype))
        if name in _GGUF_PY_DIVERGENT_ENCODERS and not ggml_exact:
            return original(data, qtype)
        try:
            return compat.quantize(data, qtype)
        except NotImplementedError:
            return original(data, qtype)
    quantize.__doc__ = original.__doc__
    quantize.__wrapped__ = original
    return quantize


def _make_dequantize(original):
    def dequantize(data, qtype):
        try:
            return compat.dequantize(data, qtype)
        except NotImplementedError:
            return original(data, qtype)
    dequantize.__doc__ = original.__doc__
    dequantize.__wrapped__ = original
    return dequantize


def accelerate(*, ggml_exact: bool = False) -> bool:
    """Route gguf-py's quantize/dequantize through dgkernels, process-wide. Idempotent.

    Returns True when active, False (with a warning) when the gguf package is not installed.
    """
    try:
        import gguf.quants as gq
    except ImportError:
        warnings.warn("dgkernels.accelerate(): the gguf package is not installed; nothing to accelerate",
                      RuntimeWarning, stacklevel=2)
        return False
    if _state:
        return True
    originals = {"quantize": gq.quantize, "dequantize": gq.dequantize}
    replacements = {"quantize": _make_quantize(gq.quantize, ggml_exact),
                    "dequantize": _make_dequantize(gq.dequantize)}
    patched = []
    # Every module that holds the original functions by name (gguf, gguf.quants, transformers' loader...).
    for module in list(sys.modules.values()):
        for attr, orig in originals.items():
            try:
                if getattr(module, attr, None) is orig:
                    setattr(module, attr, replacements[attr])
                    patched.append((module, attr, orig))
            except Exception:  # exotic modules with read-only or lazy attributes: leave them be
                continue
    _state.update(originals=originals, patched=patched)
    return True


def deaccelerate() -> None:
    """Restore gguf-py's own functions everywhere accelerate() replaced them."""
    if not _state:
        return
    for module, attr, orig in _state["patched"]:
        setattr(module, attr, orig)
    _state.clear()
