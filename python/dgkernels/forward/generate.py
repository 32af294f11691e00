"""Data-free calibration text: the model writes its own, from a few neutral prompts.

Sequences advance in lockstep (one position per step for the whole batch) over a shared KV cache;
a sequence copies its prompt tokens while it is still inside the prompt, then samples. Control
tokens (end-of-text, chat markers) are never sampled, so every sequence fills the whole context.
"""
from __future__ import annotations

import numpy as np

from .model import KVCache, Model, _progress
from .tokenizer import Tokenizer

# Varied, neutral openings: prose, dialogue, exposition, lists, letters, technical writing.
NEUTRAL_PROMPTS = (
    "The", "Once upon a time", "In this article, we", "Chapter 1\n\n", "Dear Sir,\n\n",
    "Here is a short summary of", "The history of", "Q: What is", "It was a", "Introduction\n\n",
    "I remember when", "There are many ways to", "Yesterday", "The following", "How to", "Note:",
)


def sample_next(logits: np.ndarray, rng: np.random.Generator, temperature: float, top_p: float,
                banned: np.ndarray | None) -> np.ndarray:
    """One token per row of `logits` (B, V): temperature, then nucleus (top-p) sampling."""
    z = logits.astype(np.float64)
    if banned is not None and banned.size:
        z[:, banned] = -np.inf
    if temperature <= 0:
        return z.argmax(axis=-1)
    z = z / temperature
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    out = np.empty(len(p), np.int64)
    for i, row in enumerate(p):
        order = np.argsort(-row, kind="stable")
        cum = np.cumsum(row[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        q = row[keep] / row[keep].sum()
        out[i] = keep[rng.choice(len(keep), p=q)]
    return out


def generate_chunks(model: Model, tokenizer: Tokenizer, n_tokens: int, ctx: int, *, seed: int = 0,
                    temperature: float = 1.0, top_p: float = 0.95, batch: int = 8, prompts=NEUTRAL_PROMPTS,
                    progress: bool = False) -> list[np.ndarray]:
    """ceil(n_tokens / ctx) sequences of exactly `ctx` tokens written by the model (BOS first when the
    model adds one). Deterministic for a given seed."""
    if n_tokens < 1 or ctx < 2:
        raise ValueError("n_tokens must be >= 1 and ctx >= 2")
    n_seq = -(-n_tokens // ctx)
    rng = np.random.default_rng(seed)
    banned = np.array(sorted(set(tokenizer.control_ids()) | ({tokenizer.bos_id} - {None})
                             | ({tokenizer.eos_id} - {None})), dtype=np.int64)
    banned = banned[banned < model.hp.n_vocab]
    seqs: list[np.ndarray] = []
    bar = _progress(range(n_seq * ctx), desc="self-generating", unit="tok") if progress else None
    for start in range(0, n_seq, batch):
        b = min(batch, n_seq - start)
        heads = []
        for i in range(b):
            ids = tokenizer.encode(prompts[(start + i) % len(prompts)], add_special=True)
            heads.append(ids[: ctx - 1] if ids else [0])
        toks = np.zeros((b, ctx), np.int64)
        for i, h in enumerate(heads):
            toks[i, : len(h)] = h
        cache = KVCache.empty(model.hp, b, ctx)
        for t in range(ctx - 1):
            logits = model.forward(toks[:, t:t + 1], cache=cache, logits="last")
            nxt = sample_next(logits, rng, temperature, top_p, banned)
            for i, h in enumerate(heads):
                if t + 1 >= len(h):  # past the prompt: keep the sample
                    toks[i, t + 1] = nxt[i]
            if bar is not None:
                bar.update(b)
        if bar is not None:
            bar.update(b)
        seqs.extend(toks)
    if bar is not None:
        bar.close()
    return seqs
