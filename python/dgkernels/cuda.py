"""The GPU path: quantize / dequantize torch CUDA tensors and cupy arrays on their own device.

`dgkernels.quantize` / `dequantize` dispatch here when their input lives on a GPU; results are the same
kind of object on the same device, written by kernels ordered on the caller's current stream
(torch.cuda.current_stream / cupy.cuda.get_current_stream), byte-identical to the CPU path.

    available()            -> whether the extension is built and a device is usable
    unavailable_reason()   -> why not (None when available)
    encode_formats()       -> names of the formats with a GPU encoder (the others raise NotImplementedError)
"""
from __future__ import annotations

import math

import numpy as np

from .formats import Format, format_info

__all__ = ["available", "unavailable_reason", "encode_formats", "is_gpu_array", "quantize", "dequantize",
           "emulate_quantize", "emulate_dequantize"]

_OUT_TYPES = {"float32": 0, "float16": 1, "bfloat16": 2}
_status = None


def _module():
    try:
        from . import _cuda
    except ImportError as e:
        return None, f"the CUDA extension dgkernels._cuda is not built ({e})"
    return _cuda, None


def _probe():
    global _status
    if _status is None:
        mod, why = _module()
        if mod is not None:
            n, reason = mod.status()
            why = None if n > 0 else (reason or "no CUDA device")
        _status = why
    return _status


def available() -> bool:
    """Whether the CUDA kernels are built and at least one device can run them."""
    return _probe() is None


def unavailable_reason():
    """Why the GPU path cannot run (a string), or None when it can."""
    return _probe()


def encode_formats() -> list[str]:
    mod, why = _module()
    if mod is None:
        return []
    from .formats import formats
    return [f.name for f in formats() if mod.encode_supported(f.index)]


# ---- array kinds ----------------------------------------------------------------------------------
def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "is_cuda")


def _is_cupy(x) -> bool:
    return type(x).__module__.startswith("cupy")


def is_gpu_array(x) -> bool:
    """True for a torch CUDA tensor or an object exposing __cuda_array_interface__ (cupy, numba...)."""
    if _is_torch(x):
        return bool(x.is_cuda)
    try:
        return hasattr(x, "__cuda_array_interface__")
    except Exception:  # an interface property may raise for unsupported dtypes
        return True


class _Arr:
    """What the kernels need from a device array: pointer, shape, dtype name, device, stream."""

    def __init__(self, x, what: str):
        self.obj = x
        if _is_torch(x):
            import torch
            if not x.is_cuda:
                raise ValueError(f"{what} is a CPU tensor but another argument is on a GPU; put both on one device")
            self.kind = "torch"
            self.ptr = x.data_ptr()
            self.shape = tuple(x.shape)
            self.dtype = str(x.dtype).replace("torch.", "")
            self.device = x.device.index if x.device.index is not None else torch.cuda.current_device()
            self.contiguous = x.is_contiguous()
        elif _is_cupy(x):
            self.kind = "cupy"
            self.ptr = x.data.ptr
            self.shape = tuple(x.shape)
            self.dtype = np.dtype(x.dtype).name
            self.device = x.device.id
            self.contiguous = bool(x.flags.c_contiguous)
        else:
            raise TypeError(f"{what}: GPU arrays must be torch CUDA tensors or cupy arrays, got {type(x).__name__}")
        self.size = math.prod(self.shape)

    def stream(self) -> int:
        if self.kind == "torch":
            import torch
            return int(torch.cuda.current_stream(self.device).cuda_stream)
        import cupy
        with cupy.cuda.Device(self.device):
            return int(cupy.cuda.get_current_stream().ptr)

    def empty(self, shape, dtype: str):
        if self.kind == "torch":
            import torch
            return torch.empty(shape, dtype=getattr(torch, dtype), device=self.obj.device)
        import cupy
        with cupy.cuda.Device(self.device):
            return cupy.empty(shape, dtype=np.uint16 if dtype == "bfloat16" else dtype)

    def to_float32(self, what: str):
        """The array as float32 (other float types converted on the device), same kind and device."""
        if self.dtype == "float32":
            return self
        if self.dtype not in ("float16", "bfloat16", "float64"):
            raise TypeError(f"{what} must be float32 (float16, bfloat16 or float64 are converted), got dtype {self.dtype}")
        conv = self.obj.float() if self.kind == "torch" else self.obj.astype(np.float32)
        return _Arr(conv, what)

    def first_nonfinite(self):
        """Flat index of the first NaN/Inf, or -1 (one reduction on the device and one sync)."""
        if self.kind == "torch":
            import torch
            bad = ~torch.isfinite(self.obj.reshape(-1))
            if not bool(bad.any()):
                return -1
            return int(torch.nonzero(bad)[0, 0])
        import cupy
        with cupy.cuda.Device(self.device):
            bad = ~cupy.isfinite(self.obj.reshape(-1))
            if not bool(bad.any()):
                return -1
            return int(cupy.flatnonzero(bad)[0])


