"""Importance matrices: llama.cpp's legacy .dat and GGUF formats, written here byte by byte (independently of
dgkernels' writer) and by dgkernels' writer, read back, mapped to tensors, and refused when they do not fit."""
import struct

import gguf
import numpy as np
import pytest

from dgkernels.imatrix_io import Imatrix, ImatrixError, load_imatrix, save_imatrix
from dgkernels.policy import llama_layout
from dgkernels.policy.model import ModelSpec, TensorSpec


def write_legacy_by_hand(path, entries, chunks=7, dataset="emma.txt"):
    """entries: {name: (ncall, values stored in the file)}"""
    b = struct.pack("<i", len(entries))
    for name, (ncall, vals) in entries.items():
        nb = name.encode()
        b += struct.pack("<i", len(nb)) + nb + struct.pack("<ii", ncall, len(vals))
        b += np.asarray(vals, "<f4").tobytes()
    if chunks is not None:
        b += struct.pack("<i", chunks)
        d = dataset.encode()
        b += struct.pack("<i", len(d)) + d
    path.write_bytes(b)
    return path


def write_gguf_by_hand(path, entries, datasets=("emma.txt",), chunk_count=5, chunk_size=512):
    """entries: {name: (sums (n_mat, n), counts (n_mat,))} as llama-imatrix writes them."""
    w = gguf.GGUFWriter(str(path), arch="imatrix")
    del w.kv_data[0]["general.architecture"]
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", list(datasets))
    w.add_uint32("imatrix.chunk_count", chunk_count)
    w.add_uint32("imatrix.chunk_size", chunk_size)
    for name, (sums, counts) in entries.items():
        w.add_tensor(f"{name}.in_sum2", np.asarray(sums, np.float32))
        w.add_tensor(f"{name}.counts", np.asarray(counts, np.float32).reshape(-1, 1))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_legacy_values_are_divided_by_ncall(tmp_path, rng):
    v = rng.random(256).astype(np.float32) * 10
    p = write_legacy_by_hand(tmp_path / "a.dat", {"blk.0.attn_q.weight": (4, v), "blk.0.ffn_down.weight": (0, v)})
    im = load_imatrix(p)
    assert im.kind == "legacy" and len(im) == 2 and im.chunk_count == 7 and im.datasets == ["emma.txt"]
    assert np.array_equal(im.values["blk.0.attn_q.weight"][0], v / np.float32(4))
    assert np.array_equal(im.values["blk.0.ffn_down.weight"][0], v)  # ncall 0: taken as stored
    prov = im.provenance()
    assert prov["quantize.imatrix.dataset"] == "emma.txt" and prov["quantize.imatrix.entries_count"] == 2
    assert prov["quantize.imatrix.chunks_count"] == 7


def test_legacy_without_trailer(tmp_path):
    p = write_legacy_by_hand(tmp_path / "a.dat", {"x.weight": (1, [1.0, 2.0])}, chunks=None)
    im = load_imatrix(p)
    assert im.chunk_count == 0 and im.datasets == []


def test_gguf_values_are_sums_over_counts_per_expert(tmp_path, rng):
    sums = rng.random((4, 256)).astype(np.float32) * 100
    counts = np.array([10, 0, 3, 7], np.float32)
    dense = rng.random((1, 512)).astype(np.float32)
    p = write_gguf_by_hand(tmp_path / "im.gguf", {"blk.0.ffn_down_exps.weight": (sums, counts),
                                                   "blk.0.attn_q.weight": (dense, [2])})
    im = load_imatrix(p)
    assert im.kind == "gguf" and im.chunk_count == 5 and im.chunk_size == 512 and im.datasets == ["emma.txt"]
    v = im.values["blk.0.ffn_down_exps.weight"]
    assert v.shape == (4, 256)
    for m in (0, 2, 3):
        assert np.array_equal(v[m], sums[m] / counts[m])
    assert np.all(v[1] == 1.0)  # an expert that saw no tokens gets 1
    assert np.array_equal(im.values["blk.0.attn_q.weight"][0], dense[0] / np.float32(2))


@pytest.mark.parametrize("kind", ["gguf", "legacy"])
def test_roundtrip_through_our_writer(tmp_path, rng, kind):
    vals = {"blk.0.attn_q.weight": rng.random((1, 256)).astype(np.float32),
            "blk.1.ffn_down.weight": rng.random((1, 512)).astype(np.float32)}
    im = Imatrix(vals, datasets=["emma_calib.txt"], chunk_count=8, chunk_size=512)
    p = tmp_path / f"im.{kind}"
    save_imatrix(im, p, kind=kind)
    back = load_imatrix(p)
    assert back.kind == kind and back.datasets == ["emma_calib.txt"] and back.chunk_count == 8
    for k, v in vals.items():
        np.testing.assert_allclose(back.values[k], v, rtol=1e-6)


