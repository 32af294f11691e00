"""quantize / dequantize: the numpy API. Validates every argument (naming it in the error), then
hands contiguous buffers to the C++ core, which runs with the GIL released."""
from __future__ import annotations

import functools
import os

import numpy as np

from . import _core
from .formats import Format, format_info

__all__ = ["quantize", "dequantize", "default_threads"]

_OUT_TYPES = {"float32": 0, "float16": 1, "bfloat16": 2}

# Importance values up to this bound, with inputs inside the fp16 range, always give finite scales. Larger
# ones are accepted as ggml accepts them, but the encoders' float32 sums of imatrix * sqrt(sigma2 + x^2) * x^2
# can overflow (from about 1e26 for |x| near 3e4) and then give NaN scales exactly as ggml does. Real
# importance matrices hold mean squared activations, far below it.
SAFE_IMATRIX_MAX = 1e20


def _on_gpu(x) -> bool:
    """Torch CUDA tensors and __cuda_array_interface__ objects go to the GPU path; numpy stays here."""
    if isinstance(x, np.ndarray):
        return False
    from .cuda import is_gpu_array
    return is_gpu_array(x)


def default_threads() -> int:
    """Threads used when `threads=None`: the cores this process may run on."""
    env = os.environ.get("DGKERNELS_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"DGKERNELS_NUM_THREADS must be a positive integer, got {env!r}") from None
        if n < 1 or n > 1024:
            raise ValueError(f"DGKERNELS_NUM_THREADS must be between 1 and 1024, got {env!r}")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, _core.hardware_threads())


def _check_threads(threads) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be a positive int or None, not {type(threads).__name__}")
    if threads < 1 or threads > 1024:
        raise ValueError(f"threads must be between 1 and 1024, got {threads}")
    return int(threads)


@functools.lru_cache(maxsize=None)  # a failed import is not cached by Python: it searched sys.path on every call
def _bfloat16_dtype():
    try:
        import ml_dtypes  # optional: gives numpy a real bfloat16 dtype
        return np.dtype(ml_dtypes.bfloat16)
    except ImportError:
        return None


def _as_float32(x, what: str) -> np.ndarray:
    """x as a C-contiguous float32 array; other float types are converted explicitly."""
    if not isinstance(x, np.ndarray):
        if hasattr(x, "__cuda_array_interface__"):
            raise TypeError(f"{what} lives on a GPU; the CUDA path is not available here (dgkernels.cuda_available())")
        x = np.asarray(x)
    if x.dtype == np.float32:
        pass
    elif x.dtype.kind == "f" or x.dtype.name == "bfloat16":  # any width or byte order
        with np.errstate(over="ignore"):  # values beyond float32 become inf, reported by _check_finite
            x = x.astype(np.float32)
    else:
        raise TypeError(f"{what} must be float32 (float16, bfloat16 or float64 are converted), got dtype {x.dtype}")
    # not np.ascontiguousarray: it turns a 0-d array into shape (1,), hiding the missing row axis
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def _check_finite(x: np.ndarray, what: str) -> None:
    _raise_nonfinite(x, what, _core.find_nonfinite(x))


def _raise_nonfinite(x: np.ndarray, what: str, i: int) -> None:
    if i >= 0:
        idx = np.unravel_index(i, x.shape)
        raise ValueError(f"{what} contains a non-finite value ({x.reshape(-1)[i]}) at index {tuple(int(v) for v in idx)}; "
                         "NaN and Inf cannot be quantized")


def _imatrix_for(fmt: Format, imatrix, n: int):
    if imatrix is None:
        if fmt.requires_imatrix:
            raise ValueError(
                f"{fmt.name} needs an importance matrix (as in ggml, IQ1_S, IQ2_XXS and IQ2_XS cannot be encoded "
                f"without one): pass imatrix=<array of {n} non-negative floats>, e.g. from `dgkernels imatrix`")
        return None
    im = _as_float32(imatrix, "imatrix").reshape(-1)
    if im.size != n:
        raise ValueError(f"imatrix has {im.size} values but rows have {n} weights; they must match")
    _check_finite(im, "imatrix")
    neg = np.flatnonzero(im < 0)
    if neg.size:
        raise ValueError(f"imatrix must be non-negative; entry {int(neg[0])} is {im[neg[0]]}")
    return im


