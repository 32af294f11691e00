"""Rule-based plans on synthetic layouts, checked tensor by tensor against tables written out by hand from
llama.cpp's src/llama-quant.cpp (llama_tensor_get_type_impl) and DynamicGate's my_quant_changes.patch."""
import json

import pytest

from dgkernels.policy import RuleError, llama_layout, load_rules, make_plan, targets
from dgkernels.policy.model import ModelSpec, TensorSpec
from dgkernels.policy.rules import use_more_bits

LLAMA3_8B = dict(n_layer=32, n_embd=4096, n_ff=14336, n_head=32, n_head_kv=8, n_vocab=128256)  # GQA 4

# use_more_bits(i, 32): first and last eighth, then every third layer from layer 4 (4 + 2 + 3k)
MORE_BITS_32 = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}


def fmt(plan, name):
    return plan.choice(name).format


@pytest.fixture(scope="module")
def l3():
    return llama_layout(**LLAMA3_8B)


def test_use_more_bits_pattern():
    assert {i for i in range(32) if use_more_bits(i, 32)} == MORE_BITS_32


def test_layout_counts(l3):
    assert l3.n_gqa == 4 and not l3.tied_embeddings
    assert len(l3.tensors) == 2 + 1 + 32 * 9
    assert l3.n_weights == 8_030_261_248  # Llama-3-8B's parameter count


# Expected formats per target for Llama-3-8B, by tensor kind; a callable takes the layer.
def _by_layer(first, rest, n):
    return lambda i: first if i < n else rest


