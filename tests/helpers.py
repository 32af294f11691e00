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


# ---- oracles: ggml through libgguf (byte-exact), gguf-py's numpy decoders ------------------------

def libgguf_supports(fmt: str) -> bool:
    """Whether libgguf (ggml's own code) encodes and decodes fmt."""
    import libgguf

    f = dg.format_info(fmt)
    return libgguf.row_size(f.type_id, f.block_weights) > 0


def ggufpy_decodes(fmt: str) -> bool:
    """Whether gguf-py has a numpy decoder for fmt."""
    import gguf

    f = dg.format_info(fmt)
    if f.name in ("F32", "F16"):
        return True
    return gguf.GGMLQuantizationType(f.type_id) in gguf.quants._type_traits


def ggml_quantize(fmt: str, x: np.ndarray, imatrix=None) -> np.ndarray:
    """ggml_quantize_chunk's bytes for the rows of x (libgguf runs ggml's encoder)."""
    import libgguf

    f = dg.format_info(fmt)
    if imatrix is None and f.requires_imatrix:
        raise ValueError(f"{fmt} needs an imatrix (libgguf would invent one from x)")
    q = libgguf.quantize_rows(np.ascontiguousarray(x, np.float32), f.type_id, imatrix)
    q = np.ascontiguousarray(q)  # F32/F16 come back typed: the bytes are what ggml stores
    return q.view(np.uint8).reshape(*x.shape[:-1], f.row_bytes(x.shape[-1]))


def ggml_dequantize(fmt: str, data: np.ndarray) -> np.ndarray:
    """ggml's to_float of whole-block rows (libgguf runs ggml's decoder); float32."""
    import libgguf

    f = dg.format_info(fmt)
    return libgguf.dequantize_rows(np.ascontiguousarray(data, np.uint8), f.type_id)


def require_plain_ggufpy() -> None:
    """gguf-py as an oracle must be gguf-py's own numpy code, not routed back into dgkernels."""
    try:
        from dgkernels.accelerate import is_accelerated
    except ImportError:
        return
    if is_accelerated():
        raise RuntimeError("gguf-py is routed through dgkernels (dgkernels.accelerate / DGKERNELS_ACCELERATE): "
                           "comparing with it would compare dgkernels with itself")


def ggufpy_dequantize(fmt: str, data: np.ndarray) -> np.ndarray:
    import gguf

    require_plain_ggufpy()

    f = dg.format_info(fmt)
    return np.asarray(gguf.quants.dequantize(np.ascontiguousarray(data, np.uint8), gguf.GGMLQuantizationType(f.type_id)))


def assert_floats_nan_equal(fmt: str, got: np.ndarray, want: np.ndarray) -> None:
    """Bit-for-bit equality except that any NaN matches any NaN (payload and sign free)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype.itemsize != want.dtype.itemsize:
        raise AssertionError(f"{fmt}: got {got.dtype}{got.shape}, want {want.dtype}{want.shape}")
    assert_floats_identical(fmt, _canonical_nan(got), _canonical_nan(want))


def _canonical_nan(a: np.ndarray) -> np.ndarray:
    """Copy of a float32/float16 array with every NaN replaced by one quiet NaN bit pattern."""
    a = np.array(a, copy=True)
    if a.dtype.itemsize == 4:
        u = a.view(np.uint32)
        u[(u & 0x7FFFFFFF) > 0x7F800000] = 0x7FC00000
    else:
        u = a.view(np.uint16)
        u[(u & 0x7FFF) > 0x7C00] = 0x7E00
    return a


def bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits, round to nearest even, NaN kept NaN (ggml_compute_fp32_to_bf16)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(nan, ((u >> 16) | 64).astype(np.uint16), r)


def decodable(fmt: str) -> bool:
    """Whether dgkernels decodes fmt (a decoder that is not written yet raises NotImplementedError)."""
    f = dg.format_info(fmt)
    try:
        dg.dequantize(np.zeros((1, f.block_bytes), np.uint8), f)
        return True
    except NotImplementedError:
        return False

def bf16_bits_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16, or ml_dtypes.bfloat16) widened exactly to float32."""
    b = np.ascontiguousarray(bits).view(np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32)


# Folder holding the dgkernels package under test (the installed one in CI, python/ in a dev tree):
# child processes get it on PYTHONPATH so they import the same build.
PKG_PARENT = str(Path(dg.__file__).resolve().parent.parent)


def assert_avx2_encodes_as_scalar(fmt: str, x: np.ndarray, imatrix, row: int = 256) -> None:
    """Encode x (cut into rows of `row` weights) on the scalar and AVX2 kernels: same bytes."""
    x = np.ascontiguousarray(x, np.float32).reshape(-1, row)
    if imatrix is not None:
        imatrix = np.ascontiguousarray(imatrix, np.float32)
    out = {}
    for isa in ("scalar", "avx2"):
        with dg.using_isa(isa):
            out[isa] = dg.quantize(x, fmt, imatrix=imatrix, threads=1)
    assert_bytes_equal(fmt, out["avx2"], out["scalar"])


def ulp_jitter(rng, x: np.ndarray, p: float = 0.5) -> np.ndarray:
    """x with each entry, with probability p, moved one ulp up or down."""
    up = np.nextafter(x, np.float32(np.inf))
    down = np.nextafter(x, np.float32(-np.inf))
    r = rng.random(x.shape)
    return np.where(r < p / 2, up, np.where(r < p, down, x)).astype(np.float32)
