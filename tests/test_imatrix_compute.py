"""dgkernels.imatrix_compute: what is accumulated, the GGUF imatrix file, the CLI entry, --self."""
from __future__ import annotations

import numpy as np
import pytest
from test_forward import (DATA, demo_or_skip, reference_forward, tiny_tokens,  # noqa: F401 (fixture helpers)
                          write_tiny_model)

import dgkernels as dg
from dgkernels.forward import Tokenizer, load_model
from dgkernels.imatrix_compute import (ImatrixCollector, cli_main, compute_imatrix, text_chunks,
                                       write_imatrix_gguf)

CTX = 32


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    path = tmp_path_factory.mktemp("imat") / "tiny-llama.gguf"
    return path, write_tiny_model(path, "llama", seed=5, output_scale=0.02)


@pytest.fixture(scope="module")
def calib_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("text") / "calib.txt"
    words = "the then in a an on re er she sat there and ran on the green in the rain".split()
    rng = np.random.default_rng(0)
    p.write_text(" ".join(rng.choice(words, 400)) + "\n", encoding="utf-8")
    return p


def read_gguf(path):
    import gguf
    r = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}
    tensors = {t.name: np.array(t.data) for t in r.tensors}
    shapes = {t.name: tuple(int(v) for v in t.shape) for t in r.tensors}
    return fields, tensors, shapes


def expected_imatrix(spec, chunks):
    """Sum of squared inputs per column and row count, from the independent reference forward."""
    sums, counts = {}, {}
    for c in chunks:
        inputs = {}
        reference_forward(spec, c, inputs)
        for name, rows in inputs.items():
            if not name.startswith("blk."):
                continue
            x = np.asarray(rows)
            sums[name] = sums.get(name, 0) + (x * x).sum(0)
            counts[name] = counts.get(name, 0) + len(x)
    return sums, counts


def test_values_equal_direct_computation(tiny_llama, calib_file, tmp_path):
    path, spec = tiny_llama
    out = compute_imatrix(path, text=str(calib_file), ctx=CTX, chunks=3, out_path=tmp_path / "im.gguf",
                          progress=False, numerics="fp32")
    fields, tensors, shapes = read_gguf(out)
    assert fields["general.type"] == "imatrix"
    assert fields["imatrix.datasets"] == [str(calib_file)]
    assert fields["imatrix.chunk_count"] == 3
    assert fields["imatrix.chunk_size"] == CTX

    tok = Tokenizer.from_gguf(path)
    ids = tok.encode(calib_file.read_text(encoding="utf-8"))
    chunks = text_chunks(ids, CTX, 3, tok.bos_id)
    want_sums, want_counts = expected_imatrix(spec, chunks)
    assert sorted(want_sums) == sorted(n for n in spec["weights"] if n.startswith("blk.") and
                                       spec["weights"][n].ndim == 2)
    names = sorted(t[:-len(".in_sum2")] for t in tensors if t.endswith(".in_sum2"))
    assert names == sorted(want_sums)
    assert sorted(tensors) == sorted([n + ".in_sum2" for n in names] + [n + ".counts" for n in names])
    for n in names:
        cols = spec["weights"][n].shape[1]
        assert shapes[n + ".in_sum2"] == (cols,)
        assert shapes[n + ".counts"] == (1,)
        assert tensors[n + ".counts"][0] == want_counts[n] == 3 * CTX
        np.testing.assert_allclose(tensors[n + ".in_sum2"], want_sums[n], rtol=2e-4, atol=0)


def test_chunks_follow_llama_imatrix():
    toks = np.arange(100, 200)
    ch = text_chunks(toks, 30, None, bos_id=1)
    assert len(ch) == 3  # the 10-token tail is dropped
    assert [c[0] for c in ch] == [1, 1, 1]
    assert list(ch[1][1:]) == list(range(131, 160))
    assert len(text_chunks(toks, 30, 2, None)) == 2
    assert text_chunks(toks, 30, None, None)[2][0] == 160


