"""Importance matrices without llama.cpp: `dgkernels imatrix MODEL.gguf --text FILE | --self N -o OUT.gguf`.

What is accumulated mirrors llama.cpp's `llama-imatrix` (tools/imatrix/imatrix.cpp):
  * the text is tokenized with the model's own tokenizer (BOS added when the model asks for it;
    special-token text is not parsed), cut into `--chunks` chunks of `--ctx` tokens; each chunk is
    evaluated from an empty context, its first token replaced by BOS when the model uses BOS;
  * for every matrix multiplication by a weight whose name starts with `blk.` (and `output.weight`
    with --process-output), over batches of at least 16 rows: per input column, the sum of the squared
    input activations (`in_sum2`), and the number of rows seen (`counts`);
  * written as llama.cpp's GGUF imatrix: `general.type = "imatrix"`, `imatrix.datasets`,
    `imatrix.chunk_count`, `imatrix.chunk_size`, tensors `<weight>.in_sum2` and `<weight>.counts`,
    sorted by name. llama-quantize, `dgkernels quantize --imatrix` and gguf-py read it.
Sums are accumulated in float64 (llama.cpp: float32, token by token) and stored as float32.

`--self N` needs no data: the model first writes ceil(N/ctx) sequences of ctx tokens from neutral
prompts (nucleus sampling, fixed seed), and the imatrix is computed on them. Trade-off: no dataset to
find or license, and the activations are the model's own typical ones; but the text covers only what
the model likes to write (short, generic, sometimes repetitive; a small model's idea of English), so
domains it rarely produces on its own are under-weighted. Expect it to beat a uniform importance
matrix clearly and to come close to, but usually not match, a real text of the target domain.
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["ImatrixCollector", "compute_imatrix", "write_imatrix_gguf", "text_chunks", "cli_main"]

MIN_ROWS = 16  # llama-imatrix ignores matrix products over fewer rows (tokens) than this


class ImatrixCollector:
    """Observer for `Model.matmul`: per weight, the column sums of squared inputs and the row count."""

    def __init__(self, *, process_output: bool = False):
        self.process_output = process_output
        self.sums: dict[str, np.ndarray] = {}
        self.counts: dict[str, int] = {}

    def wants(self, name: str) -> bool:
        return name.startswith("blk.") or (self.process_output and name == "output.weight")

    def __call__(self, name: str, x: np.ndarray) -> None:
        if not self.wants(name) or x.shape[0] < MIN_ROWS:
            return
        sq = np.einsum("ij,ij->j", x, x, dtype=np.float64)
        acc = self.sums.get(name)
        if acc is None:
            self.sums[name] = sq
            self.counts[name] = int(x.shape[0])
        else:
            if acc.shape != sq.shape:
                raise ValueError(f"{name}: input width changed from {acc.shape[0]} to {sq.shape[0]}")
            acc += sq
            self.counts[name] += int(x.shape[0])


# -- GGUF imatrix writer -------------------------------------------------------------------------------------

_GGUF_U32, _GGUF_STRING, _GGUF_ARRAY = 4, 8, 9
_ALIGN = 32


def _gguf_str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def write_imatrix_gguf(path, sums: dict, counts: dict, *, datasets, chunk_count: int, chunk_size: int) -> Path:
    """Write llama.cpp's GGUF imatrix file: one `<name>.in_sum2` (float32, one per input column) and one
    `<name>.counts` (float32, the number of rows) per weight, names sorted. Returns the path."""
    path = Path(path)
    kv = [
        ("general.type", _GGUF_STRING, _gguf_str("imatrix")),
        ("imatrix.datasets", _GGUF_ARRAY,
         struct.pack("<IQ", _GGUF_STRING, len(datasets)) + b"".join(_gguf_str(str(d)) for d in datasets)),
        ("imatrix.chunk_count", _GGUF_U32, struct.pack("<I", int(chunk_count))),
        ("imatrix.chunk_size", _GGUF_U32, struct.pack("<I", int(chunk_size))),
    ]
    tensors = []
    for name in sorted(sums):
        s2 = np.ascontiguousarray(np.asarray(sums[name], dtype=np.float32).reshape(-1))
        tensors.append((f"{name}.in_sum2", s2))
        tensors.append((f"{name}.counts", np.array([counts[name]], dtype=np.float32)))
    head = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for key, vtype, payload in kv:
        head += _gguf_str(key) + struct.pack("<I", vtype) + payload
    offset = 0
    for name, arr in tensors:
        # 1-D: ggml writes only the dimensions up to the last one above 1 (a dense weight has one matrix)
        head += _gguf_str(name) + struct.pack("<IQIQ", 1, arr.size, 0, offset)  # type 0 = F32
        offset += -(-arr.nbytes // _ALIGN) * _ALIGN
    head += b"\0" * (-len(head) % _ALIGN)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(head)
        for _, arr in tensors:
            f.write(arr.tobytes())
            f.write(b"\0" * (-arr.nbytes % _ALIGN))
    os.replace(tmp, path)
    return path


# -- chunks ---------------------------------------------------------------------------------------------------

def text_chunks(tokens, ctx: int, chunks: int | None, bos_id: int | None) -> list[np.ndarray]:
    """llama-imatrix's chunks: consecutive runs of `ctx` tokens (the tail that does not fill one is
    dropped), at most `chunks` of them, the first token of each replaced by BOS when bos_id is given."""
    tokens = np.asarray(tokens, dtype=np.int64)
    n = len(tokens) // ctx
    if chunks is not None and chunks >= 0:
        n = min(n, chunks)
    out = []
    for i in range(n):
        c = tokens[i * ctx:(i + 1) * ctx].copy()
        if bos_id is not None:
            c[0] = bos_id
        out.append(c)
    return out


def _rss_mib() -> float:
    """Peak resident memory of this process, MiB (Linux/macOS; 0 where unknown)."""
    try:
        import resource
        r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024
    except Exception:  # pragma: no cover
        return 0.0


def compute_imatrix(model_path, *, text=None, self_tokens=None, chunks=None, ctx=512, out_path,
                    progress=True, seed=0, process_output=False, numerics="llama.cpp", model=None) -> Path:
    """Compute an importance matrix for the GGUF model at `model_path` and write it to `out_path`.

    text: path of a UTF-8 text file (calibration data), or
    self_tokens: N, for data-free calibration on ceil(N/ctx) chunks the model writes itself (seeded).
    chunks: at most this many chunks (default: all). ctx: tokens per chunk (llama-imatrix's -c).
    numerics: "llama.cpp" (default) rounds activations as llama.cpp's CPU backend does, so the
    activations are llama-imatrix's; "fp32" keeps them in float32.
    model: an already loaded `dgkernels.forward.Model` of the same file, to skip decoding it again.
    Returns the output path.
    """
    from .forward.model import Model, _progress
    from .forward.tokenizer import Tokenizer

    if (text is None) == (self_tokens is None):
        raise ValueError("give exactly one of text (a calibration file) or self_tokens (data-free calibration)")
    if isinstance(ctx, bool) or not isinstance(ctx, int) or ctx < MIN_ROWS:
        raise ValueError(f"ctx must be an int >= {MIN_ROWS} (llama-imatrix ignores shorter batches), got {ctx!r}")
    if chunks is not None and (isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1):
        raise ValueError(f"chunks must be a positive int or None, got {chunks!r}")
    t0 = time.perf_counter()
    m = model if model is not None else Model(model_path, numerics=numerics, progress=progress)
    tok = Tokenizer.from_gguf(m.file)
    bos = tok.bos_id if tok.add_bos else None
    if text is not None:
        data = Path(text).read_text(encoding="utf-8")
        ids = tok.encode(data, add_special=True, parse_special=False)
        if len(ids) < ctx:
            raise ValueError(f"{text} tokenizes to {len(ids)} tokens, fewer than one chunk of {ctx}")
        work = text_chunks(ids, ctx, chunks, bos)
        datasets = [str(text)]
    else:
        if isinstance(self_tokens, bool) or not isinstance(self_tokens, int) or self_tokens < 1:
            raise ValueError(f"self_tokens must be a positive int, got {self_tokens!r}")
        from .forward.generate import generate_chunks
        n_tok = self_tokens if chunks is None else min(self_tokens, chunks * ctx)
        work = generate_chunks(m, tok, n_tok, ctx, seed=seed, progress=progress)
        datasets = [f"self-generated:{Path(model_path).name}:tokens={len(work) * ctx}:seed={seed}"]
    collector = ImatrixCollector(process_output=process_output)
    m.observer = collector
    try:
        it = _progress(work, desc="imatrix", unit="chunk") if progress else work
        for c in it:
            m.forward(c, logits="all" if process_output else None)
    finally:
        m.observer = None
    if not collector.sums:
        raise RuntimeError("no matrix products were collected (no weights named blk.*?)")
    out = write_imatrix_gguf(out_path, collector.sums, collector.counts, datasets=datasets,
                             chunk_count=max(collector.counts.values()) // ctx, chunk_size=ctx)
    if progress:
        print(f"imatrix: {len(collector.sums)} weights, {len(work)} chunks of {ctx} tokens -> {out} "
              f"({time.perf_counter() - t0:.1f} s, peak RSS {_rss_mib():.0f} MiB)", file=sys.stderr)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dgkernels imatrix",
        description="Compute an importance matrix (llama.cpp's GGUF imatrix format) with dgkernels' numpy "
                    "forward pass: no llama.cpp needed.")
    p.add_argument("model", help="model GGUF file (llama, qwen2, qwen3, gemma3 architectures)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", "-f", metavar="FILE", help="calibration text (UTF-8)")
    src.add_argument("--self", dest="self_tokens", metavar="N_TOKENS", type=int,
                     help="data-free: the model writes N tokens of its own text (seeded sampling) and "
                          "the imatrix is computed on them")
    p.add_argument("-o", "--output", required=True, metavar="IMATRIX.gguf", help="output file")
    p.add_argument("--chunks", type=int, default=None, help="process at most N chunks (default: all)")
    p.add_argument("--ctx", "-c", type=int, default=512, help="tokens per chunk (default 512)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed for --self (default 0)")
    p.add_argument("--process-output", action="store_true", help="also collect output.weight (as llama-imatrix)")
    p.add_argument("--numerics", choices=("llama.cpp", "fp32"), default="llama.cpp",
                   help="round activations as llama.cpp's CPU backend (default) or keep float32")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def cli_main(argv=None) -> int:
    """Entry point for `dgkernels imatrix ...`; returns the exit status."""
    args = _parser().parse_args(argv)
    from .forward.model import UnsupportedModelError
    try:
        compute_imatrix(args.model, text=args.text, self_tokens=args.self_tokens, chunks=args.chunks,
                        ctx=args.ctx, out_path=args.output, progress=not args.no_progress, seed=args.seed,
                        process_output=args.process_output, numerics=args.numerics)
    except (UnsupportedModelError, ValueError, FileNotFoundError) as e:
        print(f"dgkernels imatrix: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli_main())
