"""transformers' `from_pretrained(gguf_file=...)` gives the same parameters with and without
`dgkernels.accelerate()`, and the accelerated load really goes through dgkernels."""
from __future__ import annotations

import pytest
from test_gguf_io import write_tiny_model

import dgkernels as dg
from dgkernels import compat

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# Formats transformers' GGUF loader hands to gguf-py (row length 256: every block size divides it).
QUANTIZED = {"blk.0.attn_k.weight": "Q4_K", "blk.0.ffn_up.weight": "IQ3_S", "blk.1.ffn_gate.weight": "Q6_K",
             "blk.1.attn_v.weight": "IQ4_XS", "blk.2.ffn_down.weight": "Q5_K", "blk.3.attn_output.weight": "Q8_0",
             "blk.2.attn_q.weight": "Q2_K", "blk.3.ffn_up.weight": "IQ3_XXS", "blk.3.attn_k.weight": "Q4_0"}


def load(folder):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file="tiny.gguf")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_parameters_identical_with_and_without_acceleration(tmp_path, monkeypatch):
    write_tiny_model(tmp_path / "tiny.gguf", quantized=QUANTIZED)
    was = dg.is_accelerated()
    try:
        dg.deaccelerate()
        plain = load(tmp_path)

        seen = []
        real = compat.dequantize
        monkeypatch.setattr(compat, "dequantize", lambda data, qtype: (seen.append(int(qtype)), real(data, qtype))[1])
        dg.accelerate()
        fast = load(tmp_path)
    finally:
        dg.deaccelerate()
        if was:
            dg.accelerate()

    import gguf
    assert set(plain) == set(fast)
    for name in plain:
        a, b = plain[name], fast[name]
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert torch.equal(a.view(torch.uint8) if a.dtype != torch.bool else a,
                           b.view(torch.uint8) if b.dtype != torch.bool else b), f"{name} differs"
    # every quantized tensor of the file went through dgkernels
    wanted = {int(gguf.GGMLQuantizationType[f]) for f in QUANTIZED.values()}
    assert wanted <= set(seen), sorted(wanted - set(seen))