EXPECTED = {
    "Q2_K": {"token_embd": "Q2_K", "output": "Q6_K", "attn_q": "Q2_K", "attn_k": "Q2_K", "attn_v": "Q4_K",
             "attn_output": "Q3_K", "ffn_gate": "Q2_K", "ffn_up": "Q2_K", "ffn_down": "Q3_K"},
    "Q3_K_S": {"token_embd": "Q3_K", "output": "Q6_K", "attn_q": "Q3_K", "attn_k": "Q3_K", "attn_v": "Q3_K",
               "attn_output": "Q3_K", "ffn_gate": "Q3_K", "ffn_up": "Q3_K", "ffn_down": "Q3_K"},
    "Q3_K_M": {"token_embd": "Q3_K", "output": "Q6_K", "attn_q": "Q3_K", "attn_k": "Q3_K",
               "attn_v": _by_layer("Q5_K", "Q4_K", 2), "attn_output": "Q4_K", "ffn_gate": "Q3_K",
               "ffn_up": "Q3_K", "ffn_down": _by_layer("Q5_K", "Q4_K", 2)},
    "Q3_K_L": {"token_embd": "Q3_K", "output": "Q6_K", "attn_q": "Q3_K", "attn_k": "Q3_K", "attn_v": "Q5_K",
               "attn_output": "Q5_K", "ffn_gate": "Q3_K", "ffn_up": "Q3_K", "ffn_down": "Q5_K"},
    "Q4_K_S": {"token_embd": "Q4_K", "output": "Q6_K", "attn_q": "Q4_K", "attn_k": "Q4_K",
               "attn_v": _by_layer("Q5_K", "Q4_K", 4), "attn_output": "Q4_K", "ffn_gate": "Q4_K",
               "ffn_up": "Q4_K", "ffn_down": _by_layer("Q5_K", "Q4_K", 4)},
    "Q4_K_M": {"token_embd": "Q4_K", "output": "Q6_K", "attn_q": "Q4_K", "attn_k": "Q4_K",
               "attn_v": lambda i: "Q6_K" if i in MORE_BITS_32 else "Q4_K", "attn_output": "Q4_K",
               "ffn_gate": "Q4_K", "ffn_up": "Q4_K", "ffn_down": lambda i: "Q6_K" if i in MORE_BITS_32 else "Q4_K"},
    "Q5_K_S": {k: "Q5_K" for k in ("token_embd", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate",
                                   "ffn_up", "ffn_down")} | {"output": "Q6_K"},
    "Q5_K_M": {"token_embd": "Q5_K", "output": "Q6_K", "attn_q": "Q5_K", "attn_k": "Q5_K",
               "attn_v": lambda i: "Q6_K" if i in MORE_BITS_32 else "Q5_K", "attn_output": "Q5_K",
               "ffn_gate": "Q5_K", "ffn_up": "Q5_K", "ffn_down": lambda i: "Q6_K" if i in MORE_BITS_32 else "Q5_K"},
    "Q6_K": {k: "Q6_K" for k in ("token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output",
                                 "ffn_gate", "ffn_up", "ffn_down")},
    "Q8_0": {k: "Q8_0" for k in ("token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_output",
                                 "ffn_gate", "ffn_up", "ffn_down")},
    "IQ1_S": {"token_embd": "Q2_K", "output": "Q5_K", "attn_q": "IQ1_S", "attn_k": "IQ1_S", "attn_v": "Q4_K",
              "attn_output": "IQ2_XXS", "ffn_gate": "IQ1_S", "ffn_up": "IQ1_S",
              "ffn_down": _by_layer("Q2_K", "IQ1_S", 4)},
    "IQ1_M": {"token_embd": "Q2_K", "output": "Q5_K", "attn_q": "IQ1_M", "attn_k": "IQ1_M", "attn_v": "Q4_K",
              "attn_output": "IQ2_XXS", "ffn_gate": "IQ1_M", "ffn_up": "IQ1_M",
              "ffn_down": _by_layer("Q2_K", "IQ1_M", 4)},
    "IQ2_XXS": {"token_embd": "Q2_K", "output": "Q5_K", "attn_q": "IQ2_XXS", "attn_k": "IQ2_XXS",
                "attn_v": "Q4_K", "attn_output": "IQ2_XXS", "ffn_gate": "IQ2_XXS", "ffn_up": "IQ2_XXS",
                "ffn_down": _by_layer("Q2_K", "IQ2_XXS", 4)},
    "IQ2_XS": {"token_embd": "Q2_K", "output": "Q5_K", "attn_q": "IQ2_XS", "attn_k": "IQ2_XS", "attn_v": "Q4_K",
               "attn_output": "IQ2_XS", "ffn_gate": "IQ2_XS", "ffn_up": "IQ2_XS",
               "ffn_down": _by_layer("Q2_K", "IQ2_XS", 4)},
    "IQ2_S": {"token_embd": "IQ3_S", "output": "Q5_K", "attn_q": "IQ2_XS", "attn_k": "IQ2_XS", "attn_v": "Q4_K",
              "attn_output": "IQ3_S", "ffn_gate": "IQ2_XS", "ffn_up": "IQ2_XS",
              "ffn_down": _by_layer("IQ3_S", "IQ2_XS", 4)},
    "IQ2_M": {"token_embd": "IQ3_S", "output": "Q5_K", "attn_q": "IQ2_S", "attn_k": "IQ2_S", "attn_v": "Q4_K",
              "attn_output": "IQ3_S", "ffn_gate": "IQ2_S", "ffn_up": "IQ2_S",
              "ffn_down": _by_layer("IQ3_S", "IQ2_S", 4)},
    "IQ3_XXS": {"token_embd": "IQ3_S", "output": "Q5_K", "attn_q": "IQ2_S", "attn_k": "IQ2_S", "attn_v": "Q4_K",
                "attn_output": "IQ3_S", "ffn_gate": "IQ3_XXS", "ffn_up": "IQ3_XXS",
                "ffn_down": _by_layer("Q4_K", "Q3_K", 4)},  # without an imatrix
    "IQ3_XS": {"token_embd": "IQ3_S", "output": "Q6_K", "attn_q": "IQ3_XXS", "attn_k": "IQ3_XXS", "attn_v": "Q4_K",
               "attn_output": "IQ3_S", "ffn_gate": lambda i: "IQ3_XXS" if 4 <= i < 28 else "IQ3_S",
               "ffn_up": lambda i: "IQ3_XXS" if 4 <= i < 28 else "IQ3_S", "ffn_down": "IQ3_S"},
    "IQ3_S": {"token_embd": "IQ3_S", "output": "Q6_K", "attn_q": "IQ3_S", "attn_k": "IQ3_S", "attn_v": "Q4_K",
              "attn_output": "IQ3_S", "ffn_gate": "IQ3_S", "ffn_up": "IQ3_S", "ffn_down": "IQ3_S"},
    "IQ3_M": {"token_embd": "IQ3_S", "output": "Q6_K", "attn_q": "IQ3_S", "attn_k": "IQ3_S", "attn_v": "Q4_K",
              "attn_output": "Q4_K", "ffn_gate": "IQ3_S", "ffn_up": "IQ3_S", "ffn_down": _by_layer("Q4_K", "IQ3_S", 4)},
    "IQ4_NL": {"token_embd": "IQ4_NL", "output": "Q6_K", "attn_q": "IQ4_NL", "attn_k": "IQ4_NL", "attn_v": "Q5_K",
               "attn_output": "IQ4_NL", "ffn_gate": "IQ4_NL", "ffn_up": "IQ4_NL",
               "ffn_down": _by_layer("Q5_K", "IQ4_NL", 4)},
    "IQ4_XS": {"token_embd": "IQ4_XS", "output": "Q6_K", "attn_q": "IQ4_XS", "attn_k": "IQ4_XS", "attn_v": "Q5_K",
               "attn_output": "IQ4_XS", "ffn_gate": "IQ4_XS", "ffn_up": "IQ4_XS",
               "ffn_down": _by_layer("Q5_K", "IQ4_XS", 4)},
}


