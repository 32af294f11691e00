"""A plan: one format per tensor with the reason for it, its size, and the totals.

Plans print as a table, serialise to JSON, and export as llama-quantize arguments.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..formats import format_info
from .model import ModelSpec, TensorSpec

GGUF_ALIGNMENT = 32


def tensor_bytes(t: TensorSpec, fmt: str) -> int:
    """Stored size of `t` in `fmt` (row length must fit the format's block); ggml types dgkernels does not
    encode (I32, F64, ...) are sized from gguf's table."""
    try:
        f = format_info(fmt)
    except ValueError:
        import gguf
        block, size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType[fmt]]
        return t.n_weights // block * size
    return f.row_bytes(t.row_length) * (t.n_weights // t.row_length)


@dataclass
class Fallback:
    wanted: str          # the format the mix asked for
    used: str            # what the row length allows
    extra_bytes: int     # size cost: bytes(used) - bytes the wanted format would have taken


@dataclass
class TensorChoice:
    name: str
    shape: tuple
    source_format: str
    format: str
    reason: str
    n_weights: int
    bytes: int
    fallback: Fallback | None = None
    quantizable: bool = True               # False: llama.cpp never quantizes it (norms, 1-D, ...)
    predicted_error: float | None = None   # budget policy: importance-weighted relative error

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.bytes / self.n_weights if self.n_weights else 0.0

    @property
    def layer(self):
        from .model import layer_of
        return layer_of(self.name)


@dataclass
class Plan:
    policy: str
    target: str
    ftype: int                  # general.file_type to write
    model: ModelSpec
    tensors: list[TensorChoice]
    notes: list[str] = field(default_factory=list)
    budget: dict | None = None  # budget policy: the budget, prediction and solver report
    token_embedding_type: str | None = None
    output_tensor_type: str | None = None

    # ---- totals -------------------------------------------------------------------------------
    @property
    def total_bytes(self) -> int:
        return sum(c.bytes for c in self.tensors)

    @property
    def total_weights(self) -> int:
        return sum(c.n_weights for c in self.tensors)

    @property
    def bits_per_weight(self) -> float:
        """As llama.cpp reports it: all tensor bytes over all weights (norms included)."""
        return 8.0 * self.total_bytes / self.total_weights if self.total_weights else 0.0

    @property
    def fallbacks(self) -> list[TensorChoice]:
        return [c for c in self.tensors if c.fallback is not None]

    def choice(self, name: str) -> TensorChoice:
        for c in self.tensors:
            if c.name == name:
                return c
        raise KeyError(name)

    def formats(self) -> dict[str, str]:
        return {c.name: c.format for c in self.tensors}

    def needs_imatrix(self) -> list[TensorChoice]:
        """Tensors whose format the kernels cannot encode without an importance matrix."""
        return [c for c in self.tensors if c.format != c.source_format and format_info(c.format).requires_imatrix]

    def totals(self) -> dict:
        by_format: dict[str, dict] = {}
        for c in self.tensors:
            e = by_format.setdefault(c.format, {"tensors": 0, "weights": 0, "bytes": 0})
            e["tensors"] += 1
            e["weights"] += c.n_weights
            e["bytes"] += c.bytes
        fb = self.fallbacks
        return {
            "tensors": len(self.tensors),
            "weights": self.total_weights,
            "bytes": self.total_bytes,
            "bits_per_weight": round(self.bits_per_weight, 4),
            "fallbacks": len(fb),
            "fallback_extra_bytes": sum(c.fallback.extra_bytes for c in fb),
            "by_format": dict(sorted(by_format.items())),
        }

    # ---- exports ------------------------------------------------------------------------------
    def to_json(self) -> dict:
        out = {
            "policy": self.policy,
            "target": self.target,
            "file_type": self.ftype,
            "model": {"name": self.model.name, "arch": self.model.arch, "n_layer": self.model.n_layer,
                      "n_head": self.model.n_head, "n_head_kv": self.model.n_head_kv,
                      "n_expert": self.model.n_expert, "tied_embeddings": self.model.tied_embeddings},
            "tensors": [],
            "totals": self.totals(),
            "notes": list(self.notes),
            "llama_quantize_args": self.llama_quantize_args(),
        }
        for c in self.tensors:
            d = {"name": c.name, "format": c.format, "source_format": c.source_format, "shape": list(c.shape),
                 "weights": c.n_weights, "bytes": c.bytes, "bits_per_weight": round(c.bits_per_weight, 4),
                 "reason": c.reason}
            if c.fallback is not None:
                d["fallback"] = asdict(c.fallback)
            if c.predicted_error is not None:
                d["predicted_error"] = c.predicted_error
            out["tensors"].append(d)
        if self.budget is not None:
            out["budget"] = self.budget
        return out

    def llama_quantize_args(self) -> list[str]:
        """Arguments that make llama-quantize produce this plan's formats:
        `llama-quantize [these] IN.gguf OUT.gguf TYPE`, TYPE being the plan's target.

        Every quantized tensor is named (anchored, escaped regex), grouped by format and tensor kind so the
        list stays short; the embeddings and output use their dedicated options."""
        args: list[str] = []
        groups: dict[tuple[str, str], list[int]] = {}
        singles: list[tuple[str, str]] = []
        for c in self.tensors:
            if not c.quantizable:
                continue  # llama-quantize keeps these as they are too
            if c.name == "token_embd.weight":
                args += ["--token-embedding-type", c.format.lower()]
                continue
            if c.name == "output.weight":
                args += ["--output-tensor-type", c.format.lower()]
                continue
            m = re.match(r"^blk\.(\d+)\.(.+)$", c.name)
            if m:
                groups.setdefault((m.group(2), c.format), []).append(int(m.group(1)))
            else:
                singles.append((c.name, c.format))
        for (rest, fmt), layers in groups.items():
            alt = "|".join(str(i) for i in sorted(layers))
            if sorted(layers) == list(range(self.model.n_layer)):
                layer_re = r"\d+"
            else:
                layer_re = alt if len(layers) == 1 else f"({alt})"
            args += ["--tensor-type", f"^blk\\.{layer_re}\\.{re.escape(rest)}$={fmt.lower()}"]
        for name, fmt in singles:
            args += ["--tensor-type", f"^{re.escape(name)}$={fmt.lower()}"]
        return args

    # ---- text ---------------------------------------------------------------------------------
    def table(self, per_tensor: bool = True) -> str:
        lines = [f"plan: policy {self.policy}, target {self.target} (general.file_type {self.ftype}), "
                 f"model {self.model.name or self.model.arch} ({self.model.n_layer} layers, GQA {self.model.n_gqa}"
                 f"{', tied embeddings' if self.model.tied_embeddings else ''})"]
        if per_tensor:
            w = max(len(c.name) for c in self.tensors) if self.tensors else 10
            lines.append(f"{'tensor':<{w}}  {'source':>7}  {'format':>7}  {'bpw':>6}  {'bytes':>12}  reason")
            for c in self.tensors:
                fb = f"  [fallback from {c.fallback.wanted}, +{c.fallback.extra_bytes} B]" if c.fallback else ""
                err = f"  err {c.predicted_error:.3g}" if c.predicted_error is not None else ""
                lines.append(f"{c.name:<{w}}  {c.source_format:>7}  {c.format:>7}  {c.bits_per_weight:6.3f}  "
                             f"{c.bytes:12,d}  {c.reason}{fb}{err}")
        lines.append("per layer:")
        layers: dict = {}
        for c in self.tensors:
            key = c.layer if c.layer is not None else -1
            e = layers.setdefault(key, {"w": 0, "b": 0, "f": {}})
            e["w"] += c.n_weights
            e["b"] += c.bytes
            if c.quantizable:
                e["f"][c.format] = e["f"].get(c.format, 0) + 1
        for key in sorted(layers):
            e = layers[key]
            label = "non-block" if key < 0 else f"blk.{key}"
            fm = ", ".join(f"{k}x{v}" for k, v in sorted(e["f"].items()))
            lines.append(f"  {label:<10} {8 * e['b'] / e['w']:6.3f} bpw  {e['b']:12,d} B  {fm}")
        t = self.totals()
        lines.append(f"total: {t['tensors']} tensors, {t['weights']:,d} weights, {t['bytes']:,d} bytes "
                     f"({t['bytes'] / 2**20:.2f} MiB), {t['bits_per_weight']:.4f} bits/weight")
        lines.append("formats: " + ", ".join(f"{k} {v['tensors']} tensors {v['bytes']:,d} B"
                                             for k, v in t["by_format"].items()))
        if t["fallbacks"]:
            lines.append(f"fallbacks: {t['fallbacks']} tensors (row length not a multiple of the block), "
                         f"costing {t['fallback_extra_bytes']:+,d} bytes")
            pairs: dict = {}
            for c in self.fallbacks:
                k = (c.fallback.wanted, c.fallback.used)
                n, b = pairs.get(k, (0, 0))
                pairs[k] = (n + 1, b + c.fallback.extra_bytes)
            for (a, b_), (n, cost) in sorted(pairs.items()):
                lines.append(f"  {a} -> {b_}: {n} tensors, {cost:+,d} bytes")
        if self.budget:
            b = self.budget
            lines.append(f"budget: {b['budget_bytes']:,d} bytes for quantized tensors, used {b['used_bytes']:,d}; "
                         f"predicted error {b['predicted_error']:.6g} (lower bound {b['lower_bound']:.6g}, "
                         f"{'optimal' if b['optimal'] else 'not proven optimal'})")
        for n in self.notes:
            lines.append(f"note: {n}")
        return "\n".join(lines)
