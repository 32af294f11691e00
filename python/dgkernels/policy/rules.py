"""The small rule language the policies' JSON tables are written in.

A rule is a dict; every key present must match for the rule to apply:
  "category": a list of tensor categories (see model.CATEGORIES) or a group name from the table's "groups"
  "tensor":   a list of patterns, each a category name or a shell glob on the full tensor name
  "targets":  a list of targets (llama ftype names such as "Q4_K_M") or a group name
  "layers":   [lo, hi]: the block number i satisfies floor(lo*n) <= i < floor(hi*n), n = block count
              (hi = 1 includes the last block)
  "if":       a list of predicate names, all of which must hold (PREDICATES below)
  "from":     a list of formats the tensor currently has (only in adjustment rules)
and "format" names the result: a format, "default" (the target's default format) or "option:NAME".
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from fractions import Fraction

from .model import ModelSpec, TensorSpec


def cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero), as the reference's `n_layer/8` does."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def use_more_bits(i: int, n: int) -> bool:
    """llama.cpp's pattern of layers that get more bits: first and last eighth, then every third layer."""
    if i < cdiv(n, 8) or i >= cdiv(7 * n, 8):
        return True
    r = i - cdiv(n, 8)
    return r - 3 * cdiv(r, 3) == 2


@dataclass
class Context:
    """What a rule can look at for one tensor."""
    model: ModelSpec
    tensor: TensorSpec
    target: str
    default_format: str
    has_imatrix: bool
    options: dict = field(default_factory=dict)
    count: int = 0        # how many tensors of this kind came before (llama.cpp's i_attention_wv, i_ffn_down, ...)
    n_count: int = 0      # how many there are in all (n_attention_wv or the block count)
    layer: int | None = None  # block number for layer rules (the count for dense models, as llama.cpp does)
    current: str | None = None  # format chosen so far (adjustment rules)


def _block_size(fmt: str) -> int:
    from ..formats import format_info
    return format_info(fmt).block_weights


def _layer_lt(ctx: Context, num: int, den: int) -> bool:
    if ctx.layer is None:
        return False
    return ctx.layer < cdiv(num * ctx.n_count, den)


PREDICATES = {
    "gqa>=4": lambda c: c.model.n_gqa >= 4,
    "gqa<4": lambda c: c.model.n_gqa < 4,
    "experts>=4": lambda c: c.model.n_expert >= 4,
    "experts<4": lambda c: c.model.n_expert < 4,
    "experts==8": lambda c: c.model.n_expert == 8,
    "imatrix": lambda c: c.has_imatrix,
    "no_imatrix": lambda c: not c.has_imatrix,
    "falcon": lambda c: c.model.arch == "falcon",
    "not_falcon": lambda c: c.model.arch != "falcon",
    "70b": lambda c: c.model.is_70b,
    "count<2": lambda c: c.count < 2,
    "count<4": lambda c: c.count < 4,
    "count<n/8": lambda c: c.count < cdiv(c.n_count, 8),
    "count_more_bits": lambda c: use_more_bits(c.count, c.n_count),
    "layer<n/8": lambda c: _layer_lt(c, 1, 8),
    "layer<n/16": lambda c: _layer_lt(c, 1, 16),
    "layer_more_bits": lambda c: c.layer is not None and use_more_bits(c.layer, c.n_count),
    "layer_mid": lambda c: c.layer is not None and cdiv(c.n_count, 8) <= c.layer < cdiv(7 * c.n_count, 8),
    "cols_misfit_default": lambda c: c.tensor.row_length % _block_size(c.default_format) != 0,
    "default_not_q8_0": lambda c: c.default_format != "Q8_0",
}


class RuleError(ValueError):
    """A rule table that cannot be used (unknown predicate, format, group or malformed entry)."""


def _fraction(v, where: str) -> Fraction:
    try:
        f = Fraction(str(v))
    except (ValueError, ZeroDivisionError):
        raise RuleError(f"{where}: layer bound {v!r} is not a number") from None
    if not 0 <= f <= 1:
        raise RuleError(f"{where}: layer bound {v!r} must be between 0 and 1")
    return f


class RuleTable:
    """Rules compiled against a table's groups; checks every name once, when loaded."""

    def __init__(self, rules: list, groups: dict | None = None, where: str = "rules"):
        from ..formats import format_info
        self.groups = groups or {}
        self.rules = []
        for i, r in enumerate(rules):
            w = f"{where}[{i}]"
            if not isinstance(r, dict) or "format" not in r:
                raise RuleError(f"{w}: each rule must be an object with a 'format'")
            unknown = set(r) - {"category", "tensor", "targets", "layers", "if", "from", "format", "why"}
            if unknown:
                raise RuleError(f"{w}: unknown key(s) {sorted(unknown)}")
            c = dict(r)
            for key in ("category", "targets", "tensor", "from"):
                if key in c:
                    c[key] = self._list(c[key], w, key)
            for p in c.get("if", []):
                if p not in PREDICATES and not p.startswith("option:"):
                    raise RuleError(f"{w}: unknown predicate {p!r}; known: {', '.join(PREDICATES)}")
            if "layers" in c:
                lo_hi = c["layers"]
                if not isinstance(lo_hi, (list, tuple)) or len(lo_hi) != 2:
                    raise RuleError(f"{w}: 'layers' must be [lo, hi]")
                c["layers"] = (_fraction(lo_hi[0], w), _fraction(lo_hi[1], w))
            fmt = c["format"]
            if fmt != "default" and not str(fmt).startswith("option:"):
                try:
                    c["format"] = format_info(fmt).name
                except ValueError as e:
                    raise RuleError(f"{w}: {e}") from None
            self.rules.append(c)

    def _list(self, v, where, key):
        if isinstance(v, str):
            if v in self.groups:
                return list(self.groups[v])
            return [v]
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            out = []
            for x in v:
                out += self.groups.get(x, [x]) if key in ("category", "targets") else [x]
            return out
        raise RuleError(f"{where}: '{key}' must be a name or a list of names")

    def matches(self, r: dict, ctx: Context, category: str) -> bool:
        if "category" in r and category not in r["category"]:
            return False
        if "targets" in r and ctx.target not in r["targets"]:
            return False
        if "tensor" in r and not any(p == ctx.tensor.category or fnmatch.fnmatchcase(ctx.tensor.name, p)
                                     for p in r["tensor"]):
            return False
        if "layers" in r:
            lay, n = ctx.tensor.layer, ctx.model.n_layer
            lo, hi = r["layers"]
            if lay is None or not (int(lo * n) <= lay < int(hi * n)):
                return False
        if "from" in r and ctx.current not in r["from"]:
            return False
        for p in r.get("if", ()):
            if p.startswith("option:"):
                if ctx.options.get(p[7:]) is None:
                    return False
            elif not PREDICATES[p](ctx):
                return False
        return True

    def first(self, ctx: Context, category: str):
        """The first matching rule, or None."""
        for r in self.rules:
            if self.matches(r, ctx, category):
                return r
        return None

    @staticmethod
    def resolve(r: dict, ctx: Context) -> str:
        fmt = r["format"]
        if fmt == "default":
            return ctx.default_format
        if fmt.startswith("option:"):
            return ctx.options[fmt[7:]]
        return fmt

    @staticmethod
    def reason(r: dict, ctx: Context) -> str:
        return r.get("why") or "rule"
