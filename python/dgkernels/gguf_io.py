"""GGUF files in and out: open a model memory-mapped, describe it for the policies, read one tensor as
float32 rows, and write a new file tensor by tensor into a temporary file that is renamed at the end."""
from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

from .formats import format_info
from .policy.model import ModelSpec, TensorSpec


class GGUFError(ValueError):
    """A file that is missing, not a GGUF file, or not a model dgkernels can read."""


_READERS: dict = {}  # (path, mtime, size) -> reader: plan and quantize share one parse of a file


def _reader_class():
    import gguf

    class Reader(gguf.GGUFReader):
        """gguf's reader, slicing a plain ndarray view of its memory map instead of the np.memmap itself:
        the same values, parsed several times faster (a memmap slice costs tens of microseconds, and a
        tokenizer holds ~100k strings). The tensors stay views of the memory map."""

        def _get(self, offset, dtype, count=1, override_order=None):
            plain = self.__dict__.get("_plain")
            if plain is None:
                plain = self.__dict__["_plain"] = self.data.view(np.ndarray)
            count = int(count)
            arr = plain[offset:offset + np.dtype(dtype).itemsize * count].view(dtype=dtype)[:count]
            return arr.view(arr.dtype.newbyteorder(self.byte_order if override_order is None else override_order))

    return Reader, gguf.GGUFReader


def open_gguf(path):
    """A memory-mapped gguf.GGUFReader, with one clear error for a missing or malformed file."""
    p = Path(path)
    if not p.exists():
        raise GGUFError(f"{p}: no such file")
    if not p.is_file():
        raise GGUFError(f"{p}: not a file")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic != b"GGUF":
        raise GGUFError(f"{p}: not a GGUF file (it does not start with the GGUF magic)")
    st = p.stat()
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size)
    if key in _READERS:
        return _READERS[key]
    fast, plain = _reader_class()
    try:
        try:
            reader = fast(p, "r")
        except (TypeError, AttributeError):  # a gguf version whose internals differ: the plain reader
            reader = plain(p, "r")
    except Exception as e:  # the reader raises ValueError/IndexError/struct errors on damaged files
        raise GGUFError(f"{p}: damaged or unsupported GGUF file ({e})") from None
    if len(_READERS) >= 4:
        _READERS.pop(next(iter(_READERS)))
    _READERS[key] = reader
    return reader


def field(reader, key: str, default=None):
    """Value of a metadata key (strings decoded, arrays as lists), or `default`."""
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def source_format(rt) -> str:
    """dgkernels format name of a reader tensor (the ggml type name when dgkernels does not know it)."""
    try:
        return format_info(int(rt.tensor_type)).name
    except ValueError:
        return rt.tensor_type.name


def model_spec(reader, name: str | None = None) -> ModelSpec:
    """What the policies need to know about the model in `reader`."""
    arch = field(reader, "general.architecture")
    if not isinstance(arch, str):
        raise GGUFError("the file has no general.architecture: it is not a model (an imatrix file?)")

    def num(key, default):
        v = field(reader, f"{arch}.{key}", default)
        if isinstance(v, list):  # per-layer values: llama.cpp's n_gqa() looks at layer 0
            v = v[0] if v else default
        return int(v)

    n_layer = num("block_count", 0)
    n_head = num("attention.head_count", 0)
    n_head_kv = num("attention.head_count_kv", n_head)
    tensors = [TensorSpec(rt.name, tuple(int(d) for d in rt.shape), source_format(rt)) for rt in reader.tensors]
    if not tensors:
        raise GGUFError("the file holds no tensors")
    return ModelSpec(arch=arch, n_layer=n_layer, n_head=n_head, n_head_kv=n_head_kv, tensors=tensors,
                     n_expert=num("expert_count", 0), name=name or str(field(reader, "general.name", "") or ""))


def raw_rows(reader, rt) -> np.ndarray:
    """The stored bytes of a tensor as (rows, row_bytes) uint8, straight from the memory map."""
    flat = reader.data[rt.data_offset: rt.data_offset + int(rt.n_bytes)]
    n_rows = int(rt.n_elements) // int(rt.shape[0])
    return np.asarray(flat).reshape(n_rows, -1)


def tensor_f32(reader, rt, threads=None) -> np.ndarray:
    """A tensor's weights as float32 rows (rows, row_length), decoded with the kernels if quantized."""
    from .api import dequantize
    fmt = source_format(rt)
    try:
        f = format_info(fmt)
    except ValueError:
        raise GGUFError(f"tensor {rt.name} has type {fmt}, which dgkernels cannot decode") from None
    raw = raw_rows(reader, rt)
    if f.name == "F32":
        return raw.view(np.float32)
    return dequantize(raw, f, threads=threads)


def release(reader, rt) -> None:
    """Drop a tensor's pages of the memory map from this process (they stay in the page cache), so that
    streaming a model keeps resident memory near the size of one tensor. Best effort."""
    mm = getattr(reader.data, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    start = rt.data_offset - rt.data_offset % mmap.PAGESIZE
    try:
        mm.madvise(mmap.MADV_DONTNEED, start, rt.data_offset + int(rt.n_bytes) - start)
    except (OSError, ValueError):
        pass


def copy_metadata(reader, writer, skip=()) -> None:
    """Every key of `reader` into `writer`, with its GGUF type, except `skip` and the header fields."""
    import gguf
    for key, f in reader.fields.items():
        if key.startswith("GGUF.") or key in skip or key == "general.architecture":
            continue
        vtype = f.types[0]
        sub = f.types[-1] if vtype == gguf.GGUFValueType.ARRAY and len(f.types) > 1 else None
        val = f.contents()
        if vtype == gguf.GGUFValueType.ARRAY and len(val) == 0:
            continue  # gguf's writer cannot write empty arrays
        if key == "general.alignment":
            writer.data_alignment = int(val)
        writer.add_key_value(key, val, vtype, sub_type=sub)


class AtomicOutput:
    """A path that only appears when the write succeeds: the data goes to a hidden temporary file beside
    it, which is renamed over the destination at `commit()` and removed on any failure or interrupt."""

    def __init__(self, dest, overwrite: bool = False):
        self.dest = Path(dest)
        self.overwrite = overwrite
        if self.dest.exists() and not overwrite:
            raise FileExistsError(f"{self.dest} exists; pass --force (overwrite=True in Python) to replace it")
        if not self.dest.parent.is_dir():
            raise FileNotFoundError(f"{self.dest.parent}: no such directory")
        self.tmp = self.dest.with_name(f".{self.dest.name}.partial-{os.getpid()}")

    def __enter__(self):
        return self

    def commit(self) -> None:
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if self.dest.exists() and not self.overwrite:
            raise FileExistsError(f"{self.dest} appeared while writing; not replacing it")
        os.replace(self.tmp, self.dest)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and self.tmp.exists():
            self.tmp.unlink()
        return False
