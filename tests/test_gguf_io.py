"""GGUF in, GGUF out: read a model, quantize it by a plan, read the result back with the gguf package and
check every tensor against the kernels; metadata, atomic writes, refusals."""
import json

import gguf
import numpy as np
import pytest

import dgkernels as dg
from dgkernels import quantizer
from dgkernels.gguf_io import GGUFError, model_spec, open_gguf, tensor_f32
from dgkernels.policy import load_rules, make_plan
from dgkernels.policy.dynamicgate import dynamicgate_plan

# A rule table that only uses the legacy formats, so these tests run whatever kernels a build has.
LEGACY_RULES = {"token_embedding_type": "Q8_0", "output_tensor_type": "Q8_0", "rules": [
    {"tensor": ["attn_v", "attn_k"], "format": "Q8_0"},
    {"tensor": ["ffn_down"], "layers": [0, 0.5], "format": "Q5_1"},
    {"tensor": ["ffn_down"], "format": "Q4_1"},
    {"tensor": ["attn_q"], "format": "Q5_0"},
    {"tensor": ["blk.*.weight"], "format": "Q4_0"}]}


def write_tiny_model(path, *, n_layer=4, n_embd=256, n_ff=512, n_head=4, n_head_kv=2, n_vocab=320, tied=False,
                     seed=0, matrix_type="F16", quantized=None, norm_type="F32"):
    """A Llama-shaped GGUF with random weights: F32 norms, `matrix_type` matrices (F32/F16/BF16), a BF16
    attn_q in layer 0, and tensors listed in `quantized` stored in that legacy format ({name: fmt})."""
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name("tiny test model")
    w.add_block_count(n_layer)
    w.add_context_length(512)
    w.add_embedding_length(n_embd)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(1)
    w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(n_vocab)])
    w.add_array("test.int_list", [3, 1, 4, 1, 5])
    w.add_float32("test.pi", 3.25)
    quantized = quantized or {}

    def add(name, shape, kind=None):
        x = (rng.standard_normal(shape) * 0.02).astype(np.float32)
        kind = kind or (quantized.get(name) or matrix_type if len(shape) > 1 else norm_type)
        if kind == "F32":
            w.add_tensor(name, x)
        elif kind == "F16":
            w.add_tensor(name, x.astype(np.float16))
        else:  # BF16 or a legacy format, stored as raw bytes via the kernels
            q = dg.quantize(x, kind)
            w.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType[kind])

    add("token_embd.weight", (n_vocab, n_embd))
    if not tied:
        add("output.weight", (n_vocab, n_embd))
    add("output_norm.weight", (n_embd,))
    kv = n_embd // n_head * n_head_kv
    for i in range(n_layer):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", (n_embd,))
        add(p + "attn_q.weight", (n_embd, n_embd), "BF16" if i == 0 else None)
        add(p + "attn_k.weight", (kv, n_embd))
        add(p + "attn_v.weight", (kv, n_embd))
        add(p + "attn_output.weight", (n_embd, n_embd))
        add(p + "ffn_norm.weight", (n_embd,))
        add(p + "ffn_gate.weight", (n_ff, n_embd))
        add(p + "ffn_up.weight", (n_ff, n_embd))
        add(p + "ffn_down.weight", (n_embd, n_ff))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_model(tmp_path / "tiny.gguf")


def legacy_plan(path, has_imatrix=False):
    return dynamicgate_plan(model_spec(open_gguf(path)), "Q8_0", rules=LEGACY_RULES, has_imatrix=has_imatrix)


def test_model_spec(tiny):
    m = model_spec(open_gguf(tiny))
    assert (m.arch, m.n_layer, m.n_head, m.n_head_kv, m.n_gqa, m.n_expert) == ("llama", 4, 4, 2, 2, 0)
    assert not m.tied_embeddings and m.name == "tiny test model"
    t = m.tensor("blk.1.ffn_down.weight")
    assert t.shape == (512, 256) and t.source_format == "F16" and t.row_length == 512
    assert m.tensor("blk.0.attn_q.weight").source_format == "BF16"
    assert m.tensor("output_norm.weight").n_dims == 1


def test_open_errors(tmp_path):
    with pytest.raises(GGUFError, match="no such file"):
        open_gguf(tmp_path / "missing.gguf")
    (tmp_path / "text.gguf").write_text("hello, not a model")
    with pytest.raises(GGUFError, match="not a GGUF file"):
        open_gguf(tmp_path / "text.gguf")
    (tmp_path / "broken.gguf").write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 20)
    with pytest.raises(GGUFError, match="damaged"):
        open_gguf(tmp_path / "broken.gguf")


def test_quantize_roundtrip(tiny, tmp_path):
    plan = legacy_plan(tiny)
    out = tmp_path / "out.gguf"
    res = quantizer.quantize_file(tiny, out, plan, threads=2, progress=False)
    assert out.is_file() and res.file_bytes == out.stat().st_size
    src, got = open_gguf(tiny), gguf.GGUFReader(out)
    assert [t.name for t in got.tensors] == [t.name for t in src.tensors]
    for rt, st in zip(got.tensors, src.tensors):
        c = plan.choice(rt.name)
        assert rt.tensor_type.name == c.format
        assert [int(d) for d in rt.shape] == [int(d) for d in st.shape]
        assert int(rt.n_bytes) == c.bytes
        x = tensor_f32(src, st)
        stored = np.asarray(got.data[rt.data_offset: rt.data_offset + int(rt.n_bytes)]).reshape(x.shape[0], -1)
        want = dg.quantize(x, c.format)
        assert np.array_equal(stored, want), rt.name
        back = dg.dequantize(stored, c.format)
        assert np.array_equal(back.view(np.uint32), dg.dequantize(want, c.format).view(np.uint32))
    f = got.fields
    assert f["general.file_type"].contents() == plan.ftype == 7
    assert f["general.quantization_version"].contents() == 2
    assert f["general.architecture"].contents() == "llama"
    assert f["general.name"].contents() == "tiny test model"
    assert f["test.int_list"].contents() == [3, 1, 4, 1, 5]
    assert f["test.int_list"].types[-1] == src.fields["test.int_list"].types[-1]
    assert f["test.pi"].contents() == 3.25
    assert f["tokenizer.ggml.tokens"].contents() == src.fields["tokenizer.ggml.tokens"].contents()
    meta = json.loads(f["dgkernels.plan"].contents())
    assert meta["policy"] == "dynamicgate" and "Q5_1" in meta["formats"]
    assert not any(k.startswith("quantize.imatrix") for k in f)


