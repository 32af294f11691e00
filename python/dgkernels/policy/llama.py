"""llama.cpp's standard mixes: the same per-tensor formats llama-quantize picks, from rules/llama.json."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ..formats import format_info
from .model import ModelSpec, TensorSpec
from .plan import Fallback, Plan, TensorChoice, tensor_bytes
from .rules import Context, RuleTable


@lru_cache(maxsize=None)
def _table() -> dict:
    raw = json.loads(resources.files("dgkernels").joinpath("rules/llama.json").read_text())
    groups = raw["groups"]
    branches = []
    for i, b in enumerate(raw["branches"]):
        when = dict(b["when"])
        for k in ("category", "target"):
            if k in when:
                v = when[k]
                when[k] = list(groups[v]) if isinstance(v, str) else list(v)
        branches.append({"name": b["name"], "when": when,
                         "rules": RuleTable(b["rules"], groups, f"llama.json branch {b['name']!r}"),
                         "then": RuleTable(b.get("then", []), groups, f"llama.json branch {b['name']!r} then")})
    return {"targets": raw["targets"], "fallback": raw["fallback"], "groups": groups, "branches": branches,
            "never": raw["never_quantize"], "needs_imatrix": raw["needs_imatrix"]}


def targets() -> list[str]:
    """The llama.cpp mix names this policy knows (Q4_K_M, IQ2_XXS, ...)."""
    return list(_table()["targets"])


def target_info(target: str) -> dict:
    t = _table()["targets"]
    key = target.upper()
    if key not in t:
        raise ValueError(f"unknown target {target!r}; known targets: {', '.join(t)}")
    return {"name": key, **t[key]}


def quantizable(t: TensorSpec) -> bool:
    """llama.cpp's tensor_allows_quantization (with output quantization on)."""
    never = _table()["never"]
    if t.n_dims < 2 or not t.name.endswith("weight"):
        return False
    if t.name in never["names"]:
        return False
    return not any(s in t.name for s in never["substrings"])


def kept_format(t: TensorSpec) -> str:
    """Format of a tensor that is not quantized: as stored, except that 1-D tensors (norms, biases) stored
    as F16/BF16 become F32, the type ggml's ops expect for them."""
    return "F32" if t.n_dims == 1 and t.source_format in ("F16", "BF16") else t.source_format


def fallback(t: TensorSpec, fmt: str) -> tuple[str, Fallback | None]:
    """The format llama.cpp uses when `fmt`'s block does not divide the row length, and what it costs."""
    if not format_info(fmt).is_quantized or t.row_length % format_info(fmt).block_weights == 0:
        return fmt, None
    fb = _table()["fallback"]
    used = fb.get(fmt, fmt)  # a 32-block format has nothing smaller to fall to: F16 below
    if t.row_length % format_info(used).block_weights:
        used = fb["last_resort"]
    wanted_bytes = t.n_weights * format_info(fmt).bits_per_weight / 8
    return used, Fallback(fmt, used, int(round(tensor_bytes(t, used) - wanted_bytes)))


def llama_requires_imatrix(name: str, fmt: str, target: str) -> bool:
    """llama.cpp refuses these without an importance matrix (tensor_requires_imatrix)."""
    if name in ("token_embd.weight", "per_layer_token_embd.weight", "output.weight"):
        return False
    ni = _table()["needs_imatrix"]
    return fmt in ni["formats"] or (fmt == "Q2_K" and target in ni["q2_k_for_targets"])


def _counter_key(category: str, groups: dict) -> str:
    return "attn_v" if category in groups["attn_v_like"] else category


