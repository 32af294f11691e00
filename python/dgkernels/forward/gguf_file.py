"""A small, fast GGUF reader for model files: metadata as Python values, tensors as memory-mapped bytes.

gguf-py's GGUFReader builds a numpy view per array element, which takes about a minute on a
49k-token vocabulary; this reader parses the same layout (GGUF v2/v3, little-endian) in well under
a second and decodes tensors with dgkernels' own kernels.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MAGIC = b"GGUF"
# GGUF value type -> (struct code, size); 8 = string, 9 = array
_SCALARS = {0: ("B", 1), 1: ("b", 1), 2: ("H", 2), 3: ("h", 2), 4: ("I", 4), 5: ("i", 4), 6: ("f", 4),
            7: ("?", 1), 10: ("Q", 8), 11: ("q", 8), 12: ("d", 8)}
_NP_SCALARS = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1",
               10: "<u8", 11: "<i8", 12: "<f8"}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]   # ggml order: shape[0] is the row length (ne0)
    type_id: int             # ggml type id
    offset: int              # absolute byte offset in the file
    nbytes: int

    @property
    def n_per_row(self) -> int:
        return self.shape[0]


class _Truncated(Exception):
    pass


class _Cursor:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise _Truncated()
        v = self.buf[self.pos:self.pos + n]
        self.pos += n
        return v

    def scalar(self, code: str, size: int):
        return struct.unpack("<" + code, self.take(size))[0]

    def string(self) -> str:
        n = self.scalar("Q", 8)
        return bytes(self.take(n)).decode("utf-8", errors="replace")

    def _strings(self, n: int) -> list[str]:
        # hot path (vocabularies, merges): one unpack per string, no per-item slicing of the memoryview
        buf, pos, out = self.buf, self.pos, []
        unpack = struct.Struct("<Q").unpack_from
        for _ in range(n):
            (k,) = unpack(buf, pos)
            pos += 8
            if pos + k > len(buf):
                raise _Truncated()
            out.append(str(buf[pos:pos + k], "utf-8", "replace"))
            pos += k
        self.pos = pos
        return out

    def value(self, vtype: int):
        if vtype in _SCALARS:
            return self.scalar(*_SCALARS[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9:
            etype, n = self.scalar("I", 4), self.scalar("Q", 8)
            if etype in _NP_SCALARS:
                size = _SCALARS[etype][1]
                arr = np.frombuffer(self.take(n * size), dtype=_NP_SCALARS[etype])
                return arr.astype(bool) if etype == 7 else arr.copy()
            if etype == 8:
                return self._strings(n)
            return [self.value(etype) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {vtype}")


class GGUFFile:
    """Metadata (`.fields`: key -> value) and tensor directory (`.tensors`: name -> TensorInfo) of a GGUF file."""

    def __init__(self, path):
        self.path = Path(path)
        from ..gguf_io import check_gguf
        check_gguf(self.path)  # damaged files refused up front with a GGUFError (a ValueError) naming the problem
        self._mm = np.memmap(self.path, dtype=np.uint8, mode="r")
        # parse the header from a bytes copy (slicing bytes is far cheaper than slicing the map);
        # start small and grow only for files whose metadata is larger
        size = 1 << 24
        while True:
            try:
                infos, cur = self._parse_header(bytes(self._mm[:size]))
                break
            except _Truncated:
                if size >= self._mm.size:
                    raise ValueError(f"{self.path}: truncated GGUF header") from None
                size *= 4
        align = int(self.fields.get("general.alignment", 32))
        data_start = (cur.pos + align - 1) // align * align
        from ..formats import format_info
        self.tensors: dict[str, TensorInfo] = {}
        for name, shape, tid, off in infos:
            try:
                f = format_info(int(tid))
            except ValueError:
                raise ValueError(f"tensor {name}: ggml type {tid} is not supported by dgkernels") from None
            rows = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1
            nbytes = f.row_bytes(int(shape[0])) * rows
            start = data_start + off
            if start + nbytes > self._mm.size:
                raise ValueError(f"tensor {name} runs past the end of {self.path}")
            self.tensors[name] = TensorInfo(name, shape, int(tid), start, nbytes)

    def _parse_header(self, buf: bytes):
        cur = _Cursor(buf)
        if cur.take(4) != _MAGIC:
            raise ValueError(f"{self.path} is not a GGUF file (bad magic)")
        version = cur.scalar("I", 4)
        if version not in (2, 3):
            raise ValueError(f"{self.path}: GGUF version {version} is not supported (2 or 3)")
        n_tensors, n_kv = cur.scalar("Q", 8), cur.scalar("Q", 8)
        self.fields = {}
        self.field_types: dict[str, tuple[int, int | None]] = {}  # key -> (GGUF value type, array item type)
        for _ in range(n_kv):
            key = cur.string()
            vtype = cur.scalar("I", 4)
            sub = None
            if vtype == 9:  # peek at the array's item type
                sub = struct.unpack_from("<I", cur.buf, cur.pos)[0]
            self.fields[key] = cur.value(vtype)
            self.field_types[key] = (vtype, sub)
        infos = []
        for _ in range(n_tensors):
            name = cur.string()
            nd = cur.scalar("I", 4)
            if nd > 4:
                raise ValueError(f"{self.path}: tensor {name} has {nd} dimensions (at most 4)")
            shape = tuple(cur.scalar("Q", 8) for _ in range(nd))
            infos.append((name, shape, cur.scalar("I", 4), cur.scalar("Q", 8)))
        return infos, cur

    def get(self, key, default=None):
        return self.fields.get(key, default)

    def raw(self, name: str) -> np.ndarray:
        """The tensor's encoded bytes (a read-only view of the mapped file)."""
        t = self.tensors[name]
        return self._mm[t.offset:t.offset + t.nbytes]

    def decode(self, name: str) -> np.ndarray:
        """The tensor as float32 in numpy order (reversed ggml shape: rows last), via dgkernels' decoders."""
        from ..api import dequantize
        t = self.tensors[name]
        flat = dequantize(np.ascontiguousarray(self.raw(name)), t.type_id, n_per_row=t.n_per_row)
        return flat.reshape(tuple(reversed(t.shape)))