def _expected(table, kind, layer):
    v = table[kind]
    return v(layer) if callable(v) else v


@pytest.mark.parametrize("target", sorted(EXPECTED))
def test_llama_mix_llama3_8b(l3, target):
    plan = make_plan(l3, "llama", target)
    table = EXPECTED[target]
    for c in plan.tensors:
        if c.name.endswith("norm.weight"):
            assert c.format == "F32" and not c.quantizable
            continue
        kind = c.name.split(".")[-2] if c.name.startswith("blk.") else c.name.split(".")[0]
        want = _expected(table, kind, c.layer if c.layer is not None else -1)
        assert c.format == want, f"{target} {c.name}: got {c.format}, want {want} ({c.reason})"
    assert not plan.fallbacks
    assert plan.ftype == {"Q2_K": 10, "Q4_K_M": 15, "IQ2_XXS": 19, "IQ2_M": 29, "IQ1_M": 31}.get(target, plan.ftype)


def test_every_documented_target_is_tested():
    required = {"Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0",
                "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "IQ3_XS", "IQ3_S", "IQ3_M",
                "IQ4_NL", "IQ4_XS"}
    assert required <= set(EXPECTED) and required <= set(targets())


def test_imatrix_changes_iq3_xxs_and_iq4(l3):
    with_im = make_plan(l3, "llama", "IQ3_XXS", has_imatrix=True)
    assert fmt(with_im, "blk.0.ffn_down.weight") == "IQ3_XXS"
    assert fmt(with_im, "blk.0.attn_v.weight") == "Q4_K"  # GQA 4 wins before the imatrix test
    assert fmt(make_plan(l3, "llama", "IQ4_XS", has_imatrix=True), "blk.0.ffn_down.weight") == "IQ4_XS"
    q40 = make_plan(l3, "llama", "Q4_0", has_imatrix=True)
    assert [fmt(q40, f"blk.{i}.ffn_down.weight") for i in (3, 4)] == ["Q4_1", "Q4_0"]
    assert fmt(make_plan(l3, "llama", "Q4_0"), "blk.0.ffn_down.weight") == "Q4_0"


def test_gqa1_attn_v():
    m = llama_layout(n_layer=8, n_embd=512, n_ff=1024, n_head=8, n_head_kv=8, n_vocab=1024)
    assert m.n_gqa == 1
    assert fmt(make_plan(m, "llama", "Q2_K"), "blk.0.attn_v.weight") == "Q3_K"
    assert fmt(make_plan(m, "llama", "IQ2_XXS"), "blk.0.attn_v.weight") == "Q2_K"
    assert fmt(make_plan(m, "llama", "IQ2_M"), "blk.0.attn_v.weight") == "IQ3_S"
    assert fmt(make_plan(m, "llama", "IQ3_XXS"), "blk.0.attn_v.weight") == "IQ3_S"
    assert fmt(make_plan(m, "llama", "IQ3_XXS", has_imatrix=True), "blk.0.attn_v.weight") == "IQ3_XXS"
    assert fmt(make_plan(m, "llama", "IQ4_XS"), "blk.0.attn_v.weight") == "IQ4_XS"