def test_collector_skips_small_batches_and_other_weights():
    c = ImatrixCollector()
    x = np.ones((16, 4), np.float32)
    c("blk.0.attn_q.weight", x)
    c("blk.0.attn_q.weight", np.ones((15, 4), np.float32))  # fewer than 16 rows: ignored
    c("token_embd.weight", x)
    c("output.weight", x)
    assert list(c.sums) == ["blk.0.attn_q.weight"] and c.counts["blk.0.attn_q.weight"] == 16
    c2 = ImatrixCollector(process_output=True)
    c2("output.weight", 2 * x)
    np.testing.assert_array_equal(c2.sums["output.weight"], np.full(4, 64.0))


def test_writer_layout_is_readable_by_gguf(tmp_path):
    sums = {"blk.1.ffn_down.weight": np.arange(8, dtype=np.float64), "blk.0.attn_q.weight": np.ones(3)}
    counts = {"blk.1.ffn_down.weight": 64, "blk.0.attn_q.weight": 64}
    p = write_imatrix_gguf(tmp_path / "w.gguf", sums, counts, datasets=["a.txt", "b.txt"], chunk_count=2,
                           chunk_size=32)
    fields, tensors, shapes = read_gguf(p)
    assert fields["imatrix.datasets"] == ["a.txt", "b.txt"]
    assert list(tensors) == ["blk.0.attn_q.weight.in_sum2", "blk.0.attn_q.weight.counts",
                             "blk.1.ffn_down.weight.in_sum2", "blk.1.ffn_down.weight.counts"]
    np.testing.assert_array_equal(tensors["blk.1.ffn_down.weight.in_sum2"], np.arange(8, dtype=np.float32))
    assert p.read_bytes()[:4] == b"GGUF" and "general.architecture" not in fields


def test_reads_back_through_dgkernels_reader(tiny_llama, calib_file, tmp_path):
    io = pytest.importorskip("dgkernels.imatrix_io", reason="dgkernels.imatrix_io (the reader) is not on this branch")
    path, spec = tiny_llama
    out = compute_imatrix(path, text=str(calib_file), ctx=CTX, chunks=2, out_path=tmp_path / "im.gguf",
                          progress=False)
    reader = next((getattr(io, n) for n in ("read_imatrix", "load_imatrix", "read") if hasattr(io, n)), None)
    if reader is None:
        pytest.skip("dgkernels.imatrix_io has no read_imatrix/load_imatrix")
    im = reader(out)
    entries = getattr(im, "entries", im)
    _, tensors, _ = read_gguf(out)
    names = sorted(t[:-len(".in_sum2")] for t in tensors if t.endswith(".in_sum2"))
    assert sorted(entries) == names
    for n in names:
        e = entries[n]
        vals = np.asarray(getattr(e, "values", e), dtype=np.float64).reshape(-1)
        assert vals.size == spec["weights"][n].shape[1]
        assert np.all(np.isfinite(vals)) and np.all(vals >= 0)


def test_imatrix_lowers_weighted_error(tiny_llama, calib_file, tmp_path):
    """The point of it all: encoding with the computed importance lowers the importance-weighted error."""
    path, spec = tiny_llama
    out = compute_imatrix(path, text=str(calib_file), ctx=CTX, out_path=tmp_path / "im.gguf", progress=False)
    _, tensors, _ = read_gguf(out)
    rng = np.random.default_rng(7)
    wins = 0
    names = ["blk.0.attn_q.weight", "blk.0.ffn_up.weight", "blk.1.attn_k.weight", "blk.1.ffn_down.weight"]
    for n in names:
        im = tensors[n + ".in_sum2"] / tensors[n + ".counts"][0]
        w = rng.standard_normal((256, im.size)).astype(np.float32)
        for fmt in ("Q4_0", "IQ4_NL"):
            plain = dg.dequantize(dg.quantize(w, fmt), fmt)
            weighted = dg.dequantize(dg.quantize(w, fmt, imatrix=im), fmt)
            e_plain = float(((w - plain) ** 2 * im).sum())
            e_imat = float(((w - weighted) ** 2 * im).sum())
            wins += e_imat < e_plain
    assert wins == 2 * len(names)


