"""Importance matrices in llama.cpp's two file formats, read and written.

legacy `.dat`: int32 n_entries; per entry int32 name length, name, int32 ncall, int32 nval, nval float32
  (mean square activation x ncall); then optionally int32 chunk count, int32 length, dataset name.
GGUF: per weight `<name>.in_sum2` (F32, ne = [n_per_row, n_mat]: sums of squared activations) and
  `<name>.counts` (F32, ne = [1, n_mat]: activations summed per matrix; one matrix per MoE expert), plus
  general.type = "imatrix", imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size.
Both load to what llama-quantize uses: per matrix the mean square activation (sums / count; a matrix
that saw no activations gets 1).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .policy.model import ModelSpec, TensorSpec


class ImatrixError(ValueError):
    """An importance matrix that cannot be read or does not belong to the model."""


@dataclass
class Imatrix:
    values: dict[str, np.ndarray]            # weight name -> (n_mat, n_per_row) float32 mean squares
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # weight name -> (n_mat,) activations seen
    datasets: list[str] = field(default_factory=list)
    chunk_count: int = 0
    chunk_size: int = 0
    path: str = ""
    kind: str = ""                           # "legacy" or "gguf"

    def __len__(self):
        return len(self.values)

    def for_tensor(self, t: TensorSpec) -> np.ndarray | None:
        """The importance of `t`'s columns, (n_mat, row_length) with one row per expert matrix, or None when the
        file has no entry for it. A length that does not fit the tensor is an error (token_embd excepted,
        as in llama.cpp: a tied output projection may have been measured with another layout)."""
        v = self.values.get(t.name)
        if v is None:
            return None
        n_mat = t.shape[2] if len(t.shape) > 2 else 1
        if v.size != t.row_length * n_mat:
            if t.category == "token_embd":
                return None
            raise ImatrixError(
                f"imatrix {self.path or ''} entry {t.name} has {v.size} values but the tensor needs "
                f"{t.row_length * n_mat} ({t.row_length} per row x {n_mat} matrices): the imatrix was made "
                f"for another model")
        return v.reshape(n_mat, t.row_length)

    def check(self, model: ModelSpec) -> int:
        """Refuse an imatrix made for another model; return how many of the model's tensors it covers."""
        names = {t.name for t in model.tensors}
        hits = [n for n in self.values if n in names]
        if self.values and not hits:
            some = ", ".join(sorted(self.values)[:3])
            raise ImatrixError(f"imatrix {self.path} names none of the model's tensors (e.g. {some}): "
                               f"it was made for another model")
        for n in hits:
            self.for_tensor(model.tensor(n))
        return len(hits)

    def provenance(self) -> dict:
        """The quantize.imatrix.* keys llama-quantize writes."""
        out = {"quantize.imatrix.file": self.path, "quantize.imatrix.entries_count": len(self.values),
               "quantize.imatrix.chunks_count": self.chunk_count}
        if self.datasets:
            out["quantize.imatrix.dataset"] = self.datasets[0]
        return out


def load_imatrix(path) -> Imatrix:
    """Read either format (GGUF is recognised by its magic, as llama.cpp does)."""
    p = Path(path)
    if not p.is_file():
        raise ImatrixError(f"{p}: no such imatrix file")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    im = _load_gguf(p) if magic == b"GGUF" else _load_legacy(p)
    im.path = str(path)
    return im


_MAX_COUNT = float(2**53)  # tokens an entry saw: exact in float64, far beyond any calibration run


def _check_values(v: np.ndarray, p: Path, name: str, what: str) -> None:
    """Mean squares, sums of squares and counts are finite and non-negative; anything else is damage."""
    bad = np.flatnonzero(~np.isfinite(v) | (v < 0))
    if bad.size:
        raise ImatrixError(f"{p}: entry {name}: {what} must be finite and non-negative; item {int(bad[0])} is "
                           f"{v[bad[0]]} ({bad.size} such items)")


def _load_legacy(p: Path) -> Imatrix:
    data = p.read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise ImatrixError(f"{p}: truncated legacy imatrix file (at byte {pos})")
        v = struct.unpack_from(fmt, data, pos)
        pos += size
        return v

    (n_entries,) = take("<i")
    if n_entries < 1:
        raise ImatrixError(f"{p}: not an imatrix file (no entries)")
    if n_entries > len(data) // 12:
        raise ImatrixError(f"{p}: not an imatrix file ({n_entries} entries cannot fit in {len(data)} bytes)")
    values, counts = {}, {}
    for i in range(n_entries):
        (ln,) = take("<i")
        if ln <= 0 or pos + ln > len(data):
            raise ImatrixError(f"{p}: bad name length {ln} for entry {i}")
        name = data[pos:pos + ln].decode("utf-8", errors="replace")
        pos += ln
        ncall, nval = take("<ii")
        if nval < 1 or pos + 4 * nval > len(data):
            raise ImatrixError(f"{p}: bad value count {nval} for entry {name}")
        v = np.frombuffer(data, dtype="<f4", count=nval, offset=pos).astype(np.float32)
        pos += 4 * nval
        _check_values(v, p, name, "values")
        values[name] = (v / np.float32(ncall) if ncall > 0 else v.copy()).reshape(1, -1)
        counts[name] = np.array([max(ncall, 0)], np.int64)
    chunks, datasets = 0, []
    if pos + 4 <= len(data):
        (chunks,) = take("<i")
        if pos + 4 <= len(data):
            (ln,) = take("<i")
            if 0 < ln <= len(data) - pos:
                datasets.append(data[pos:pos + ln].decode("utf-8", errors="replace"))
    return Imatrix(values, counts, datasets, int(chunks), 0, kind="legacy")