def test_70b_attn_v():
    m = llama_layout(n_layer=80, n_embd=512, n_ff=1024, n_head=64, n_head_kv=8, n_vocab=1024)
    assert m.is_70b
    assert fmt(make_plan(m, "llama", "Q3_K_S"), "blk.5.attn_v.weight") == "Q5_K"   # the default Q3_K bumped
    assert fmt(make_plan(m, "llama", "Q6_K"), "blk.5.attn_v.weight") == "Q6_K"
    assert fmt(make_plan(m, "llama", "Q3_K_M"), "blk.5.attn_v.weight") == "Q5_K"   # Q4_K bumped
    assert fmt(make_plan(m, "llama", "Q2_K"), "blk.5.attn_v.weight") == "Q5_K"


def test_tied_embeddings_take_the_output_rule():
    m = llama_layout(n_layer=4, n_embd=512, n_ff=1024, n_head=8, n_head_kv=2, n_vocab=1024, tied=True)
    assert m.tied_embeddings
    assert fmt(make_plan(m, "llama", "Q4_K_M"), "token_embd.weight") == "Q6_K"
    assert fmt(make_plan(m, "llama", "IQ2_XXS"), "token_embd.weight") == "Q5_K"
    assert fmt(make_plan(m, "llama", "Q8_0"), "token_embd.weight") == "Q8_0"


def smol_layout():
    """SmolLM2-135M: 30 layers, 576 wide (not a multiple of 256), GQA 3, tied embeddings."""
    return llama_layout(n_layer=30, n_embd=576, n_ff=1536, n_head=9, n_head_kv=3, n_vocab=49152, tied=True,
                        source_format="F16")


def test_fallbacks_and_their_cost():
    m = smol_layout()
    plan = make_plan(m, "llama", "IQ2_XXS")
    # 576-wide rows cannot hold 256-blocks: IQ2_XXS -> IQ4_NL; tied output: Q8_0 (row misfits the default)
    assert fmt(plan, "token_embd.weight") == "Q8_0" and plan.choice("token_embd.weight").fallback is None
    c = plan.choice("blk.3.attn_q.weight")
    assert c.format == "IQ4_NL" and c.fallback.wanted == "IQ2_XXS"
    assert c.fallback.extra_bytes == c.bytes - round(576 * 576 * 2.0625 / 8)
    assert fmt(plan, "blk.3.ffn_down.weight") == "IQ2_XXS"  # 1536 = 6 x 256 fits
    assert fmt(plan, "blk.2.ffn_down.weight") == "Q2_K"     # first eighth (30/8 = 3)
    assert len(plan.fallbacks) == 30 * 6
    q4km = make_plan(m, "llama", "Q4_K_M")
    assert fmt(q4km, "blk.5.attn_q.weight") == "Q5_0"       # Q4_K -> Q5_0
    assert fmt(q4km, "blk.0.attn_v.weight") == "Q8_0"       # Q6_K (use_more_bits) -> Q8_0
    assert fmt(make_plan(m, "llama", "Q5_K_S"), "blk.5.attn_q.weight") == "Q5_1"
    assert fmt(make_plan(m, "llama", "Q2_K"), "blk.5.attn_q.weight") == "Q4_0"
    t = plan.totals()
    assert t["fallbacks"] == len(plan.fallbacks)
    assert t["fallback_extra_bytes"] == sum(c.fallback.extra_bytes for c in plan.fallbacks) > 0


def test_fallback_to_f16_when_nothing_fits():
    m = ModelSpec("llama", 1, 4, 4, [TensorSpec("blk.0.attn_q.weight", (48, 64), "F32"),
                                     TensorSpec("blk.0.attn_norm.weight", (48,), "F32")])
    plan = make_plan(m, "llama", "Q4_K_M")
    assert fmt(plan, "blk.0.attn_q.weight") == "F16"
    assert plan.choice("blk.0.attn_q.weight").fallback.used == "F16"


