"""Fuzzing the kernels through the public API (issue: reliability). Decoders get arbitrary bytes;
encoders get arbitrary finite floats, including subnormals, +-0, and values near the float32 limits.
Each runs on every ISA. DGKERNELS_FUZZ_EXAMPLES sets the number of examples per format (CI default
below); tools/fuzz/ has an atheris harness for longer campaigns."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dgkernels as dg

EXAMPLES = int(os.environ.get("DGKERNELS_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = [f.name for f in dg.formats()]


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_decode_arbitrary_bytes(fmt, data):
    f = dg.format_info(fmt)
    nblocks = data.draw(st.integers(1, 16))
    raw = data.draw(st.binary(min_size=nblocks * f.block_bytes, max_size=nblocks * f.block_bytes))
    outs = []
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            y = dg.dequantize(np.frombuffer(raw, np.uint8), fmt)
        assert y.shape == (nblocks * f.block_weights,) and y.dtype == np.float32
        outs.append(y.view(np.uint32))
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])


finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=True)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if dg.format_info(f).is_quantized])
@FUZZ
@given(data=st.data())
def test_encode_arbitrary_finite_floats(fmt, data):
    f = dg.format_info(fmt)
    nblocks = data.draw(st.integers(1, 2 if f.block_weights == 256 else 8))
    n = nblocks * f.block_weights
    # Whole rows drawn element by element are slow; draw a few values and a pattern that spreads them.
    pool = np.array(data.draw(st.lists(finite_f32, min_size=1, max_size=16)), np.float32)
    idx = np.array(data.draw(st.lists(st.integers(0, len(pool) - 1), min_size=n, max_size=n)))
    x = pool[idx].reshape(1, n)
    imatrix = None
    if f.imatrix != "ignored" and (f.requires_imatrix or data.draw(st.booleans())):
        imatrix = np.array(data.draw(st.lists(st.floats(0, 1e6, width=32), min_size=n, max_size=n)), np.float32)
    outs = []
    for isa in dg.available_isas():
        with dg.using_isa(isa):
            q = dg.quantize(x, fmt, imatrix=imatrix)
            y = dg.dequantize(q, fmt)
        assert q.shape == (1, f.row_bytes(n)) and y.shape == (1, n)
        if np.abs(x).max() <= 3e4:
            # Documented: only inputs beyond fp16 range (6.5e4) may overflow an fp16 scale to inf/NaN.
            assert np.isfinite(y).all(), f"{fmt}: non-finite decode of in-range input"
        outs.append(q)
    for o in outs[1:]:
        assert np.array_equal(o, outs[0])
