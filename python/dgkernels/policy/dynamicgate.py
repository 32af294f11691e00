"""DynamicGate: llama.cpp's mix for the target, changed per tensor kind and layer position by an editable
rule table (rules/dynamicgate.json; rules/dynamicgate-card.json; or a user file)."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..formats import format_info
from . import llama
from .model import ModelSpec
from .plan import Plan
from .rules import Context, RuleError, RuleTable

SHIPPED = ("dynamicgate", "dynamicgate-card")


def _read(source) -> tuple[dict, str]:
    if isinstance(source, dict):
        return source, "<dict>"
    if isinstance(source, str) and source in SHIPPED:
        return json.loads(resources.files("dgkernels").joinpath(f"rules/{source}.json").read_text()), source
    p = Path(source)
    if not p.is_file():
        raise RuleError(f"rule file {source} not found")
    try:
        return json.loads(p.read_text()), str(p)
    except json.JSONDecodeError as e:
        raise RuleError(f"rule file {p} is not valid JSON: {e}") from None


def load_rules(source="dynamicgate", _seen=()) -> dict:
    """A rule table as {"rules": RuleTable, "token_embedding_type", "output_tensor_type", "about", "source"}.

    `source` is a shipped table name, a path to a JSON file, or a dict. "extends": NAME puts the named
    table's rules after this table's own (so this table's rules win) and inherits its settings.
    """
    raw, where = _read(source)
    if not isinstance(raw, dict) or not isinstance(raw.get("rules", []), list):
        raise RuleError(f"{where}: a rule table is a JSON object with a 'rules' list")
    base = None
    if "extends" in raw:
        if raw["extends"] in _seen:
            raise RuleError(f"{where}: 'extends' loops back to {raw['extends']!r}")
        base = load_rules(raw["extends"], _seen + (where,))
    groups = dict(base["groups"]) if base else {}
    groups.update(raw.get("groups", {}))
    own = RuleTable(raw.get("rules", []), groups, f"{where} rules")
    table = RuleTable([], groups)
    table.rules = own.rules + (base["rules"].rules if base else [])
    out = {"rules": table, "groups": groups, "about": raw.get("about", ""), "source": where}
    for k in ("token_embedding_type", "output_tensor_type"):
        v = raw.get(k, base[k] if base else None)
        out[k] = None if v is None else format_info(v).name
    return out


def dynamicgate_plan(model: ModelSpec, target: str, *, rules="dynamicgate", has_imatrix: bool = False,
                     policy_name: str | None = None) -> Plan:
    table = load_rules(rules)
    info = llama.target_info(target)
    opts = {"token_embedding_type": table["token_embedding_type"], "output_tensor_type": table["output_tensor_type"]}
    name = policy_name or (rules if isinstance(rules, str) and rules in SHIPPED else "dynamicgate")
    wanted = {}
    for t, fmt, why, q in llama.choose(model, info["name"], has_imatrix=has_imatrix, options=opts):
        if q:
            ctx = Context(model=model, tensor=t, target=info["name"], default_format=info["default"],
                          has_imatrix=has_imatrix, options=opts, layer=t.layer, n_count=model.n_layer,
                          current=fmt)
            r = table["rules"].first(ctx, t.category)
            if r is not None:
                fmt, why = RuleTable.resolve(r, ctx), f"{name} rule: {r.get('why', 'rule')}"
            else:
                why = f"llama {info['name']}: {why}"
        wanted[t.name] = (fmt, why, q)
    plan = Plan(policy=name, target=info["name"], ftype=info["ftype"], model=model,
                tensors=llama.build_choices(model, wanted),
                token_embedding_type=opts["token_embedding_type"], output_tensor_type=opts["output_tensor_type"])
    llama.add_imatrix_notes(plan, has_imatrix)
    return plan