def test_moe_rules():
    ts = [TensorSpec("token_embd.weight", (512, 1024)), TensorSpec("output.weight", (512, 1024))]
    for i in range(8):
        ts += [TensorSpec(f"blk.{i}.attn_v.weight", (512, 128)), TensorSpec(f"blk.{i}.attn_k.weight", (512, 128)),
               TensorSpec(f"blk.{i}.attn_output.weight", (512, 512)),
               TensorSpec(f"blk.{i}.ffn_down_exps.weight", (1024, 512, 8)),
               TensorSpec(f"blk.{i}.ffn_gate_inp.weight", (512, 8))]
    m = ModelSpec("llama", 8, 32, 8, ts, n_expert=8)
    p = make_plan(m, "llama", "Q4_K_M")
    assert fmt(p, "blk.0.attn_v.weight") == "Q8_0" and fmt(p, "blk.0.attn_k.weight") == "Q8_0"
    assert fmt(p, "blk.0.attn_output.weight") == "Q5_K"
    assert fmt(p, "blk.0.ffn_gate_inp.weight") == "F32"  # router: never quantized
    # layer from the name: use_more_bits(i, 8) holds for 0, 3, 6, 7
    assert [fmt(p, f"blk.{i}.ffn_down_exps.weight") for i in range(8)] == [
        "Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q4_K", "Q4_K", "Q6_K", "Q6_K"]
    assert fmt(make_plan(m, "llama", "IQ2_XXS"), "blk.0.attn_k.weight") == "Q4_K"
    m4 = ModelSpec("llama", 8, 32, 8, ts, n_expert=4)
    assert fmt(make_plan(m4, "llama", "Q4_K_M"), "blk.0.attn_k.weight") == "Q4_K"       # llama: only == 8
    assert fmt(make_plan(m4, "dynamicgate", "Q4_K_M"), "blk.0.attn_k.weight") == "Q8_0"  # patch: >= 4


# ---- DynamicGate ---------------------------------------------------------------------------------------

def test_dynamicgate_llama3_8b(l3):
    quarter = lambda i: i < 8 or i >= 24  # noqa: E731  (32 layers: 0-7 and 24-31)
    cases = {"IQ1_S": ("IQ3_S", "IQ2_XXS", "IQ3_XXS"), "IQ1_M": ("IQ3_S", "IQ2_XXS", "IQ3_XXS"),
             "IQ2_XXS": ("IQ3_S", "IQ2_XXS", "IQ3_S"), "IQ2_XS": ("IQ3_S", "IQ2_XXS", "IQ3_S"),
             "IQ2_S": ("IQ4_XS", "IQ3_S", "IQ3_S"), "IQ2_M": ("IQ4_XS", "IQ3_S", "IQ3_S")}
    for target, (edge, middle, attn_out) in cases.items():
        dg = make_plan(l3, "dynamicgate", target)
        base = make_plan(l3, "llama", target)
        for i in range(32):
            assert fmt(dg, f"blk.{i}.ffn_down.weight") == (edge if quarter(i) else middle), (target, i)
            assert fmt(dg, f"blk.{i}.attn_output.weight") == attn_out
            for k in ("attn_q", "attn_k", "attn_v", "ffn_gate", "ffn_up"):  # GQA 4: attn_v stays Q4_K
                n = f"blk.{i}.{k}.weight"
                assert fmt(dg, n) == fmt(base, n), n
        assert fmt(dg, "token_embd.weight") == "Q5_K" and fmt(dg, "output.weight") == "Q5_K"
        assert dg.policy == "dynamicgate" and dg.ftype == base.ftype
        card = make_plan(l3, "dynamicgate-card", target)
        for i in range(32):
            n = f"blk.{i}.ffn_down.weight"
            assert fmt(card, n) == ("IQ4_XS" if quarter(i) else fmt(dg, n)), (target, i)
        diff = [c.name for c in card.tensors if c.format != dg.choice(c.name).format]
        assert all(n.endswith("ffn_down.weight") for n in diff)


def test_dynamicgate_keeps_llama_for_other_targets(l3):
    dg, base = make_plan(l3, "dynamicgate", "Q4_K_M"), make_plan(l3, "llama", "Q4_K_M")
    for c in dg.tensors:
        if c.name in ("token_embd.weight", "output.weight"):
            assert c.format == "Q5_K"
        else:
            assert c.format == base.choice(c.name).format, c.name


