"""An importance matrix must help where it claims to: with imatrix W, the W-weighted squared error is,
on average over many rows, not worse than when encoding with a uniform imatrix (or none)."""
import numpy as np
import pytest

import dgkernels as dg

WEIGHTED = [f.name for f in dg.formats() if f.imatrix != "ignored"]


@pytest.mark.parametrize("fmt", WEIGHTED)
def test_weighted_error_not_worse_than_uniform(fmt, rng):
    f = dg.format_info(fmt)
    n = 256 if f.block_weights <= 256 else f.block_weights
    x = rng.standard_normal((96, n)).astype(np.float32)
    w = np.exp(2.0 * rng.standard_normal(n)).astype(np.float32)  # strongly uneven importance

    def weighted_err(imatrix):
        y = dg.dequantize(dg.quantize(x, fmt, imatrix=imatrix), fmt)
        return float(np.mean(((y - x) ** 2) @ w))

    with_w = weighted_err(w)
    uniform = weighted_err(np.ones(n, np.float32))
    assert with_w <= uniform, f"{fmt}: weighted error {with_w:.4g} with the imatrix > {uniform:.4g} uniform"
