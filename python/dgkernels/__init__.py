"""dgkernels: fast, bit-exact GGUF quantization kernels and per-layer bit allocation.

    import dgkernels as dg
    q = dg.quantize(x, "Q4_K")                 # uint8 blocks, byte-identical to ggml
    y = dg.dequantize(q, "Q4_K")               # float32, bit-identical to ggml
    dg.formats(), dg.format_info("IQ2_XXS")    # the format registry
"""
from __future__ import annotations

from . import _core
from .api import default_threads, dequantize, quantize
from .formats import Format, format_info, formats
from .isa import available_isas, isa, set_isa, using_isa
from .accelerate import accelerate, deaccelerate, is_accelerated
from . import cuda  # the GPU path (imports dgkernels._cuda lazily)

__version__ = "0.1.0"

__all__ = [
    "Format", "formats", "format_info", "quantize", "dequantize", "default_threads",
    "isa", "set_isa", "using_isa", "available_isas", "accelerate", "deaccelerate", "is_accelerated",
    "cuda_available", "__version__",
]

from .isa import _apply_env as _apply_isa_env

_apply_isa_env()


def cuda_available() -> bool:
    """Whether the CUDA kernels are built and a GPU can run them; dgkernels.cuda.unavailable_reason() says
    why not."""
    return cuda.available()