def test_dynamicgate_gqa_below_4_and_30_layers():
    m = smol_layout()  # GQA 3, 30 layers: quarters are blocks 0-6 and 22-29
    dg = make_plan(m, "dynamicgate", "IQ2_XXS")
    edge = [i for i in range(30) if fmt(dg, f"blk.{i}.ffn_down.weight") == "IQ3_S"]
    assert edge == list(range(7)) + list(range(22, 30))
    c = dg.choice("blk.0.attn_v.weight")
    assert c.fallback.wanted == "IQ3_S" and c.format == "IQ4_NL"
    m1 = llama_layout(n_layer=8, n_embd=512, n_ff=1024, n_head=8, n_head_kv=8, n_vocab=1024)
    assert fmt(make_plan(m1, "dynamicgate", "IQ1_M"), "blk.0.attn_v.weight") == "IQ3_XXS"
    assert fmt(make_plan(m1, "dynamicgate", "IQ2_S"), "blk.0.attn_v.weight") == "IQ3_S"


def test_user_rule_file(tmp_path, l3):
    f = tmp_path / "rules.json"
    f.write_text(json.dumps({"extends": "dynamicgate", "output_tensor_type": "Q8_0", "rules": [
        {"tensor": ["blk.*.attn_q.weight"], "layers": [0, 0.5], "targets": ["IQ2_XXS"], "format": "Q4_K"}]}))
    p = make_plan(l3, "dynamicgate", "IQ2_XXS", rules=str(f))
    assert [fmt(p, f"blk.{i}.attn_q.weight") for i in (0, 15, 16)] == ["Q4_K", "Q4_K", "IQ2_XXS"]
    assert fmt(p, "output.weight") == "Q8_0" and fmt(p, "token_embd.weight") == "Q5_K"
    assert fmt(p, "blk.0.ffn_down.weight") == "IQ3_S"  # inherited rules still apply


@pytest.mark.parametrize("bad, msg", [
    ({"rules": [{"tensor": ["ffn_down"], "format": "Q9_Q"}]}, "unknown format"),
    ({"rules": [{"tensor": ["ffn_down"], "if": ["moon_is_full"], "format": "Q4_K"}]}, "unknown predicate"),
    ({"rules": [{"tensor": ["ffn_down"], "layers": [0, 2], "format": "Q4_K"}]}, "between 0 and 1"),
    ({"rules": [{"tensor": ["ffn_down"], "colour": "red", "format": "Q4_K"}]}, "unknown key"),
    ({"rules": [{"tensor": ["ffn_down"]}]}, "'format'"),
    ({"rules": "nope"}, "'rules' list"),
])
def test_bad_rule_tables(bad, msg, l3):
    with pytest.raises(RuleError, match=msg):
        load_rules(bad)


def test_missing_rule_file(l3):
    with pytest.raises(RuleError, match="not found"):
        make_plan(l3, "dynamicgate", "IQ2_XXS", rules="/no/such/rules.json")


def test_unknown_policy_and_target(l3):
    with pytest.raises(ValueError, match="unknown policy"):
        make_plan(l3, "fancy", "Q4_K_M")
    with pytest.raises(ValueError, match="unknown target"):
        make_plan(l3, "llama", "Q4_K_X")


def test_plan_exports(l3):
    p = make_plan(l3, "dynamicgate", "IQ2_XXS")
    j = p.to_json()
    assert json.loads(json.dumps(j)) == j
    assert [t["name"] for t in j["tensors"]] == [t.name for t in l3.tensors]
    assert all({"name", "format"} <= set(t) for t in j["tensors"])
    assert j["totals"]["bytes"] == sum(t["bytes"] for t in j["tensors"]) == p.total_bytes
    args = p.llama_quantize_args()
    assert args[args.index("--token-embedding-type") + 1] == "q5_k"
    assert args[args.index("--output-tensor-type") + 1] == "q5_k"
    pairs = [a.split("=") for a in args[1::2] if "=" in a]
    import re
    for c in p.tensors:  # every quantized tensor is named by exactly one pattern, with its format
        if not c.quantizable or c.name in ("token_embd.weight", "output.weight"):
            continue
        hits = [f for pat, f in pairs if re.search(pat, c.name)]
        assert hits == [c.format.lower()], c.name
    text = p.table()
    assert "total:" in text and "per layer:" in text