def _mod():
    mod, why = _module()
    if mod is None or _probe() is not None:
        raise RuntimeError(f"the GPU path is not available: {unavailable_reason()} (dgkernels.cuda_available() is False)")
    return mod


def _check_contiguous(a: _Arr, what: str) -> None:
    if not a.contiguous:
        raise ValueError(f"{what} must be C-contiguous on the GPU (call .contiguous() / cupy.ascontiguousarray)")


def _check_out(out, shape, dtype: str, ref: _Arr) -> _Arr:
    o = _Arr(out, "out")
    if o.kind != ref.kind:
        raise TypeError(f"out must be a {ref.kind} array like the input, not {o.kind}")
    if o.device != ref.device:
        raise ValueError(f"out is on device {o.device} but the input is on device {ref.device}")
    want = "uint16" if (dtype == "bfloat16" and o.kind == "cupy") else dtype
    if o.dtype != want:
        raise TypeError(f"out must have dtype {want}, got {o.dtype}")
    if tuple(o.shape) != tuple(shape):
        raise ValueError(f"out must have shape {tuple(shape)}, got {tuple(o.shape)}")
    _check_contiguous(o, "out")
    return o


# ---- quantize ------------------------------------------------------------------------------------
def quantize(x, fmt, *, imatrix=None, out=None):
    """Encode the rows of the GPU array `x` (last axis = a row); see dgkernels.quantize."""
    f = format_info(fmt)
    a = _Arr(x, "x")
    mod = _mod()
    if not mod.encode_supported(f.index):
        raise NotImplementedError(f"{f.name} has no GPU encoder yet (GPU encoders: {', '.join(encode_formats())}); "
                                  "encode it on the CPU with a numpy array")
    a = a.to_float32("x")
    _check_contiguous(a, "x")
    if len(a.shape) == 0:
        raise ValueError("x must have at least one dimension (the row)")
    n = a.shape[-1]
    if n == 0 or n % f.block_weights:
        raise ValueError(f"row length {n} is not a multiple of {f.name}'s block size {f.block_weights}")
    i = a.first_nonfinite()
    if i >= 0:
        idx = np.unravel_index(i, a.shape)
        raise ValueError(f"x contains a non-finite value at index {tuple(int(v) for v in idx)}; "
                         "NaN and Inf cannot be quantized")
    im = _imatrix_for(f, imatrix, n, a)
    shape = (*a.shape[:-1], f.row_bytes(n))
    o = _Arr(a.empty(shape, "uint8"), "out") if out is None else _check_out(out, shape, "uint8", a)
    if o.ptr % 4 or a.ptr % 4:  # a misaligned device access would poison the whole CUDA context
        raise ValueError("x and out must start at 4-byte aligned addresses on the GPU")
    nrows = a.size // n
    keep = (a, im)  # noqa: F841  (buffers stay alive until the launch is queued)
    mod.encode(f.index, a.ptr, o.ptr, im.ptr if im is not None else 0, nrows, n, a.device, a.stream())
    return o.obj


def _imatrix_for(f: Format, imatrix, n: int, ref: _Arr):
    if imatrix is None:
        if f.requires_imatrix:
            raise ValueError(f"{f.name} needs an importance matrix: pass imatrix=<array of {n} non-negative floats>")
        return None
    if is_gpu_array(imatrix):
        im = _Arr(imatrix, "imatrix")
        if im.device != ref.device:
            raise ValueError(f"imatrix is on device {im.device} but x is on device {ref.device}")
        host = im.obj.float().cpu().numpy() if im.kind == "torch" else im.obj.astype(np.float32).get()
    else:
        host = np.asarray(imatrix)
        if host.dtype.kind != "f":
            raise TypeError(f"imatrix must hold floats, got dtype {host.dtype}")
        host = host.astype(np.float32)
    host = np.ascontiguousarray(host.reshape(-1))
    if host.size != n:
        raise ValueError(f"imatrix has {host.size} values but rows have {n} weights; they must match")
    if not np.isfinite(host).all():
        raise ValueError("imatrix contains a non-finite value")
    neg = np.flatnonzero(host < 0)
    if neg.size:
        raise ValueError(f"imatrix must be non-negative; entry {int(neg[0])} is {host[neg[0]]}")
    # The imatrix is small (one row): copy it to the device with the input's library, on its stream.
    if ref.kind == "torch":
        import torch
        dev = torch.from_numpy(host).to(ref.obj.device, non_blocking=False)
    else:
        import cupy
        with cupy.cuda.Device(ref.device):
            dev = cupy.asarray(host)
    return _Arr(dev, "imatrix")


