"""GGUF files in and out: open a model memory-mapped, describe it for the policies, read one tensor as
float32 rows, and write a new file tensor by tensor into a temporary file that is renamed at the end."""
from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

import numpy as np

from .formats import format_info
from .policy.model import ModelSpec, TensorSpec


class GGUFError(ValueError):
    """A file that is missing, not a GGUF file, or not a model dgkernels can read."""


_READERS: dict = {}  # (path, mtime, size) -> reader: plan and quantize share one parse of a file

# ---- validating the layout before any reader allocates --------------------------------------------------
# gguf.GGUFReader trusts the counts in the file: an array that claims 2^60 uint8 items past the end of the
# file makes it loop (and allocate) forever, a string length of 2^62 or a tensor past the end turns into
# confusing numpy errors, and it builds one numpy object per array item. check_gguf() walks the header with
# struct alone, checking every count against the bytes that remain, and refuses what cannot be right.

MAX_METADATA_ITEMS = 1 << 23   # array items over all keys (a 262k vocabulary with scores, types, merges ~1.3M)
MAX_ARRAY_NESTING = 4          # arrays of arrays of ...
MAX_DIMS = 4                   # GGML_MAX_DIMS
SUPPORTED_VERSIONS = (2, 3)
_STRING, _ARRAY = 8, 9
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_MIN_KV_BYTES = 8 + 4 + 1            # empty key, value type, smallest value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8  # empty name, n_dims, one dim, type, offset


def check_gguf(path) -> dict:
    """Validate the header and tensor directory of a GGUF file without trusting any count in it.

    Raises GGUFError naming the problem (truncation, an impossible count or length, an unknown value or
    tensor type, dimensions that overflow, a tensor that lies past the end of the file, a bad alignment).
    Returns a summary: version, byte order, tensor_count, kv_count, alignment, data_offset, file_size."""
    p = Path(path)
    size = p.stat().st_size
    if size < 24:
        with open(p, "rb") as fh:
            head = fh.read(4)
        if not b"GGUF".startswith(head) or not head:  # say "not a GGUF file" before "truncated"
            raise GGUFError(f"{p}: not a GGUF file (it does not start with the GGUF magic)")
        raise GGUFError(f"{p}: truncated GGUF file ({size} bytes; the header alone takes 24)")
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return _check_layout(buf, size, f"{p}: damaged or unsupported GGUF file")


