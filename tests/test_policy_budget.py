"""The budget policy: the solver is exact (checked by brute force), never exceeds its budget, and the
measured plan on a real file respects the budget and reports its prediction."""
import itertools

import numpy as np
import pytest

from dgkernels import quantizer
from dgkernels.gguf_io import model_spec, open_gguf
from dgkernels.policy.budget import Option, pareto, sample_rows, solve, weighted_error
from test_gguf_io import write_tiny_model

LEGACY = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]


def brute_force(fronts, budget):
    best = None
    for combo in itertools.product(*fronts):
        if sum(o.bytes for o in combo) <= budget:
            e = sum(o.error for o in combo)
            best = e if best is None or e < best else best
    return best


def random_fronts(rng, n, k, integer_errors=False):
    fronts = []
    for i in range(n):
        opts = []
        for j in range(int(rng.integers(1, k + 1))):
            err = float(rng.integers(0, 20)) if integer_errors else float(rng.random())
            opts.append(Option(f"F{j}", int(rng.integers(1, 60)), err))
        fronts.append(opts)
    return fronts


@pytest.mark.parametrize("integer_errors", [False, True])  # integer errors make many ties
def test_solver_is_exact_on_small_cases(rng, integer_errors):
    for _ in range(150):
        fronts = random_fronts(rng, int(rng.integers(1, 7)), 5, integer_errors)
        lo = sum(min(o.bytes for o in f) for f in fronts)
        hi = sum(max(o.bytes for o in f) for f in fronts)
        budget = int(rng.integers(lo, hi + 1))
        r = solve(fronts, budget)
        assert r["bytes"] <= budget
        got = sum(f[p].error for f, p in zip(r["fronts"], r["pick"]))
        assert got == pytest.approx(brute_force(fronts, budget), abs=1e-9)
        assert r["optimal"] and r["lower_bound"] <= got + 1e-9


def test_solver_gives_up_gracefully_but_stays_within_budget(rng):
    fronts = random_fronts(rng, 60, 8)
    budget = sum(min(o.bytes for o in f) for f in fronts) + 700
    r = solve(fronts, budget, max_states=50)
    assert r["bytes"] <= budget
    got = sum(f[p].error for f, p in zip(r["fronts"], r["pick"]))
    assert r["lower_bound"] <= got + 1e-9
    exact = solve(fronts, budget)
    assert exact["error"] <= got + 1e-9


def test_infeasible_budget():
    with pytest.raises(ValueError, match="below the smallest possible size"):
        solve([[Option("A", 10, 1.0)], [Option("B", 5, 1.0)]], 14)


def test_pareto_drops_dominated():
    f = pareto([Option("a", 10, 1.0), Option("b", 12, 1.5), Option("c", 12, 0.5), Option("d", 20, 0.5),
                Option("e", 8, 3.0)])
    assert [o.format for o in f] == ["e", "a", "c"]


def test_sample_rows():
    assert list(sample_rows(10, 256, 10 ** 6)) == list(range(10))
    s = sample_rows(1000, 256, 256 * 8)
    assert len(s) == 8 and s[0] == 0 and s[-1] == 875 and len(set(s)) == 8


def test_weighted_error_definition(rng):
    x = rng.standard_normal((4, 64)).astype(np.float32)
    w = rng.random(64).astype(np.float32)
    import dgkernels as dg
    q = dg.dequantize(dg.quantize(x, "Q4_0", imatrix=w), "Q4_0").astype(np.float64)
    err, energy = weighted_error(x, "Q4_0", w)
    assert err == pytest.approx(float((((x - q) ** 2) * w).sum()), rel=1e-9)
    assert energy == pytest.approx(float(((x.astype(np.float64) ** 2) * w).sum()), rel=1e-9)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_model(tmp_path_factory.mktemp("b") / "tiny.gguf", n_layer=2)


@pytest.mark.parametrize("bpw", [4.6, 5.2, 6.0])
def test_budget_plan_on_a_file(tiny, bpw):
    reader = open_gguf(tiny)
    m = model_spec(reader)
    plan = quantizer.budget_plan(reader, m, target_bpw=bpw, candidates=LEGACY, sample_weights=1 << 14)
    total = int(bpw * m.n_weights / 8)
    assert plan.total_bytes <= total
    b = plan.budget
    assert b["optimal"] and b["used_bytes"] <= b["budget_bytes"]
    assert b["predicted_error"] == pytest.approx(sum(c.predicted_error for c in plan.tensors if c.quantizable))
    assert {c.format for c in plan.tensors if c.quantizable} <= set(LEGACY)
    assert plan.choice("output_norm.weight").format == "F32"
    # more bytes never predict more error
    bigger = quantizer.budget_plan(reader, m, target_bpw=bpw + 0.5, candidates=LEGACY, errors=b["errors"])
    assert bigger.budget["predicted_error"] <= b["predicted_error"] + 1e-12


def test_budget_plan_matches_brute_force_on_measured_errors(tiny):
    """The same choice as trying every combination (on a 4-tensor model cut from the file's errors)."""
    reader = open_gguf(tiny)
    m = model_spec(reader)
    plan = quantizer.budget_plan(reader, m, target_bpw=5.0, candidates=LEGACY, sample_weights=1 << 13)
    errs = plan.budget["errors"]
    names = ["blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.1.attn_v.weight", "blk.1.ffn_up.weight"]
    from dgkernels.policy.plan import tensor_bytes
    fronts = [[Option(f, tensor_bytes(m.tensor(n), f), errs[n][f]) for f in LEGACY] for n in names]
    budget = sum(tensor_bytes(m.tensor(n), "Q5_0") for n in names)
    r = solve(fronts, budget)
    assert r["error"] == pytest.approx(brute_force(fronts, budget))


def test_budget_errors_are_real_measurements(tiny):
    reader = open_gguf(tiny)
    m = model_spec(reader)
    plan = quantizer.budget_plan(reader, m, target_bpw=8, candidates=LEGACY)
    e = plan.budget["errors"]["blk.1.ffn_down.weight"]
    assert e["Q8_0"] < e["Q5_1"] < e["Q4_0"]  # more bits, less error
    assert 0 < e["Q8_0"] < 1e-3


def test_budget_needs_exactly_one_target(tiny):
    reader = open_gguf(tiny)
    m = model_spec(reader)
    with pytest.raises(ValueError, match="exactly one"):
        quantizer.budget_plan(reader, m, candidates=LEGACY)
    with pytest.raises(ValueError, match="below the smallest"):
        quantizer.budget_plan(reader, m, target_bpw=1.0, candidates=LEGACY)


def test_target_size_keeps_the_file_within_it(tiny, tmp_path):
    size = int(0.35 * tiny.stat().st_size)  # about 5.6 bits per weight: between Q4_0 and Q8_0
    budget = quantizer.size_budget(tiny, size, "budget")
    plan = quantizer.make_file_plan(tiny, "budget", target_bytes=budget, candidates=LEGACY)
    out = quantizer.quantize_file(tiny, tmp_path / "o.gguf", plan, progress=False)
    assert out.file_bytes <= size
    assert out.file_bytes > 0.9 * size  # and uses most of it