# ---- dequantize ----------------------------------------------------------------------------------
def _dtype_name(dtype) -> str:
    s = str(dtype).replace("torch.", "")
    if s.lower() in ("bfloat16", "bf16"):
        return "bfloat16"
    try:
        s = np.dtype(dtype).name
    except TypeError:
        pass
    if s not in _OUT_TYPES:
        raise TypeError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    return s


def dequantize(data, fmt, *, n_per_row=None, dtype=np.float32, out=None):
    """Decode the GPU array `data` (uint8 blocks in its last axis); see dgkernels.dequantize.
    bfloat16 results are torch.bfloat16 for torch and uint16 bits for cupy (cupy has no bfloat16)."""
    f = format_info(fmt)
    a = _Arr(data, "data")
    mod = _mod()
    if a.dtype not in ("uint8", "int8"):
        raise TypeError(f"data must be uint8 bytes of encoded blocks, got dtype {a.dtype}")
    _check_contiguous(a, "data")
    name = _dtype_name(dtype)
    shape = a.shape
    if len(shape) == 0:
        raise ValueError("data must have at least one dimension")
    if n_per_row is not None:
        if isinstance(n_per_row, bool) or not isinstance(n_per_row, (int, np.integer)) or n_per_row <= 0:
            raise ValueError(f"n_per_row must be a positive int, got {n_per_row!r}")
        rb = f.row_bytes(int(n_per_row))
        if a.size % rb:
            raise ValueError(f"{a.size} bytes is not a whole number of {f.name} rows of {n_per_row} weights "
                             f"({rb} bytes each)")
        shape = (a.size // rb, rb)
    nbytes = shape[-1]
    if nbytes % f.block_bytes:
        raise ValueError(f"{nbytes} bytes per row is not a multiple of {f.name}'s block size of {f.block_bytes} bytes")
    if a.ptr % 4:
        raise ValueError("data must start at a 4-byte aligned address on the GPU (slice at a block boundary "
                         "of an aligned buffer, or copy it)")
    out_shape = (*shape[:-1], nbytes // f.block_bytes * f.block_weights)
    o = _Arr(a.empty(out_shape, name), "out") if out is None else _check_out(out, out_shape, name, a)
    if o.ptr % 16:
        raise ValueError("out must be 16-byte aligned on the GPU")
    count = a.size // f.block_bytes  # blocks, or elements for F32/F16/BF16
    mod.decode(f.index, a.ptr, o.ptr, _OUT_TYPES[name], count, a.device, a.stream())
    return o.obj


# ---- host emulation of the device code (runs without a GPU) ---------------------------------------
def emulate_quantize(x: np.ndarray, fmt, imatrix=None) -> np.ndarray:
    """Encode on the CPU with the GPU encoders' own per-block functions (numpy in, numpy out)."""
    mod, why = _module()
    if mod is None:
        raise RuntimeError(why)
    f = format_info(fmt)
    if not mod.encode_supported(f.index):
        raise NotImplementedError(f"{f.name} has no GPU encoder yet")
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[-1]
    out = np.empty((*x.shape[:-1], f.row_bytes(n)), dtype=np.uint8)
    im = None if imatrix is None else np.ascontiguousarray(imatrix, dtype=np.float32).reshape(-1)
    mod.emulate_encode(f.index, x.reshape(-1), out.reshape(-1), im, x.size // n, n)
    return out


def emulate_dequantize(data: np.ndarray, fmt, dtype="float32") -> np.ndarray:
    """Decode on the CPU with the GPU decoders' own per-group functions. bfloat16 comes back as uint16 bits."""
    mod, why = _module()
    if mod is None:
        raise RuntimeError(why)
    f = format_info(fmt)
    name = _dtype_name(dtype)
    data = np.ascontiguousarray(data, dtype=np.uint8)
    nb = data.shape[-1]
    out = np.empty((*data.shape[:-1], nb // f.block_bytes * f.block_weights),
                   dtype=np.float32 if name == "float32" else np.float16 if name == "float16" else np.uint16)
    mod.emulate_decode(f.index, data.reshape(-1), out.reshape(-1), _OUT_TYPES[name], data.size // f.block_bytes)
    return out