def choose(model: ModelSpec, target: str, *, has_imatrix: bool = False, options: dict | None = None):
    """Yield (tensor, format wanted by the mix, reason) in llama.cpp's processing order."""
    tab = _table()
    info = target_info(target)
    default = info["default"]
    options = {k: v for k, v in (options or {}).items() if v is not None}
    groups = tab["groups"]
    n_attn_v = sum(1 for t in model.tensors if t.category in groups["attn_v_like"])
    counts: dict[str, int] = {}
    for t in model.ordered():
        if not quantizable(t):
            yield t, kept_format(t), "not quantized", False
            continue
        cat = t.category
        eff = "tied_token_embd" if cat == "token_embd" and model.tied_embeddings else cat
        key = _counter_key(cat, groups)
        ctx = Context(model=model, tensor=t, target=info["name"], default_format=default,
                      has_imatrix=has_imatrix, options=options)
        branch = None
        for b in tab["branches"]:
            w = b["when"]
            if "category" in w and eff not in w["category"]:
                continue
            if "target" in w and info["name"] not in w["target"]:
                continue
            branch = b
            break
        fmt, why = default, "target default"
        if branch is not None:
            counted = branch["name"] not in ("output", "token_embd")
            if counted:
                ctx.count = counts.get(key, 0)
                ctx.n_count = n_attn_v if key == "attn_v" else model.n_layer
                ctx.layer = _layer(model, t, ctx.count)
            r = branch["rules"].first(ctx, cat)
            if r is not None:
                fmt, why = RuleTable.resolve(r, ctx), r.get("why", "rule")
            ctx.current = fmt
            for r in branch["then"].rules:
                if branch["then"].matches(r, ctx, cat):
                    fmt, why = RuleTable.resolve(r, ctx), r.get("why", "rule")
                    ctx.current = fmt
            if counted:
                counts[key] = counts.get(key, 0) + 1
        yield t, fmt, why, True


def _layer(model: ModelSpec, t: TensorSpec, count: int) -> int:
    """Block number for layer rules: the running count, except in MoE models where experts of a layer are
    not consecutive and llama.cpp reads it from the name."""
    if max(1, model.n_expert) > 1:
        lay = t.layer
        if lay is None or not 0 <= lay < model.n_layer:
            raise ValueError(f"cannot determine the layer of tensor {t.name} (block count {model.n_layer})")
        return lay
    return count


def build_choices(model: ModelSpec, wanted: dict[str, tuple[str, str, bool]],
                  label: str | None = None) -> list[TensorChoice]:
    """TensorChoices in the model's own order from {name: (format, reason, quantizable)}, applying fallbacks;
    `label` prefixes the reasons of quantized tensors."""
    out = []
    for t in model.tensors:
        fmt, why, q = wanted[t.name]
        fb = None
        if q:
            fmt, fb = fallback(t, fmt)
        out.append(TensorChoice(name=t.name, shape=tuple(t.shape), source_format=t.source_format, format=fmt,
                                reason=f"{label}: {why}" if q and label else why, n_weights=t.n_weights,
                                bytes=tensor_bytes(t, fmt), fallback=fb, quantizable=q))
    return out


def llama_plan(model: ModelSpec, target: str, *, has_imatrix: bool = False, token_embedding_type: str | None = None,
               output_tensor_type: str | None = None) -> Plan:
    """llama-quantize's choice for every tensor of `model` at `target` (e.g. "Q4_K_M")."""
    info = target_info(target)
    opts = {"token_embedding_type": _fmt(token_embedding_type), "output_tensor_type": _fmt(output_tensor_type)}
    wanted = {t.name: (fmt, why, q) for t, fmt, why, q in
              choose(model, info["name"], has_imatrix=has_imatrix, options=opts)}
    plan = Plan(policy="llama", target=info["name"], ftype=info["ftype"], model=model,
                tensors=build_choices(model, wanted, f"llama {info['name']}"),
                token_embedding_type=opts["token_embedding_type"], output_tensor_type=opts["output_tensor_type"])
    add_imatrix_notes(plan, has_imatrix)
    return plan


def _fmt(name):
    return None if name is None else format_info(name).name


def add_imatrix_notes(plan: Plan, has_imatrix: bool) -> None:
    if has_imatrix:
        return
    strict = [c for c in plan.tensors if c.quantizable and llama_requires_imatrix(c.name, c.format, plan.target)]
    if strict:
        plan.notes.append(f"{len(strict)} tensors get a format llama-quantize only produces with an importance "
                          f"matrix (e.g. {strict[0].name}: {strict[0].format})")
