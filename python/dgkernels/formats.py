"""The format registry as seen from Python: one `Format` per line of csrc/include/dgk/formats.def.

Everything in the package (API, compat layer, policy, benchmarks, tests) looks formats up here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core


@dataclass(frozen=True)
class Format:
    name: str                # GGUF / ggml type name, e.g. "Q4_K"
    type_id: int             # ggml type id, equal to gguf.GGMLQuantizationType[name]
    block_weights: int       # weights per block
    block_bytes: int         # bytes per block
    family: str              # "float", "legacy", "k", "iq", "ternary", "fp4"
    imatrix: str             # "ignored", "optional" or "required"
    index: int               # position in the native registry

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.block_bytes / self.block_weights

    @property
    def requires_imatrix(self) -> bool:
        return self.imatrix == "required"

    @property
    def is_quantized(self) -> bool:
        return self.family != "float"

    def row_bytes(self, n_per_row: int) -> int:
        """Bytes of one row of n_per_row weights (n_per_row must be a multiple of the block size)."""
        if n_per_row % self.block_weights:
            raise ValueError(
                f"row length {n_per_row} is not a multiple of {self.name}'s block size {self.block_weights}")
        return n_per_row // self.block_weights * self.block_bytes


_FORMATS: dict[str, Format] = {}
_BY_ID: dict[int, Format] = {}
for _index, _name, _tid, _bw, _bb, _family, _imatrix in _core.formats():
    _f = Format(_name, _tid, _bw, _bb, _family, _imatrix, _index)
    _FORMATS[_name] = _f
    _BY_ID[_tid] = _f


def formats() -> list[Format]:
    """Every format dgkernels knows, in registry order."""
    return list(_FORMATS.values())


def format_info(fmt) -> Format:
    """Look a format up by name ("Q4_K", case-insensitive), ggml type id, gguf enum member or Format."""
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str):
        f = _FORMATS.get(fmt.upper())
        if f is None:
            raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(_FORMATS)}")
        return f
    name = getattr(fmt, "name", None)  # gguf.GGMLQuantizationType and other enums
    if name is not None and not isinstance(fmt, bool) and name in _FORMATS:
        return _FORMATS[name]
    if isinstance(fmt, (int, np.integer)) and not isinstance(fmt, (bool, np.bool_)):  # ids read from files
        f = _BY_ID.get(int(fmt))
        if f is None:
            raise ValueError(f"unknown ggml type id {int(fmt)}; known ids: {sorted(_BY_ID)}")
        return f
    raise TypeError(f"format must be a name, a ggml type id or a Format, not {type(fmt).__name__}")