def quantize(x, fmt, *, imatrix=None, out=None, threads=None) -> np.ndarray:
    """Encode the rows of `x` (last axis = a row) in format `fmt`.

    Returns uint8 of shape (*x.shape[:-1], row_bytes); byte-identical to ggml's ggml_quantize_chunk.
    `imatrix` (one non-negative weight per column) selects ggml's importance-weighted encoder.
    A torch CUDA tensor or cupy array is encoded on its GPU (dgkernels.cuda) and returned as the same kind.
    """
    if _on_gpu(x):
        from . import cuda
        return cuda.quantize(x, fmt, imatrix=imatrix, out=out)
    f = format_info(fmt)
    x = _as_float32(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (the row)")
    n = x.shape[-1]
    if n == 0 or n % f.block_weights:
        raise ValueError(f"row length {n} is not a multiple of {f.name}'s block size {f.block_weights}")
    im = _imatrix_for(f, imatrix, n)
    nthreads = _check_threads(threads)
    shape = (*x.shape[:-1], f.row_bytes(n))
    fresh = out is None
    if fresh:
        out = np.empty(shape, dtype=np.uint8)
    else:
        _check_out(out, shape, np.dtype(np.uint8), x=x, imatrix=im)
        _check_finite(x, "x")  # a caller's out stays untouched on error, so check before writing
    nrows = x.size // n
    # without out=, the kernels check each row for NaN/Inf as they encode it (no separate pass)
    bad = _core.encode(f.index, x, out, im, nrows, n, nthreads, _core.active_isa(), check_finite=fresh)
    _raise_nonfinite(x, "x", bad)
    return out


def _check_out(out, shape, dtype, **inputs) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, not {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"out must have dtype {dtype}, got {out.dtype}")
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)}, got {tuple(out.shape)}")
    if not out.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    for name, a in inputs.items():
        # the kernels read their input while writing out: the two must not share memory
        if a is not None and np.may_share_memory(out, a):
            raise ValueError(f"out overlaps {name}: pass a separate output buffer")


def _as_bytes(data) -> np.ndarray:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, dtype=np.uint8)
    if not isinstance(data, np.ndarray):
        if hasattr(data, "__cuda_array_interface__"):
            raise TypeError("data lives on a GPU; the CUDA path is not available here (dgkernels.cuda_available())")
        data = np.asarray(data)
    if data.dtype not in (np.uint8, np.int8):
        raise TypeError(f"data must be uint8 bytes of encoded blocks, got dtype {data.dtype}")
    return (data if data.flags.c_contiguous else np.ascontiguousarray(data)).view(np.uint8)


def _out_dtype(dtype) -> tuple[np.dtype, int]:
    if isinstance(dtype, str) and dtype.lower() in ("bfloat16", "bf16"):
        name = "bfloat16"
    else:
        try:  # any spelling numpy accepts: np.float16, "float16", "f2", "<f4"
            name = np.dtype(dtype).name
        except TypeError:
            name = None
    if name not in _OUT_TYPES:
        raise TypeError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    if name == "bfloat16":
        return (_bfloat16_dtype() or np.dtype(np.uint16)), _OUT_TYPES[name]
    return np.dtype(name), _OUT_TYPES[name]


def dequantize(data, fmt, *, n_per_row=None, dtype=np.float32, out=None, threads=None) -> np.ndarray:
    """Decode blocks of format `fmt` to float32 (default), float16 or bfloat16.

    `data` is uint8 with whole blocks in its last axis; the result has shape
    (*data.shape[:-1], weights). With `n_per_row`, flat data is first cut into rows of that length.
    float32 output is bit-identical to ggml's to_float; float16/bfloat16 are that result rounded to
    nearest even. bfloat16 comes back as ml_dtypes.bfloat16 when installed, else as uint16 bits.
    A torch CUDA tensor or cupy array is decoded on its GPU (dgkernels.cuda) and returned as the same kind.
    """
    if _on_gpu(data):
        from . import cuda
        return cuda.dequantize(data, fmt, n_per_row=n_per_row, dtype=dtype, out=out)
    f = format_info(fmt)
    data = _as_bytes(data)
    out_dtype, out_type = _out_dtype(dtype)
    if data.ndim == 0:
        raise ValueError("data must have at least one dimension")
    if n_per_row is not None:
        if isinstance(n_per_row, bool) or not isinstance(n_per_row, (int, np.integer)) or n_per_row <= 0:
            raise ValueError(f"n_per_row must be a positive int, got {n_per_row!r}")
        rb = f.row_bytes(int(n_per_row))
        if data.size % rb:
            raise ValueError(f"{data.size} bytes is not a whole number of {f.name} rows of {n_per_row} weights "
                             f"({rb} bytes each)")
        data = data.reshape(-1, rb)
    nbytes = data.shape[-1]
    if nbytes % f.block_bytes:
        raise ValueError(f"{nbytes} bytes per row is not a multiple of {f.name}'s block size of {f.block_bytes} bytes")
    shape = (*data.shape[:-1], nbytes // f.block_bytes * f.block_weights)
    if out is None:
        out = np.empty(shape, dtype=out_dtype)
    else:
        _check_out(out, shape, out_dtype, data=data)
    _core.decode(f.index, data, out, out_type, data.size // f.block_bytes, _check_threads(threads), _core.active_isa())
    return out
