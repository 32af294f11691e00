"""Perplexity and KL-divergence of quantized models against their base, with llama-cpp-python (extra `eval`).

As llama.cpp's `llama-perplexity --kl-divergence`: the text is tokenized once (with BOS when the model
adds one), cut into chunks of n_ctx tokens whose first token becomes BOS, each chunk is evaluated from an
empty cache, and only the second half of each chunk is scored: logits at position j predict token j+1
for n_ctx/2 <= j < n_ctx-1. KLD is the mean over scored positions of KL(P_base || P_quant).
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import numpy as np


def _llama():
    try:
        import llama_cpp
    except ImportError:
        raise ImportError("eval needs llama-cpp-python: pip install 'dgkernels[eval]'") from None
    return llama_cpp


def load_model(path, n_ctx: int = 512, threads=None):
    llama_cpp = _llama()
    from .gguf_io import open_gguf
    open_gguf(path)  # one clear error for a missing or non-GGUF file before llama.cpp sees it
    return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, logits_all=True,
                           verbose=False, n_threads=threads, n_threads_batch=threads)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z -= z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def chunk_logprobs(llm, tokens: list[int]) -> np.ndarray:
    """Log-probabilities at every position of one chunk (fresh cache)."""
    llm.reset()
    llm.eval(tokens)
    return _log_softmax(np.asarray(llm.scores[:len(tokens)]))


def evaluate(base_path, quant_paths, *, text_path=None, chunks: int | None = None, n_ctx: int = 512,
             threads=None, progress: bool = False) -> dict:
    if text_path is None:
        raise ValueError("eval needs --text FILE (UTF-8 text to score, e.g. a novel from Project Gutenberg)")
    p = Path(text_path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such text file")
    if n_ctx < 4:
        raise ValueError("--ctx must be at least 4")
    text = p.read_text(encoding="utf-8", errors="replace")
    base = load_model(base_path, n_ctx, threads)
    quants = [load_model(q, n_ctx, threads) for q in quant_paths]
    if any(q.n_vocab() != base.n_vocab() for q in quants):
        raise ValueError("the models have different vocabularies; KL-divergence needs the same tokenizer")
    tokens = base.tokenize(text.encode("utf-8"), add_bos=True, special=False)
    n_chunk = len(tokens) // n_ctx
    if chunks is not None:
        n_chunk = min(n_chunk, chunks)
    if n_chunk < 1:
        raise ValueError(f"the text has {len(tokens)} tokens, fewer than one chunk of {n_ctx}")
    add_bos = base.tokenize(b"", add_bos=True, special=False)[:1] == [base.token_bos()]
    first = n_ctx // 2
    nll_base = []
    stats = [{"nll": [], "kld": [], "top1": []} for _ in quants]
    t0 = time.perf_counter()
    for c in range(n_chunk):
        toks = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        if add_bos:
            toks[0] = base.token_bos()
        target = np.array(toks[first + 1:], dtype=np.int64)
        lp_b = chunk_logprobs(base, toks)[first:n_ctx - 1]
        nll_base.append(-lp_b[np.arange(target.size), target])
        p_b = np.exp(lp_b)
        for q, st in zip(quants, stats):
            lp_q = chunk_logprobs(q, toks)[first:n_ctx - 1]
            st["nll"].append(-lp_q[np.arange(target.size), target])
            st["kld"].append((p_b * (lp_b - lp_q)).sum(axis=-1))
            st["top1"].append(lp_b.argmax(axis=-1) == lp_q.argmax(axis=-1))
        if progress and sys.stderr.isatty():
            el = time.perf_counter() - t0
            sys.stderr.write(f"\reval: chunk {c + 1}/{n_chunk}, {el:.0f} s, ETA {el / (c + 1) * (n_chunk - c - 1):.0f} s ")
            sys.stderr.flush()
    if progress and sys.stderr.isatty():
        sys.stderr.write("\n")
    nb = np.concatenate(nll_base)
    out = {"base": str(base_path), "base_ppl": float(math.exp(nb.mean())), "text": str(p), "n_ctx": n_ctx,
           "chunks": n_chunk, "tokens_scored": int(nb.size), "results": []}
    for path, st in zip(quant_paths, stats):
        nll = np.concatenate(st["nll"])
        kld = np.concatenate(st["kld"])
        out["results"].append({
            "model": str(path), "file_bytes": os.path.getsize(path),
            "ppl": float(math.exp(nll.mean())),
            "ppl_ratio": float(math.exp(nll.mean() - nb.mean())),
            "kld": float(kld.mean()), "kld_stderr": float(kld.std(ddof=1) / math.sqrt(kld.size)) if kld.size > 1 else 0.0,
            "top1_agreement": float(np.concatenate(st["top1"]).mean()),
        })
    return out


def format_results(res: dict) -> str:
    lines = [f"text {res['text']}: {res['chunks']} chunks of {res['n_ctx']} tokens, {res['tokens_scored']} scored",
             f"base {res['base']}: PPL {res['base_ppl']:.4f}",
             f"{'model':<40} {'MiB':>8} {'PPL':>9} {'PPL ratio':>9} {'mean KLD':>16} {'same top-1':>10}"]
    for r in res["results"]:
        lines.append(f"{Path(r['model']).name:<40} {r['file_bytes'] / 2**20:8.2f} {r['ppl']:9.4f} {r['ppl_ratio']:9.4f} "
                     f"{r['kld']:9.5f}±{r['kld_stderr']:.5f} {r['top1_agreement']:10.2%}")
    return "\n".join(lines)