def _load_gguf(p: Path) -> Imatrix:
    from .gguf_io import GGUFError
    try:
        return _load_gguf_entries(p)
    except GGUFError as e:  # a damaged file, or damaged metadata read below
        raise ImatrixError(str(e)) from None


def _load_gguf_entries(p: Path) -> Imatrix:
    from .gguf_io import field, open_gguf
    r = open_gguf(p)
    sums, cnts = {}, {}
    for t in r.tensors:
        if t.name.endswith(".in_sum2"):
            sums[t.name[:-8]] = t
        elif t.name.endswith(".counts"):
            cnts[t.name[:-7]] = t
    if not sums and not cnts:
        what = "a model, not an imatrix" if field(r, "general.architecture") else "no imatrix entries"
        raise ImatrixError(f"{p}: GGUF file with {what}")
    values, counts = {}, {}
    for name in sorted(set(sums) | set(cnts)):
        s, c = sums.get(name), cnts.get(name)
        if s is None or c is None:
            raise ImatrixError(f"{p}: entry {name} has {'no sums' if s is None else 'no counts'}")
        if s.tensor_type.name != "F32" or c.tensor_type.name != "F32":
            raise ImatrixError(f"{p}: entry {name}: sums and counts must be F32")
        n_mat = int(c.n_elements)
        sv = np.asarray(s.data, dtype=np.float32).reshape(-1)
        _check_values(sv, p, name, "sums")
        cf = np.asarray(c.data, dtype=np.float32).reshape(-1)
        _check_values(cf, p, name, "counts")
        if cf.size and cf.max() > _MAX_COUNT:  # a token count; past this it is damage (and no int64)
            raise ImatrixError(f"{p}: entry {name}: counts must be at most {_MAX_COUNT:.0f} tokens; one is {cf.max():g}")
        if n_mat < 1 or sv.size % n_mat:
            raise ImatrixError(f"{p}: entry {name}: {sv.size} sums do not split into {n_mat} matrices")
        sv = sv.reshape(n_mat, -1)
        cv = np.rint(cf).astype(np.int64)
        out = np.ones_like(sv)
        seen = cv > 0
        out[seen] = sv[seen] / cv[seen, None].astype(np.float32)
        values[name], counts[name] = out, cv
    ds = field(r, "imatrix.datasets", [])
    return Imatrix(values, counts, list(ds) if isinstance(ds, list) else [str(ds)],
                   int(field(r, "imatrix.chunk_count", 0) or 0), int(field(r, "imatrix.chunk_size", 0) or 0),
                   kind="gguf")


def save_imatrix(im: Imatrix, path, kind: str = "gguf") -> None:
    """Write `im` as llama.cpp would ("gguf" or "legacy"); counts default to chunk_count·chunk_size."""
    values = {k: np.asarray(v, np.float32).reshape(np.asarray(v).shape[0] if np.asarray(v).ndim > 1 else 1, -1)
              for k, v in im.values.items()}
    if kind == "legacy":
        ncall = max(im.chunk_count, 1)
        buf = bytearray(struct.pack("<i", len(values)))
        for name, v in values.items():
            nb = name.encode()
            buf += struct.pack("<i", len(nb)) + nb + struct.pack("<ii", ncall, v.size)
            buf += (v.reshape(-1) * np.float32(ncall)).astype("<f4").tobytes()
        buf += struct.pack("<i", im.chunk_count)
        ds = (im.datasets[0] if im.datasets else "").encode()
        buf += struct.pack("<i", len(ds)) + ds
        Path(path).write_bytes(bytes(buf))
        return
    if kind != "gguf":
        raise ValueError(f"imatrix kind must be 'gguf' or 'legacy', not {kind!r}")
    import gguf
    w = gguf.GGUFWriter(path, arch="imatrix")
    w.kv_data[0].pop("general.architecture", None)  # llama.cpp's imatrix files have no architecture
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", list(im.datasets) or [""])
    w.add_uint32("imatrix.chunk_count", im.chunk_count)
    w.add_uint32("imatrix.chunk_size", im.chunk_size)
    default = max(im.chunk_count * im.chunk_size, 1)
    for name, v in values.items():
        c = np.asarray(im.counts.get(name, np.full(v.shape[0], default)), np.float32).reshape(-1)
        if c.size != v.shape[0]:
            c = np.full(v.shape[0], c[0], np.float32)
        w.add_tensor(f"{name}.in_sum2", (v * c[:, None]).astype(np.float32))
        w.add_tensor(f"{name}.counts", c.reshape(v.shape[0], 1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
