"""Policies: which format each tensor of a model gets, and why.

    from dgkernels.policy import make_plan, llama_layout
    plan = make_plan(llama_layout(), "dynamicgate", "IQ2_XXS")
    print(plan.table()); plan.to_json(); plan.llama_quantize_args()

- "llama": llama.cpp's standard mix for the target (llama-quantize's choices, fallbacks included).
- "dynamicgate": llama.cpp's mix changed by the DynamicGate rule table (rules/dynamicgate.json or a
  user file given as `rules=`).
- "dynamicgate-card": the model card's reading of DynamicGate (rules/dynamicgate-card.json).
- "budget": formats chosen to minimise measured, importance-weighted error within a size budget
  (see policy.budget; needs the weights, so it is made by `dgkernels.quantizer.budget_plan`).
"""
from __future__ import annotations

from .dynamicgate import SHIPPED as _DG, dynamicgate_plan, load_rules
from .llama import llama_plan, targets
from .model import ModelSpec, TensorSpec, llama_layout
from .plan import Plan, TensorChoice
from .rules import RuleError

POLICIES = ("llama", "dynamicgate", "dynamicgate-card", "budget")

__all__ = ["POLICIES", "make_plan", "llama_plan", "dynamicgate_plan", "load_rules", "targets", "ModelSpec",
           "TensorSpec", "llama_layout", "Plan", "TensorChoice", "RuleError"]


def check_policy(policy: str) -> str:
    p = policy.lower()
    if p not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; known policies: {', '.join(POLICIES)}")
    return p


def make_plan(model: ModelSpec, policy: str, target: str, *, has_imatrix: bool = False, rules=None) -> Plan:
    """A rule-based plan ("llama", "dynamicgate", "dynamicgate-card"); `rules` replaces DynamicGate's table."""
    p = check_policy(policy)
    if p == "llama":
        return llama_plan(model, target, has_imatrix=has_imatrix)
    if p in _DG:
        return dynamicgate_plan(model, target, rules=rules or p, has_imatrix=has_imatrix,
                                policy_name=p if rules is None else "dynamicgate")
    raise ValueError("the budget policy measures the weights: use dgkernels.quantizer.budget_plan(model_file, ...)")
