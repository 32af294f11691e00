"""Shared test utilities: golden-vector access and block-level comparisons that say *which* blocks differ."""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

import dgkernels as dg

REPO = Path(__file__).resolve().parent.parent


def vectors_dir() -> Path:
    """../shared/vectors beside the repository, or $DGKERNELS_VECTORS."""
    env = os.environ.get("DGKERNELS_VECTORS")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "vectors", REPO / "shared" / "vectors"]
    for c in candidates:
        if (c / "manifest.json").is_file():
            return c
    raise FileNotFoundError(
        "golden vectors not found; looked for manifest.json in: " + ", ".join(str(c) for c in candidates)
        + " (set DGKERNELS_VECTORS to the folder)")


@lru_cache(maxsize=1)
def manifest() -> dict:
    return json.loads((vectors_dir() / "manifest.json").read_text())


@lru_cache(maxsize=None)
def vector_file(fmt: str):
    return np.load(vectors_dir() / manifest()["types"][fmt]["npz"])


def golden_entries(fmts=None):
    """(format, entry) pairs of the manifest, for parametrization."""
    try:
        types = manifest()["types"]
    except FileNotFoundError:
        return []
    known = {f.name for f in dg.formats()}
    out = []
    for fmt, t in types.items():
        if fmt not in known or (fmts is not None and fmt not in fmts):
            continue
        for e in t["entries"]:
            out.append((fmt, e))
    return out


def describe_block_diff(fmt: str, got: np.ndarray, want: np.ndarray, *, what="bytes", limit=4) -> str:
    """Message naming the first differing blocks (row-major block index) and their contents."""
    f = dg.format_info(fmt)
    unit = f.block_bytes if what == "bytes" else f.block_weights
    g = np.ascontiguousarray(got).reshape(-1)
    w = np.ascontiguousarray(want).reshape(-1)
    if g.shape != w.shape:
        return f"{fmt}: shape differs: got {got.shape}, want {want.shape}"
    if what == "bytes":
        diff = g != w
    else:
        gb, wb = g.view(np.uint32 if g.dtype.itemsize == 4 else np.uint16), w.view(np.uint32 if w.dtype.itemsize == 4 else np.uint16)
        diff = gb != wb
    blocks = np.unique(np.flatnonzero(diff) // unit)
    lines = [f"{fmt}: {blocks.size} of {g.size // unit} blocks differ ({what})"]
    for b in blocks[:limit]:
        s = slice(b * unit, (b + 1) * unit)
        if what == "bytes":
            lines.append(f"  block {b}: got  {g[s].tobytes().hex()}\n           want {w[s].tobytes().hex()}")
        else:
            idx = np.flatnonzero(diff[s])[:4]
            lines.append(f"  block {b}: elements {idx.tolist()} got {g[s][idx].tolist()} want {w[s][idx].tolist()}")
    return "\n".join(lines)


def assert_bytes_equal(fmt: str, got: np.ndarray, want: np.ndarray) -> None:
    got = np.asarray(got).view(np.uint8)
    want = np.asarray(want).view(np.uint8)
    if got.shape != want.shape or not np.array_equal(got, want):
        raise AssertionError(describe_block_diff(fmt, got, want, what="bytes"))


def assert_floats_identical(fmt: str, got: np.ndarray, want: np.ndarray) -> None:
    """Bit-for-bit equality of float arrays (NaN payloads included)."""
    got, want = np.asarray(got), np.asarray(want)
    ok = got.shape == want.shape and got.dtype.itemsize == want.dtype.itemsize
    if ok:
        u = np.uint32 if got.dtype.itemsize == 4 else np.uint16
        ok = np.array_equal(np.ascontiguousarray(got).view(u), np.ascontiguousarray(want).view(u))
    if not ok:
        raise AssertionError(describe_block_diff(fmt, got, want, what="values"))


def encodable(fmt: str) -> bool:
    """Whether dgkernels encodes fmt (an encoder that is not written yet raises NotImplementedError)."""
    f = dg.format_info(fmt)
    x = np.zeros((1, f.block_weights), np.float32)
    try:
        dg.quantize(x, f, imatrix=np.ones(f.block_weights, np.float32))
        return True
    except NotImplementedError:
        return False