def test_mapping_and_mismatch(tmp_path):
    m = llama_layout(n_layer=2, n_embd=256, n_ff=512, n_head=4, n_head_kv=2, n_vocab=300)
    good = {"blk.0.attn_q.weight": np.ones((1, 256), np.float32),
            "blk.0.ffn_down.weight": np.ones((1, 512), np.float32)}
    im = Imatrix(dict(good), path="x")
    assert im.check(m) == 2
    assert im.for_tensor(m.tensor("blk.0.attn_q.weight")).shape == (1, 256)
    assert im.for_tensor(m.tensor("blk.1.attn_q.weight")) is None
    bad = Imatrix({**good, "blk.1.ffn_down.weight": np.ones((1, 256), np.float32)}, path="bad.dat")
    with pytest.raises(ImatrixError, match="blk.1.ffn_down.weight has 256 values but the tensor needs 512"):
        bad.check(m)
    other = Imatrix({"model.layers.0.mlp.down_proj": np.ones((1, 512), np.float32)}, path="other.dat")
    with pytest.raises(ImatrixError, match="another model"):
        other.check(m)
    # a tied output measured with another layout is ignored for token_embd, as llama.cpp does
    odd = Imatrix({"token_embd.weight": np.ones((1, 7), np.float32), **good})
    assert odd.for_tensor(m.tensor("token_embd.weight")) is None


def test_moe_entry_maps_per_expert():
    t = TensorSpec("blk.0.ffn_down_exps.weight", (512, 256, 4))
    m = ModelSpec("llama", 1, 4, 4, [t], n_expert=4)
    im = Imatrix({t.name: np.arange(4 * 512, dtype=np.float32).reshape(4, 512)})
    assert im.check(m) == 1
    assert im.for_tensor(t)[2, 0] == 2 * 512
    flat = Imatrix({t.name: np.arange(4 * 512, dtype=np.float32).reshape(1, -1)})  # legacy: one flat array
    assert flat.for_tensor(t).shape == (4, 512)


@pytest.mark.parametrize("content, msg", [
    (b"", "truncated"),
    (struct.pack("<i", 0), "no entries"),
    (struct.pack("<i", 1) + struct.pack("<i", 50) + b"abc" + bytes(20), "bad name length"),
    (struct.pack("<i", 1) + struct.pack("<i", 1) + b"a" + struct.pack("<ii", 1, 1000), "bad value count"),
    (b"just some text that is long enough", "entries cannot fit"),
])
def test_damaged_legacy_files(tmp_path, content, msg):
    p = tmp_path / "bad.dat"
    p.write_bytes(content)
    with pytest.raises(ImatrixError, match=msg):
        load_imatrix(p)


def test_gguf_problems(tmp_path):
    with pytest.raises(ImatrixError, match="no such imatrix file"):
        load_imatrix(tmp_path / "missing.dat")
    p = write_gguf_by_hand(tmp_path / "half.gguf", {"a.weight": (np.ones((1, 4)), [1])})
    r = gguf.GGUFReader(p)
    assert {t.name for t in r.tensors} == {"a.weight.in_sum2", "a.weight.counts"}
    w = gguf.GGUFWriter(str(tmp_path / "nocounts.gguf"), arch="imatrix")
    w.add_tensor("a.weight.in_sum2", np.ones((1, 4), np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(ImatrixError, match="no counts"):
        load_imatrix(tmp_path / "nocounts.gguf")
    # a finite count no int64 holds (a fuzzed file once cast 1e30 to garbage with a RuntimeWarning)
    write_gguf_by_hand(tmp_path / "huge.gguf", {"a.weight": (np.ones((1, 4)), [1e30])})
    with pytest.raises(ImatrixError, match="counts must be at most"):
        load_imatrix(tmp_path / "huge.gguf")
    write_gguf_by_hand(tmp_path / "big.gguf", {"a.weight": (np.ones((1, 4)), [2.0**40])})
    assert load_imatrix(tmp_path / "big.gguf").counts["a.weight"].tolist() == [2**40]
    w = gguf.GGUFWriter(str(tmp_path / "model.gguf"), arch="llama")
    w.add_tensor("blk.0.attn_q.weight", np.ones((4, 4), np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(ImatrixError, match="a model, not an imatrix"):
        load_imatrix(tmp_path / "model.gguf")
