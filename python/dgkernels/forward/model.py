"""A numpy forward pass for Llama-family decoder-only transformers stored in GGUF files.

Covers what llama.cpp builds for `llama` (SmolLM, Llama 2/3), `qwen2`, `qwen3` and `gemma3`:
RMSNorm, rotary position embeddings, grouped-query causal attention, gated FFN. Weights are decoded
once to float32 with dgkernels' own kernels (memory = the model's decoded size). By default the
activations are rounded where llama.cpp's CPU backend rounds them (llamacpp_numerics.py), so the
logits agree with llama.cpp's; numerics="fp32" keeps them in float32 throughout.

Every matrix multiplication by a model weight goes through `Model.matmul`, which hands its input to
an optional observer: that is how the importance-matrix collector sees what llama-imatrix sees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import llamacpp_numerics as lcpp
from .gguf_file import GGUFFile

SUPPORTED_ARCHS = ("llama", "qwen2", "qwen3", "gemma3")
NUMERICS = ("llama.cpp", "fp32")


class UnsupportedModelError(ValueError):
    pass


@dataclass
class HParams:
    arch: str
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_rot: int
    n_ff: int
    n_vocab: int
    eps: float
    rope_base: float
    rope_freq_scale: float
    rope_neox: bool            # rotate (i, i + n_rot/2) pairs instead of adjacent (2i, 2i+1) pairs
    kq_scale: float
    q_scale: float = 1.0       # gemma3 scales Q before attention instead of the scores
    embd_scale: float = 1.0    # gemma3 multiplies embeddings by sqrt(n_embd)
    gelu: bool = False         # gemma3 FFN activation; SiLU otherwise
    post_norms: bool = False   # gemma3: RMSNorm after attention and after the FFN
    swa_window: int = 0        # gemma3 sliding window (0: none)
    swa_layers: tuple = ()
    swa_rope_base: float = 10000.0
    context_length: int = 0


def _hparams(g: GGUFFile) -> HParams:
    arch = g.get("general.architecture")
    if arch not in SUPPORTED_ARCHS:
        raise UnsupportedModelError(
            f"architecture {arch!r} is not supported by dgkernels' forward pass "
            f"(supported: {', '.join(SUPPORTED_ARCHS)})")

    def key(name, default=None, required=False):
        v = g.get(f"{arch}.{name}", default)
        if v is None and required:
            raise UnsupportedModelError(f"{g.path.name}: metadata {arch}.{name} is missing")
        if isinstance(v, np.ndarray):  # per-layer arrays: this code needs them uniform
            if v.size and np.all(v == v.flat[0]):
                return v.flat[0].item()
            raise UnsupportedModelError(f"{arch}.{name} varies per layer; not supported")
        return v

    if key("expert_count", 0):
        raise UnsupportedModelError(f"{arch}: mixture-of-experts models are not supported by the forward pass")
    n_embd = int(key("embedding_length", required=True))
    n_head = int(key("attention.head_count", required=True))
    n_head_kv = int(key("attention.head_count_kv", n_head))
    head_dim = int(key("attention.key_length", n_embd // n_head))
    if int(key("attention.value_length", head_dim)) != head_dim:
        raise UnsupportedModelError(f"{arch}: different key and value head sizes are not supported")
    n_rot = int(key("rope.dimension_count", head_dim))
    scaling = key("rope.scaling.type", "none")
    factor = float(key("rope.scaling.factor", 0.0) or 0.0)
    if scaling not in ("none", "linear") and not (scaling == "yarn" and factor in (0.0, 1.0)):
        raise UnsupportedModelError(f"{arch}: rope scaling {scaling!r} is not supported (none or linear)")
    freq_scale = 1.0 / factor if (scaling == "linear" and factor > 0) else 1.0
    n_layer = int(key("block_count", required=True))
    vocab = g.get("tokenizer.ggml.tokens")
    n_vocab = int(key("vocab_size", len(vocab) if vocab is not None else 0))
    hp = HParams(
        arch=arch, n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_head_kv=n_head_kv, head_dim=head_dim,
        n_rot=n_rot, n_ff=int(key("feed_forward_length", 0)), n_vocab=n_vocab,
        eps=float(key("attention.layer_norm_rms_epsilon", 1e-5)),
        rope_base=float(key("rope.freq_base", 10000.0)), rope_freq_scale=freq_scale,
        rope_neox=arch != "llama", kq_scale=float(key("attention.scale", 0.0) or 0.0) or 1.0 / math.sqrt(head_dim),
        context_length=int(key("context_length", 0)),
    )
    if arch == "gemma3":
        hp.embd_scale = math.sqrt(n_embd)
        hp.gelu = hp.post_norms = True
        hp.kq_scale = 1.0
        # llama.cpp: the 27B model (62 layers) scales by the model width per head, the others by head size
        hp.q_scale = 1.0 / math.sqrt(n_embd // n_head if n_layer == 62 else head_dim)
        hp.swa_window = int(key("attention.sliding_window", 0))
        pattern = g.get(f"{arch}.attention.sliding_window_pattern", 6)
        if isinstance(pattern, np.ndarray):  # per-layer flags
            if pattern.size != n_layer:
                raise UnsupportedModelError(f"{arch}: sliding_window_pattern has {pattern.size} entries, "
                                            f"{n_layer} layers")
            hp.swa_layers = tuple(bool(b) for b in pattern)
        else:  # period n: the last layer of every n attends globally (llama.cpp's set_swa_pattern)
            n = int(pattern)
            hp.swa_layers = tuple(n == 0 or il % n < n - 1 for il in range(n_layer))
        hp.swa_rope_base = float(g.get(f"{arch}.rope.freq_base_swa", 10000.0))
    if hp.n_rot > head_dim or hp.n_rot % 2:
        raise UnsupportedModelError(f"{arch}: rope dimension {hp.n_rot} does not fit head size {head_dim}")
    return hp


@dataclass
class KVCache:
    """Keys/values of past positions for a batch of sequences advancing in lockstep."""
    k: list = field(default_factory=list)  # per layer: (B, n_head_kv, capacity, head_dim)
    v: list = field(default_factory=list)
    n: int = 0                             # positions filled

    @classmethod
    def empty(cls, hp: HParams, batch: int, capacity: int) -> "KVCache":
        shape = (batch, hp.n_head_kv, capacity, hp.head_dim)
        return cls([np.zeros(shape, np.float32) for _ in range(hp.n_layer)],
                   [np.zeros(shape, np.float32) for _ in range(hp.n_layer)], 0)


class Model:
    """A GGUF model decoded to float32, with `forward(tokens)` -> logits."""

    def __init__(self, path, *, numerics: str = "llama.cpp", progress: bool = False):
        if numerics not in NUMERICS:
            raise ValueError(f"numerics must be one of {NUMERICS}, got {numerics!r}")
        self.numerics = numerics
        self.file = GGUFFile(path)
        self.hp = _hparams(self.file)
        self.path = self.file.path
        self.observer = None  # callable(weight_name, x2d) or None
        names = [n for n in self.file.tensors]
        self.w: dict[str, np.ndarray] = {}
        it = names
        if progress:
            it = _progress(names, desc="decoding weights", unit="tensor")
        for n in it:
            self.w[n] = self.file.decode(n)
        self._check_tensors()
        # tied embeddings: llama.cpp multiplies by token_embd.weight when output.weight is absent
        self.output_name = "output.weight" if "output.weight" in self.w else "token_embd.weight"
        # what llama.cpp's CPU backend converts each weight's input to before multiplying
        self._act_fmt = {n: lcpp.ACTIVATION_TYPE.get(t.type_id, "Q8_K") for n, t in self.file.tensors.items()}
        self._mins = {}
        for n, t in self.file.tensors.items():
            if len(t.shape) == 2:
                m = lcpp.block_mins(self.file.raw(n), t.type_id, t.shape[1])
                if m is not None:
                    self._mins[n] = m
        rf = self.w.get("rope_freqs.weight")
        self._rope_factors = None if rf is None else rf.reshape(-1).astype(np.float32)
        self._rope_cache: dict = {}
        self._rounded = (None, None, None)  # (key, input, rounded input) of the last matmul

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.w.values())

    # -- building blocks -------------------------------------------------------------------------------------
    def _check_tensors(self):
        need = ["token_embd.weight", "output_norm.weight"]
        for il in range(self.hp.n_layer):
            p = f"blk.{il}."
            need += [p + "attn_norm.weight", p + "attn_output.weight", p + "ffn_up.weight", p + "ffn_down.weight",
                     p + "ffn_gate.weight"]
            if p + "attn_qkv.weight" not in self.w:
                need += [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"]
            if self.hp.arch in ("qwen3", "gemma3"):
                need += [p + "attn_q_norm.weight", p + "attn_k_norm.weight"]
            if self.hp.post_norms:
                need += [p + "post_attention_norm.weight", p + "post_ffw_norm.weight"]
            need.append(p + "ffn_norm.weight")
        missing = [n for n in need if n not in self.w]
        if missing:
            raise UnsupportedModelError(f"{self.path.name} ({self.hp.arch}) lacks tensors the forward pass needs: "
                                        f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")

    def matmul(self, x: np.ndarray, name: str) -> np.ndarray:
        """x @ W.T (+ bias) for the weight `name`; the observer sees x first (llama-imatrix's hook point)."""
        if self.observer is not None:
            self.observer(name, x.reshape(-1, x.shape[-1]))
        ds = None
        if self.numerics == "llama.cpp":
            # Q, K, V (and gate, up) share one input: round it once
            fmt = self._act_fmt.get(name)
            key = (id(x), x.shape, fmt)
            if self._rounded[0] == key and self._rounded[1] is x:
                x, ds = self._rounded[2]
            else:
                x_in = x
                x, ds = lcpp.round_input(x, fmt)
                self._rounded = (key, x_in, (x, ds))
        y = x @ self.w[name].T
        if ds is not None and name in self._mins:
            y += ds @ self._mins[name].T
        b = self.w.get(name[:-len("weight")] + "bias")
        if b is not None:
            y += b
        return y

    def _rms_norm(self, x: np.ndarray, weight_name: str | None) -> np.ndarray:
        # ggml: float squares summed in double, scale = 1/sqrtf(mean + eps) in float
        ms = np.mean(np.square(x), axis=-1, keepdims=True, dtype=np.float64).astype(np.float32)
        y = x * (np.float32(1.0) / np.sqrt(ms + np.float32(self.hp.eps)))
        if weight_name is not None:
            y *= self.w[weight_name]
        return y

    def _rope_tables(self, positions: np.ndarray, base: float, freq_scale: float):
        key = (positions.tobytes(), base, freq_scale)
        hit = self._rope_cache.get(key)
        if hit is not None:
            return hit
        half = self.hp.n_rot // 2
        # ggml: theta starts at the position and is multiplied by base^(-2/n_rot) once per pair, in float
        step = np.float32(base) ** np.float32(-2.0 / self.hp.n_rot)
        t = np.empty((len(positions), half), np.float32)
        t[:, 0] = positions.astype(np.float32)
        t[:, 1:] = step
        theta = np.cumprod(t, axis=1, dtype=np.float32)
        if self._rope_factors is not None:
            theta = theta / self._rope_factors[:half]
        theta = theta * np.float32(freq_scale)
        tables = (np.cos(theta), np.sin(theta))
        if len(self._rope_cache) > 64:
            self._rope_cache.clear()
        self._rope_cache[key] = tables
        return tables

    def _rope(self, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        """x: (B, T, heads, head_dim); cos/sin: (T, n_rot/2). Dimensions past n_rot pass through."""
        n_rot, half = self.hp.n_rot, self.hp.n_rot // 2
        c, s = cos[None, :, None, :], sin[None, :, None, :]
        out = x.copy()
        if self.hp.rope_neox:
            x0, x1 = x[..., :half], x[..., half:n_rot]
            out[..., :half] = x0 * c - x1 * s
            out[..., half:n_rot] = x0 * s + x1 * c
        else:
            x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
            out[..., 0:n_rot:2] = x0 * c - x1 * s
            out[..., 1:n_rot:2] = x0 * s + x1 * c
        return out

    def _qkv(self, x: np.ndarray, p: str):
        hp = self.hp
        dq, dkv = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim
        if p + "attn_qkv.weight" in self.w:
            qkv = self.matmul(x, p + "attn_qkv.weight")
            return qkv[..., :dq], qkv[..., dq:dq + dkv], qkv[..., dq + dkv:]
        return self.matmul(x, p + "attn_q.weight"), self.matmul(x, p + "attn_k.weight"), \
            self.matmul(x, p + "attn_v.weight")

    def _attention(self, il: int, x: np.ndarray, cache: KVCache | None, pos0: int) -> np.ndarray:
        hp = self.hp
        p = f"blk.{il}."
        B, T, _ = x.shape
        q, k, v = self._qkv(x, p)
        q = q.reshape(B, T, hp.n_head, hp.head_dim)
        k = k.reshape(B, T, hp.n_head_kv, hp.head_dim)
        v = v.reshape(B, T, hp.n_head_kv, hp.head_dim)
        if p + "attn_q_norm.weight" in self.w:
            q = self._rms_norm(q, p + "attn_q_norm.weight")
            k = self._rms_norm(k, p + "attn_k_norm.weight")
        swa = bool(hp.swa_layers) and hp.swa_layers[il]
        base, fscale = (hp.swa_rope_base, 1.0) if swa else (hp.rope_base, hp.rope_freq_scale)
        positions = np.arange(pos0, pos0 + T)
        cos, sin = self._rope_tables(positions, base, fscale)
        q = self._rope(q, cos, sin)
        k = self._rope(k, cos, sin)
        if hp.q_scale != 1.0:
            q = q * np.float32(hp.q_scale)
        k = np.ascontiguousarray(k.transpose(0, 2, 1, 3))  # (B, n_kv, T, hd)
        v = np.ascontiguousarray(v.transpose(0, 2, 1, 3))
        half = self.numerics == "llama.cpp"
        if half:  # llama.cpp keeps K and V in an fp16 cache and multiplies Q and the scores as fp16
            q, k, v = lcpp.f16(q), lcpp.f16(k), lcpp.f16(v)
        if cache is not None:
            cache.k[il][:, :, pos0:pos0 + T] = k
            cache.v[il][:, :, pos0:pos0 + T] = v
            k = cache.k[il][:, :, :pos0 + T]
            v = cache.v[il][:, :, :pos0 + T]
        S = k.shape[2]
        # causal mask (and sliding window): key position j is visible from query position i iff j <= i
        qpos = positions[:, None]
        kpos = np.arange(S)[None, :]
        hidden = kpos > qpos
        if swa and hp.swa_window > 0:
            hidden |= (qpos - kpos) >= hp.swa_window
        mask = np.where(hidden, np.float32(-np.inf), np.float32(0.0))
        g = hp.n_head // hp.n_head_kv
        # (B, n_kv, g*T, hd): query head n_kv*i + j uses KV head i, as ggml's broadcast in mul_mat
        qh = np.ascontiguousarray(q.transpose(0, 2, 1, 3)).reshape(B, hp.n_head_kv, g * T, hp.head_dim)
        out = np.empty((B, hp.n_head_kv, g * T, hp.head_dim), np.float32)
        scale = np.float32(hp.kq_scale)
        for b in range(B):
            for h in range(hp.n_head_kv):  # plain 2-D products go to BLAS; one head's scores at a time
                s = (qh[b, h] @ k[b, h].T).reshape(g, T, S)
                s *= scale
                s += mask
                s -= s.max(axis=-1, keepdims=True)
                np.exp(s, out=s)
                s *= (1.0 / s.sum(axis=-1, keepdims=True, dtype=np.float64)).astype(np.float32)
                if half:
                    s = lcpp.f16(s)
                out[b, h] = s.reshape(g * T, S) @ v[b, h]
        attn = out.reshape(B, hp.n_head, T, hp.head_dim).transpose(0, 2, 1, 3).reshape(B, T, -1)
        return self.matmul(attn, p + "attn_output.weight")

    def _ffn(self, p: str, x: np.ndarray) -> np.ndarray:
        gate = self.matmul(x, p + "ffn_gate.weight")
        up = self.matmul(x, p + "ffn_up.weight")
        if self.hp.gelu:
            # tanh approximation, as ggml_gelu
            act = 0.5 * gate * (1.0 + np.tanh(np.float32(math.sqrt(2.0 / math.pi))
                                              * gate * (1.0 + np.float32(0.044715) * gate * gate)))
        else:
            act = gate / (np.float32(1.0) + np.exp(-gate))
        return self.matmul((act * up).astype(np.float32, copy=False), p + "ffn_down.weight")

    # -- the model -----------------------------------------------------------------------------------------
    def embed(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.w["token_embd.weight"].shape[0]):
            raise ValueError(f"token ids must be in [0, {self.w['token_embd.weight'].shape[0]})")
        x = self.w["token_embd.weight"][tokens]
        if self.hp.embd_scale != 1.0:
            x = x * np.float32(self.hp.embd_scale)
        return x

    def forward(self, tokens, *, cache: KVCache | None = None, logits: str | None = "all",
                on_layer=None) -> np.ndarray | None:
        """Run `tokens` ((T,) or (B, T) int ids) after the cache's past positions.

        logits: "all" -> (B, T, n_vocab) [or (T, n_vocab) for 1-D input], "last" -> (B, n_vocab),
        None -> skip the output matmul (collecting an imatrix needs no logits).
        """
        tokens = np.asarray(tokens, dtype=np.int64)
        squeeze = tokens.ndim == 1
        if squeeze:
            tokens = tokens[None]
        B, T = tokens.shape
        pos0 = cache.n if cache is not None else 0
        if cache is not None and pos0 + T > cache.k[0].shape[2]:
            raise ValueError(f"KV cache holds {cache.k[0].shape[2]} positions; {pos0 + T} needed")
        hp = self.hp
        x = self.embed(tokens)
        for il in range(hp.n_layer):
            p = f"blk.{il}."
            h = self._attention(il, self._rms_norm(x, p + "attn_norm.weight"), cache, pos0)
            if hp.post_norms:
                h = self._rms_norm(h, p + "post_attention_norm.weight")
            x = x + h
            h = self._ffn(p, self._rms_norm(x, p + "ffn_norm.weight"))
            if hp.post_norms:
                h = self._rms_norm(h, p + "post_ffw_norm.weight")
            x = x + h
            if on_layer is not None:
                on_layer(il)
        if cache is not None:
            cache.n = pos0 + T
        if logits is None:
            return None
        if logits == "last":
            x = x[:, -1:]
        out = self.matmul(self._rms_norm(x, "output_norm.weight"), self.output_name)
        if logits == "last":
            return out[:, 0]
        return out[0] if squeeze else out


def _progress(iterable, **kw):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return iterable
    return tqdm(iterable, **kw)


def load_model(path, *, numerics: str = "llama.cpp", progress: bool = False) -> Model:
    """Open a GGUF model for the numpy forward pass (raises UnsupportedModelError naming what is missing).

    numerics="llama.cpp" (default) reproduces the roundings of llama.cpp's CPU backend that change
    results measurably: each weight's input converted to that weight's dot-product type (8-bit blocks for
    quantized weights, fp16/bf16 for half-precision ones) and an fp16 KV cache. "fp32" keeps every
    activation in float32 (the model as its weights define it, without llama.cpp's shortcuts).
    """
    return Model(path, numerics=numerics, progress=progress)
