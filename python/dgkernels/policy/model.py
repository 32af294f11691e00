"""What a policy sees of a model: architecture numbers and one `TensorSpec` per tensor.

Built from a GGUF file (`dgkernels.gguf_io.model_spec`) or synthetically (`llama_layout`) so that
plans can be made and tested without any weights.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_LAYER = re.compile(r"^blk\.(\d+)\.")

# Broad roles of a tensor, tested in this order on the name (llama.cpp's categories; the first hit wins,
# so "attn_qkv" is found before "attn_q" would be).
_CATEGORY_SUBSTRINGS = (
    ("attn_qkv", "attn_qkv.weight"),
    ("attn_kv_b", "attn_kv_b.weight"),
    ("attn_v", "attn_v.weight"),
    ("attn_k", "attn_k.weight"),
    ("attn_q", "attn_q.weight"),
    ("attn_output", "attn_output.weight"),
    ("ffn_up", "ffn_up"),
    ("ffn_gate", "ffn_gate"),
    ("ffn_down", "ffn_down"),
)
CATEGORIES = ("output", "token_embd") + tuple(c for c, _ in _CATEGORY_SUBSTRINGS) + ("other",)


def tensor_category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for cat, sub in _CATEGORY_SUBSTRINGS:
        if sub in name:
            return cat
    return "other"


def layer_of(name: str) -> int | None:
    """The block number in "blk.N.…", or None for tensors outside the blocks."""
    m = _LAYER.match(name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]      # ggml order: shape[0] is the row length (ne0)
    source_format: str = "F32"  # format of the tensor in the source file

    @property
    def n_weights(self) -> int:
        n = 1
        for d in self.shape:
            n *= int(d)
        return n

    @property
    def row_length(self) -> int:
        return int(self.shape[0])

    @property
    def n_dims(self) -> int:
        """ggml_n_dims: trailing dimensions of size 1 do not count."""
        n = len(self.shape)
        while n > 1 and self.shape[n - 1] == 1:
            n -= 1
        return max(n, 1)

    @property
    def category(self) -> str:
        return tensor_category(self.name)

    @property
    def layer(self) -> int | None:
        return layer_of(self.name)


@dataclass
class ModelSpec:
    arch: str
    n_layer: int
    n_head: int
    n_head_kv: int
    tensors: list[TensorSpec]
    n_expert: int = 0
    name: str = ""
    _by_name: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self._by_name = {t.name: t for t in self.tensors}
        if len(self._by_name) != len(self.tensors):
            raise ValueError("duplicate tensor names in the model description")

    @property
    def n_gqa(self) -> int:
        """Query heads per key/value head, as an integer (0 when the model has no kv heads)."""
        return self.n_head // self.n_head_kv if self.n_head_kv else 0

    @property
    def tied_embeddings(self) -> bool:
        """No output.weight: the token embeddings double as the output projection."""
        return "output.weight" not in self._by_name

    @property
    def is_70b(self) -> bool:
        # llama.cpp's LLM_TYPE_70B: only this one size class changes a choice (attn_v)
        return self.arch == "llama" and self.n_layer == 80 and self.n_head != self.n_head_kv

    @property
    def n_weights(self) -> int:
        return sum(t.n_weights for t in self.tensors)

    def tensor(self, name: str) -> TensorSpec:
        return self._by_name[name]

    def ordered(self) -> list[TensorSpec]:
        """Tensors in llama.cpp's processing order: by block number (non-block tensors first), then name.

        Rules that count tensors of a kind ("the first two attn_v") count in this order.
        """
        def key(t):
            lay = t.layer
            return (-1 if lay is None else lay, t.name.encode())
        return sorted(self.tensors, key=key)


def llama_layout(n_layer: int = 32, n_embd: int = 4096, n_ff: int = 14336, n_head: int = 32, n_head_kv: int = 8,
                 n_vocab: int = 128256, tied: bool = False, source_format: str = "F16", arch: str = "llama",
                 name: str = "synthetic") -> ModelSpec:
    """The tensor layout of a Llama-style model (defaults: Llama-3-8B), without weights."""
    head_dim = n_embd // n_head
    kv = head_dim * n_head_kv
    ts = [TensorSpec("token_embd.weight", (n_embd, n_vocab), source_format)]
    if not tied:
        ts.append(TensorSpec("output.weight", (n_embd, n_vocab), source_format))
    ts.append(TensorSpec("output_norm.weight", (n_embd,), "F32"))
    for i in range(n_layer):
        p = f"blk.{i}."
        ts += [
            TensorSpec(p + "attn_norm.weight", (n_embd,), "F32"),
            TensorSpec(p + "attn_q.weight", (n_embd, n_embd), source_format),
            TensorSpec(p + "attn_k.weight", (n_embd, kv), source_format),
            TensorSpec(p + "attn_v.weight", (n_embd, kv), source_format),
            TensorSpec(p + "attn_output.weight", (n_embd, n_embd), source_format),
            TensorSpec(p + "ffn_norm.weight", (n_embd,), "F32"),
            TensorSpec(p + "ffn_gate.weight", (n_embd, n_ff), source_format),
            TensorSpec(p + "ffn_up.weight", (n_embd, n_ff), source_format),
            TensorSpec(p + "ffn_down.weight", (n_ff, n_embd), source_format),
        ]
    return ModelSpec(arch=arch, n_layer=n_layer, n_head=n_head, n_head_kv=n_head_kv, tensors=ts, name=name)