def test_self_calibration_is_deterministic(tiny_llama, tmp_path):
    path, _ = tiny_llama
    a = compute_imatrix(path, self_tokens=2 * CTX, ctx=CTX, out_path=tmp_path / "a.gguf", progress=False, seed=3)
    b = compute_imatrix(path, self_tokens=2 * CTX - 5, ctx=CTX, out_path=tmp_path / "b.gguf", progress=False,
                        seed=3)
    c = compute_imatrix(path, self_tokens=2 * CTX, ctx=CTX, out_path=tmp_path / "c.gguf", progress=False, seed=4)
    fa, ta, _ = read_gguf(a)
    fb, tb, _ = read_gguf(b)
    _, tc, _ = read_gguf(c)
    assert fa["imatrix.chunk_count"] == 2 and ta["blk.0.attn_q.weight.counts"][0] == 2 * CTX
    for n in ta:
        np.testing.assert_array_equal(ta[n], tb[n])  # same seed, same chunks (N rounds up to whole chunks)
    assert not np.array_equal(ta["blk.1.ffn_down.weight.in_sum2"], tc["blk.1.ffn_down.weight.in_sum2"])
    assert fa["imatrix.datasets"][0].startswith("self-generated:")


def test_generated_text_avoids_control_tokens(tiny_llama):
    from dgkernels.forward.generate import generate_chunks
    path, _ = tiny_llama
    m = load_model(path)
    tok = Tokenizer.from_gguf(m.file)
    seqs = generate_chunks(m, tok, 3 * 20, 20, seed=1, batch=2)
    assert len(seqs) == 3 and all(len(s) == 20 for s in seqs)
    for s in seqs:
        assert s[0] == tok.bos_id  # the tiny model adds BOS
        assert not set(s[1:].tolist()) & set(tok.control_ids())


def test_cli(tiny_llama, calib_file, tmp_path, capsys):
    path, _ = tiny_llama
    out = tmp_path / "cli.gguf"
    assert cli_main([str(path), "--text", str(calib_file), "-o", str(out), "--ctx", str(CTX), "--chunks", "1",
                     "--no-progress"]) == 0
    fields, tensors, _ = read_gguf(out)
    assert fields["imatrix.chunk_count"] == 1 and tensors["blk.0.attn_v.weight.counts"][0] == CTX
    assert cli_main([str(path), "--text", str(calib_file), "-o", str(out), "--ctx", "100000"]) == 2
    assert "fewer than one chunk" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main([str(path), "-o", str(out)])  # neither --text nor --self


def test_arguments_are_checked(tiny_llama, calib_file, tmp_path):
    path, _ = tiny_llama
    with pytest.raises(ValueError, match="exactly one"):
        compute_imatrix(path, out_path=tmp_path / "x.gguf")
    with pytest.raises(ValueError, match="ctx"):
        compute_imatrix(path, text=str(calib_file), ctx=8, out_path=tmp_path / "x.gguf")
    with pytest.raises(ValueError, match="chunks"):
        compute_imatrix(path, text=str(calib_file), chunks=0, out_path=tmp_path / "x.gguf")


def test_demo_model_imatrix_shapes(tmp_path):
    """One short chunk on SmolLM2: every blk weight is there with its input width."""
    path = demo_or_skip()
    text = DATA / "emma_calib.txt"
    if not text.is_file():
        pytest.skip("emma_calib.txt not found")
    m = load_model(path)
    out = compute_imatrix(path, text=str(text), ctx=64, chunks=1, out_path=tmp_path / "smol.gguf",
                          progress=False, model=m)
    _, tensors, shapes = read_gguf(out)
    assert len(tensors) == 2 * 7 * m.hp.n_layer
    assert shapes["blk.0.ffn_down.weight.in_sum2"] == (m.hp.n_ff,)
    assert shapes["blk.29.attn_q.weight.in_sum2"] == (m.hp.n_embd,)
    assert all(v[0] == 64 for k, v in tensors.items() if k.endswith(".counts"))