def _check_layout(buf, size: int, where: str) -> dict:
    import gguf
    if bytes(buf[:4]) != b"GGUF":
        raise GGUFError(f"{where}: not a GGUF file (it does not start with the GGUF magic)")
    (version,) = struct.unpack_from("<I", buf, 4)
    bo = "<"
    if version & 0xFFFF == 0:  # written on a big-endian machine, as gguf's reader detects it
        bo = ">"
        (version,) = struct.unpack_from(">I", buf, 4)
    if version not in SUPPORTED_VERSIONS:
        raise GGUFError(f"{where}: GGUF version {version} is not supported (versions {SUPPORTED_VERSIONS})")
    pos = 8
    u32, u64 = struct.Struct(bo + "I"), struct.Struct(bo + "Q")

    def need(n: int, what: str) -> None:
        if n < 0 or pos + n > size:
            raise GGUFError(f"{where}: truncated or corrupt GGUF file: {what} needs {n} bytes at offset {pos}, "
                            f"but the file has {size} bytes")

    def take(st: struct.Struct, what: str) -> int:
        nonlocal pos
        need(st.size, what)
        (v,) = st.unpack_from(buf, pos)
        pos += st.size
        return v

    def take_u32(what: str) -> int:
        return take(u32, what)

    def take_u64(what: str) -> int:
        return take(u64, what)

    def take_str(what: str) -> bytes:
        nonlocal pos
        n = take_u64(f"the length of {what}")
        if n > size - pos:
            raise GGUFError(f"{where}: {what} claims a length of {n} bytes at offset {pos - 8}, more than the "
                            f"{size - pos} bytes left in the file")
        s = bytes(buf[pos:pos + n])
        pos += n
        return s

    def text(b: bytes, what: str) -> str:
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise GGUFError(f"{where}: {what} is not valid UTF-8 ({b[:40]!r})") from None

    n_tensors = take_u64("the tensor count")
    n_kv = take_u64("the key/value count")
    left = size - pos
    if n_kv > left // _MIN_KV_BYTES:
        raise GGUFError(f"{where}: the header claims {n_kv} key/value pairs, which cannot fit in the {left} "
                        f"bytes left in the file")
    if n_tensors > left // _MIN_TENSOR_INFO_BYTES:
        raise GGUFError(f"{where}: the header claims {n_tensors} tensors, which cannot fit in the {left} bytes "
                        f"left in the file")
    items = 0
    alignment = 32  # GGUF_DEFAULT_ALIGNMENT

    def skip_value(vtype: int, key: str, depth: int) -> None:
        nonlocal pos, items
        if vtype in _SCALAR_SIZES:
            need(_SCALAR_SIZES[vtype], f"the value of {key}")
            pos += _SCALAR_SIZES[vtype]
        elif vtype == _STRING:
            take_str(f"the string value of {key}")
        elif vtype == _ARRAY:
            if depth >= MAX_ARRAY_NESTING:
                raise GGUFError(f"{where}: key {key} nests arrays more than {MAX_ARRAY_NESTING} deep")
            itype = take_u32(f"the item type of array {key}")
            n = take_u64(f"the length of array {key}")
            if itype not in _SCALAR_SIZES and itype not in (_STRING, _ARRAY):
                raise GGUFError(f"{where}: array {key} has unknown item type {itype}")
            smallest = _SCALAR_SIZES.get(itype, 8 if itype == _STRING else 12)
            if n > (size - pos) // smallest:
                raise GGUFError(f"{where}: array {key} claims {n} items at offset {pos - 8}, which cannot fit in "
                                f"the {size - pos} bytes left in the file")
            items += n
            if items > MAX_METADATA_ITEMS:
                raise GGUFError(f"{where}: the metadata holds more than {MAX_METADATA_ITEMS} array items "
                                f"(array {key} has {n}); refusing a file this large in metadata")
            if itype in _SCALAR_SIZES:
                pos += n * smallest
            elif itype == _STRING:
                for _ in range(n):
                    n_s = take_u64(f"the length of a string in array {key}")
                    if n_s > size - pos:
                        raise GGUFError(f"{where}: a string in array {key} claims a length of {n_s} bytes at "
                                        f"offset {pos - 8}, more than the {size - pos} bytes left in the file")
                    pos += n_s
            else:
                for _ in range(n):
                    skip_value(_ARRAY, key, depth + 1)
        else:
            raise GGUFError(f"{where}: key {key} has unknown value type {vtype}")

    keys = set()
    for i in range(n_kv):
        key = text(take_str(f"key {i}"), f"key {i}")
        if key in keys:
            raise GGUFError(f"{where}: key {key} appears twice")
        keys.add(key)
        vtype = take_u32(f"the value type of {key}")
        start = pos
        skip_value(vtype, key, 0)
        if key == "general.alignment":
            if vtype != 4:
                raise GGUFError(f"{where}: general.alignment must be a uint32, not value type {vtype}")
            (alignment,) = u32.unpack_from(buf, start)
            if alignment == 0 or alignment & (alignment - 1):
                raise GGUFError(f"{where}: general.alignment {alignment} is not a power of two")
    infos = []
    names = set()
    for i in range(n_tensors):
        name = text(take_str(f"the name of tensor {i}"), f"the name of tensor {i}")
        if name in names:
            raise GGUFError(f"{where}: tensor {name} appears twice")
        names.add(name)
        nd = take_u32(f"the dimension count of tensor {name}")
        if not 1 <= nd <= MAX_DIMS:
            raise GGUFError(f"{where}: tensor {name} has {nd} dimensions (1 to {MAX_DIMS} are valid)")
        dims = [take_u64(f"the dimensions of tensor {name}") for _ in range(nd)]
        tid = take_u32(f"the type of tensor {name}")
        off = take_u64(f"the data offset of tensor {name}")
        infos.append((name, dims, tid, off))
    data_offset = (pos + alignment - 1) // alignment * alignment
    for name, dims, tid, off in infos:
        try:
            qtype = gguf.GGMLQuantizationType(tid)
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
        except (ValueError, KeyError):
            raise GGUFError(f"{where}: tensor {name} has unknown ggml type id {tid}") from None
        n = 1
        for d in dims:
            if d == 0:
                raise GGUFError(f"{where}: tensor {name} has a zero dimension {dims}")
            n *= d
            if n >= 1 << 63:
                raise GGUFError(f"{where}: tensor {name} has dimensions {dims} whose product overflows int64")
        if dims[0] % block:
            raise GGUFError(f"{where}: tensor {name} has rows of {dims[0]} weights, not a multiple of "
                            f"{qtype.name}'s block size {block}")
        nbytes = n // block * type_size
        if off % alignment:
            raise GGUFError(f"{where}: tensor {name} has data offset {off}, not a multiple of the alignment "
                            f"{alignment}")
        if data_offset + off + nbytes > size:
            raise GGUFError(f"{where}: tensor {name} ({nbytes} bytes at offset {data_offset + off}) runs past "
                            f"the end of the file ({size} bytes)")
    return {"version": version, "byte_order": "big" if bo == ">" else "little", "tensor_count": n_tensors,
            "kv_count": n_kv, "alignment": alignment, "data_offset": data_offset, "file_size": size}


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
    check_gguf(p)  # every count and offset checked before gguf's reader allocates anything
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
    try:
        return f.contents()
    except UnicodeDecodeError as e:  # gguf decodes strings strictly; name the key instead
        raise GGUFError(f"metadata {key} holds a string that is not valid UTF-8 ({e.reason} at byte {e.start})") \
            from None


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
        try:
            n = int(v)
        except (TypeError, ValueError, OverflowError):
            n = -1
        if isinstance(v, (str, bytes)) or n < 0 or n != v:
            raise GGUFError(f"{arch}.{key} must be a non-negative integer, got {v!r}")
        return n

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
        val = field(reader, key)
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