def test_quantized_source_requantized_with_warning_or_copied(tmp_path):
    src = write_tiny_model(tmp_path / "q.gguf", quantized={"blk.1.ffn_up.weight": "Q5_0",
                                                             "blk.2.attn_k.weight": "Q8_0"})
    plan = legacy_plan(src)
    assert plan.choice("blk.2.attn_k.weight").format == "Q8_0"  # same as stored: copied
    res = quantizer.quantize_file(src, tmp_path / "o.gguf", plan, progress=False)
    assert any("requantizing" in w and "Q5_0" in w for w in res.warnings)
    a, b = open_gguf(src), gguf.GGUFReader(tmp_path / "o.gguf")
    ta = next(t for t in a.tensors if t.name == "blk.2.attn_k.weight")
    tb = next(t for t in b.tensors if t.name == "blk.2.attn_k.weight")
    assert np.array_equal(np.asarray(ta.data), np.asarray(tb.data))


def test_refuses_to_overwrite(tiny, tmp_path):
    out = tmp_path / "out.gguf"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="--force"):
        quantizer.quantize_file(tiny, out, legacy_plan(tiny), progress=False)
    assert out.read_bytes() == b"precious"
    quantizer.quantize_file(tiny, out, legacy_plan(tiny), overwrite=True, progress=False)
    assert out.read_bytes()[:4] == b"GGUF"


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_interrupted_write_leaves_no_file(tiny, tmp_path, monkeypatch, exc):
    real, calls = quantizer._encode, []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 5:
            raise exc("stop")
        return real(*a, **k)

    monkeypatch.setattr(quantizer, "_encode", failing)
    with pytest.raises(exc):
        quantizer.quantize_file(tiny, tmp_path / "out.gguf", legacy_plan(tiny), progress=False)
    assert list(tmp_path.iterdir()) == [tiny]  # neither the output nor a temporary file


def test_plan_for_another_model_is_refused(tiny, tmp_path):
    other = write_tiny_model(tmp_path / "other.gguf", n_layer=2)
    with pytest.raises(ValueError, match="another model"):
        quantizer.quantize_file(tiny, tmp_path / "o.gguf", legacy_plan(other), progress=False)


def test_format_needing_imatrix_is_refused_without_one(tiny, tmp_path):
    rules = {"rules": [{"tensor": ["ffn_down"], "format": "IQ2_XXS"}]}
    plan = dynamicgate_plan(model_spec(open_gguf(tiny)), "Q8_0", rules=rules)
    with pytest.raises(ValueError, match="importance matrix"):
        quantizer.quantize_file(tiny, tmp_path / "o.gguf", plan, progress=False)
    assert not (tmp_path / "o.gguf").exists()


def test_f16_norms_become_f32(tmp_path):
    src = write_tiny_model(tmp_path / "n.gguf", norm_type="F16", n_layer=1)
    plan = legacy_plan(src)
    c = plan.choice("blk.0.attn_norm.weight")
    assert (c.source_format, c.format, c.quantizable) == ("F16", "F32", False)
    quantizer.quantize_file(src, tmp_path / "o.gguf", plan, progress=False)
    a = next(t for t in open_gguf(src).tensors if t.name == "blk.0.attn_norm.weight")
    b = next(t for t in gguf.GGUFReader(tmp_path / "o.gguf").tensors if t.name == "blk.0.attn_norm.weight")
    assert b.tensor_type.name == "F32"
    assert np.array_equal(np.asarray(b.data), np.asarray(a.data).astype(np.float32))


def test_tied_embeddings_file(tmp_path):
    src = write_tiny_model(tmp_path / "tied.gguf", tied=True)
    m = model_spec(open_gguf(src))
    assert m.tied_embeddings
    p = make_plan(m, "llama", "Q8_0")
    assert p.choice("token_embd.weight").format == "Q8_0"
    quantizer.quantize_file(src, tmp_path / "o.gguf", p, progress=False)
    assert "output.weight" not in {t.name for t in gguf.GGUFReader(tmp_path / "o.gguf").tensors}


@pytest.mark.parametrize("target", ["Q4_K_M", "Q6_K", "IQ4_XS", "IQ3_S", "Q2_K"])
def test_llama_targets_roundtrip(tiny, tmp_path, target):
    """Whole llama mixes through the writer; skipped while a format's kernels have not landed."""
    plan = make_plan(model_spec(open_gguf(tiny)), "llama", target)
    try:
        quantizer.quantize_file(tiny, tmp_path / "o.gguf", plan, progress=False)
    except NotImplementedError as e:
        pytest.skip(f"kernel not available yet: {e}")
    got = gguf.GGUFReader(tmp_path / "o.gguf")
    assert {t.name: t.tensor_type.name for t in got.tensors} == plan.formats()


def test_rules_module_loads_shipped_tables():
    for name in ("dynamicgate", "dynamicgate-card"):
        t = load_rules(name)
        assert t["token_embedding_type"] == "Q5_K" and t["rules"].rules
