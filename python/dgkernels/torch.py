"""Torch-facing helpers for GGUF loaders that keep weights as uint8 tensors and dequantize on the fly.

    from dgkernels.torch import dequantize
    w = dequantize(raw_uint8_tensor, "Q4_K", (4096, 4096), torch.float16)

CPU tensors are decoded by the C++ kernels straight into the result tensor's memory (no numpy copy);
the result is bit-identical to the numpy path. CUDA tensors are decoded on their GPU by dgkernels' CUDA
kernels (same bits) when dgkernels.cuda_available(); otherwise on the CPU and moved back to the device.
"""
from __future__ import annotations

import math

import numpy as np

from . import api
from .formats import format_info

_TORCH_TO_NAME = {"torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16"}


def dequantize(tensor, fmt, shape, dtype=None):
    """Decode a uint8 tensor of GGUF blocks into a tensor of `shape` and `dtype` (float32 default)."""
    import torch

    f = format_info(fmt)
    dtype = torch.float32 if dtype is None else dtype
    out_name = _TORCH_TO_NAME.get(str(dtype))
    if out_name is None:
        raise TypeError(f"dtype must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor of uint8, got {type(tensor).__name__}")
    if tensor.dtype not in (torch.uint8, torch.int8):
        raise TypeError(f"tensor must hold uint8 bytes of encoded blocks, got {tensor.dtype}")
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    if not shape or n % f.block_weights or shape[-1] % f.block_weights:
        raise ValueError(f"shape {shape}: its last dimension must be a multiple of {f.name}'s block size "
                         f"{f.block_weights}")
    need = n // f.block_weights * f.block_bytes
    if tensor.numel() != need:
        raise ValueError(f"{f.name} tensor of shape {shape} needs {need} bytes, got {tensor.numel()}")
    device = tensor.device
    if device.type == "cuda":
        from . import cuda as _gpu
        if _gpu.available():
            src = tensor.detach().contiguous().view(torch.uint8).reshape(-1, f.row_bytes(shape[-1]))
            if src.data_ptr() % 4:  # the kernels read blocks from a 4-byte aligned start
                src = src.clone()
            return _gpu.dequantize(src, f, dtype=out_name).reshape(shape)
    src = tensor.detach()
    if device.type != "cpu":
        src = src.cpu()
    src = src.contiguous().view(torch.uint8).reshape(-1)
    out = torch.empty(shape, dtype=dtype)
    if out_name == "bfloat16":  # numpy has no bfloat16: let the kernels write the bits into the tensor
        out_np = out.view(torch.int16).numpy().view(api._out_dtype("bfloat16")[0])
    else:
        out_np = out.numpy()
    api.dequantize(src.numpy().reshape(-1, f.row_bytes(shape[-1])), f, dtype=out_name,
                   out=out_np.reshape(-1, shape[-1]))
    return out if device.type == "cpu" else out.to(device)
