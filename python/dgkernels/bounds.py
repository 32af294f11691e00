"""Round-trip error bounds per format, and the weight-like data they hold for.

`BOUNDS[fmt]` bounds RMS(decode(encode(x)) - x) / RMS(x), measured over a whole array, for arrays drawn
by `sample()` whose rows have max |x| inside `AMPLITUDE[fmt]`. The encoders are ggml's algorithms bit for
bit, so a bound is a property of ggml's algorithm: each was measured (ggml through libgguf, which gives the
same bytes) as the worst case over 11000 draws by `measure()` (every family of `FAMILIES`, with and without
a lognormal imatrix of sigma 0..2, 1..4 rows of 1..4 super-blocks), then doubled; a few are proved from
the quantization step instead. Re-derive with `python -m dgkernels.bounds`.

Excluded on purpose (documented ggml behaviour, not a kernel property):
* rows whose max |x| is outside AMPLITUDE: fp16 block scales overflow to inf above it and become
  subnormal or zero below it (error then reaches 1, or more for formats with a stored minimum);
* element-sparse rows ("sparse") without an imatrix, for the IQ formats: their weights are x^2, so exact
  zeros weigh nothing and the search may put any grid value there (IQ1_M reaches 22x RMS(x)).
"""
from __future__ import annotations

import math

import numpy as np

# Family names for sample(). "sparse" is subject to SPARSE_NEEDS_IMATRIX.
FAMILIES = ("gauss", "laplace", "student_t", "uniform", "outliers", "block_scales", "zero_blocks",
            "constant_blocks", "discrete", "sparse")

# Formats whose encoder without imatrix weights element j by x_j^2 (or a super-block sigma so small that
# exact zeros are free): the bound holds for element-sparse rows only when an imatrix is passed.
SPARSE_NEEDS_IMATRIX = frozenset({"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S"})

# Range of a row's max |x| over which the bound holds. Derived from a scan of N(0,1) rows scaled to
# max |x| = 10^k (k = -12..6) through ggml: the low end is at least one decade above the last k whose
# error departs from the scale-invariant value (fp16 scales turning subnormal), the high end at least one
# decade below the first k that gives inf (fp16 scale overflow: d ~ amax/nmax, or the stored min for
# Q4_1/Q5_1, or d = amax for TQ1_0/TQ2_0). Float formats: the fp16/bf16 normal range.
AMPLITUDE: dict[str, tuple[float, float]] = {
    "F32": (1e-30, 1e30),
    "F16": (1e-2, 6e4),      # fp16 normals start at 6.1e-5; 65504 is the largest fp16
    "BF16": (1e-30, 1e30),
    "Q4_0": (1e-4, 1e4),     # d = max/-8: inf at 1e6, subnormal below ~1e-5
    "Q4_1": (1e-3, 1e3),     # m = fp16(min): inf at 1e5; error 2.3 at 1e-7 (d and m subnormal)
    "Q5_0": (1e-3, 1e5),
    "Q5_1": (1e-3, 1e3),     # as Q4_1
    "Q8_0": (1e-2, 1e5),     # d = amax/127
    "Q2_K": (1e-3, 1e4),     # dmin overflows at 1e6
    "Q3_K": (1e-3, 1e5),
    "Q4_K": (1e-2, 1e5),     # d = max_scale/63 of a 4-bit scale: subnormal below 1e-4
    "Q5_K": (1e-2, 1e5),
    "Q6_K": (1e-1, 1e5),     # d = max_scale/-128 of amax/32: subnormal below 1e-3
    "Q8_K": (1e-30, 1e30),   # f32 scale
    "IQ1_S": (1e-4, 1e5),
    "IQ1_M": (1e-4, 1e5),
    "IQ2_XXS": (1e-3, 1e5),
    "IQ2_XS": (1e-3, 1e5),
    "IQ2_S": (1e-3, 1e5),
    "IQ3_XXS": (1e-3, 1e5),
    "IQ3_S": (1e-2, 1e5),
    "IQ4_NL": (1e-3, 1e5),
    "IQ4_XS": (1e-2, 1e5),
    "TQ1_0": (1e-5, 1e3),    # d = fp16(amax): inf at 1e5
    "TQ2_0": (1e-5, 1e3),
    "MXFP4": (1e-30, 1e30),  # e8m0 scale: 2^-127..2^127
}

# The bounds. Measured ones: "worst W (family)" is the largest error ggml gave over 11000 draws of
# measure() (3000 with seed 0, 8000 with seed 1); the bound is 2 x W rounded up (imatrices with sigma up
# to 2 make the unweighted error heavy-tailed, so one run's maximum is not a stable worst case).
# "step" bounds are proofs: |error| <= half a quantization step per element plus the scale's rounding,
# and RMS(x) of a block >= max|x| / sqrt(block size).
BOUNDS: dict[str, float] = {
    "F32": 0.0,          # exact
    "F16": 5e-4,         # step: round to nearest, |error| <= 2^-11 |x| (4.9e-4) for normal fp16 values
    "BF16": 4e-3,        # step: round to nearest, |error| <= 2^-8 |x| (3.9e-3)
    "Q4_0": 0.37,        # worst 0.185 (outliers)
    "Q4_1": 0.35,        # worst 0.172 (student_t)
    "Q5_0": 0.27,        # worst 0.131 (student_t)
    "Q5_1": 0.17,        # worst 0.085 (outliers)
    "Q8_0": 0.026,       # step: (amax/254 + 127 d 2^-11) sqrt(32) / amax = 0.0251 (measured worst 0.014)
    "Q2_K": 1.24,        # worst 0.618 (sparse)
    "Q3_K": 0.50,        # worst 0.246 (student_t)
    "Q4_K": 0.37,        # worst 0.183 (outliers)
    "Q5_K": 0.20,        # worst 0.098 (outliers)
    "Q6_K": 0.30,        # worst 0.150 (outliers)
    "Q8_K": 0.064,       # step: f32 scale, |error| <= amax/254, x sqrt(256) / amax = 0.063
    "IQ1_S": 1.94,       # worst 0.967 (outliers)
    "IQ1_M": 10.06,      # worst 5.027 (student_t, no imatrix: x^2 weights ignore all but the tail)
    "IQ2_XXS": 2.16,     # worst 1.077 (student_t)
    "IQ2_XS": 1.64,      # worst 0.820 (student_t)
    "IQ2_S": 1.59,       # worst 0.793 (student_t)
    "IQ3_XXS": 1.25,     # worst 0.621 (student_t)
    "IQ3_S": 2.98,       # worst 1.487 (sparse, with imatrix)
    "IQ4_NL": 0.32,      # worst 0.159 (outliers)
    "IQ4_XS": 0.30,      # worst 0.150 (outliers)
    "TQ1_0": 1.01,       # step: the nearest of {-d, 0, d}, d = max|x|, is never farther than 0, so |error| <= |x|;
                         # + fp16(d) rounding 2^-11 d sqrt(256) (measured worst 0.947)
    "TQ2_0": 1.01,       # step: as TQ1_0 (measured worst 0.947)
    "MXFP4": 0.49,       # worst 0.242 (discrete)
}


def relative_rms_error(x: np.ndarray, y: np.ndarray) -> float:
    """RMS(y - x) / RMS(x) over the whole array, in float64; 0 for an all-zero x decoded to zeros."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    den = float(np.sum(x * x))
    num = float(np.sum((y - x) ** 2))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return math.sqrt(num / den)


def sample(rng: np.random.Generator, family: str, rows: int, n: int, block: int, amplitude: float) -> np.ndarray:
    """float32 (rows, n) of weight-like data of one family; each nonzero row scaled to max |x| = amplitude.

    `block` is the format's block size: zero_blocks/constant_blocks act on whole blocks, so every block
    kind a format can meet (zero, constant, dense) is produced.
    """
    if n % block:
        raise ValueError(f"n={n} is not a multiple of block={block}")
    nb = n // block
    g = rng.standard_normal((rows, n))
    if family == "gauss":
        x = g
    elif family == "laplace":
        x = rng.laplace(size=(rows, n))
    elif family == "student_t":
        x = rng.standard_t(rng.choice([1, 2, 3, 5]), size=(rows, n))
    elif family == "uniform":
        x = rng.uniform(-1.0, 1.0, (rows, n))
    elif family == "outliers":
        x = g.copy()
        hit = rng.random((rows, n)) < rng.uniform(0.002, 0.03)
        x[hit] *= rng.uniform(10.0, 100.0, int(hit.sum()))
    elif family == "block_scales":  # per-32 scales over 10^+-2, as real weights vary between channels
        grp = 32 if n % 32 == 0 else block
        x = (g.reshape(rows, -1, grp) * 10.0 ** rng.uniform(-2, 2, (rows, n // grp, 1))).reshape(rows, n)
    elif family == "zero_blocks":
        x = g.reshape(rows, nb, block).copy()
        x[rng.random((rows, nb)) < 0.5] = 0.0
        x = x.reshape(rows, n)
    elif family == "constant_blocks":
        x = g.reshape(rows, nb, block).copy()
        pick = rng.random((rows, nb)) < 0.5
        x[pick] = rng.standard_normal((int(pick.sum()), 1))
        x = x.reshape(rows, n)
    elif family == "discrete":  # few distinct values: ternary-like or small integers, many ties
        x = rng.integers(-rng.integers(1, 8), rng.integers(1, 8) + 1, (rows, n)).astype(np.float64)
    elif family == "sparse":
        x = np.where(rng.random((rows, n)) < rng.uniform(0.5, 0.95), 0.0, g)
    else:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    amax = np.max(np.abs(x), axis=1, keepdims=True)
    x = np.where(amax > 0, x / np.where(amax > 0, amax, 1.0) * amplitude, 0.0)
    return x.astype(np.float32)


def bound_applies(fmt: str, family: str, with_imatrix: bool) -> bool:
    """Whether BOUNDS[fmt] is claimed for this family (see the exclusions in the module doc)."""
    return not (family == "sparse" and not with_imatrix and fmt in SPARSE_NEEDS_IMATRIX)


def random_imatrix(rng: np.random.Generator, n: int, sigma: float | None = None) -> np.ndarray:
    """Positive lognormal importances, as llama-imatrix produces (sigma drawn in 0..2 when not given)."""
    s = rng.uniform(0.0, 2.0) if sigma is None else sigma
    return np.exp(s * rng.standard_normal(n)).astype(np.float32)


def measure(fmt: str, trials: int = 3000, seed: int = 0, backend: str = "dgkernels") -> tuple[float, str]:
    """Worst relative RMS error over `trials` random draws, and the draw that gave it.

    backend "libgguf" measures ggml itself (for deriving bounds before a kernel lands).
    """
    from .formats import format_info

    f = format_info(fmt)
    if backend == "libgguf":
        import libgguf

        def enc(x, im):
            return libgguf.quantize_rows(x, f.type_id, im)

        def dec(q):
            return libgguf.dequantize_rows(q, f.type_id)
    else:
        from .api import dequantize, quantize

        def enc(x, im):
            return quantize(x, f, imatrix=im)

        def dec(q):
            return dequantize(q, f)

    rng = np.random.default_rng(seed)
    lo, hi = AMPLITUDE[f.name]
    super_block = max(256, f.block_weights)
    worst, where = 0.0, ""
    for t in range(trials):
        family = FAMILIES[t % len(FAMILIES)]
        use_im = f.requires_imatrix or (f.imatrix != "ignored" and rng.random() < 0.5)
        if not bound_applies(f.name, family, use_im):
            continue
        rows, n = int(rng.integers(1, 5)), super_block * int(rng.integers(1, 5))
        amp = float(10.0 ** rng.uniform(math.log10(lo), math.log10(hi)))
        x = sample(rng, family, rows, n, f.block_weights, amp)
        if not np.any(x):
            continue
        im = random_imatrix(rng, n) if use_im else None
        e = relative_rms_error(x, dec(enc(x, im)))
        if e > worst:
            worst, where = e, f"{family}, rows={rows}, n={n}, amplitude={amp:.3g}, imatrix={use_im}"
    return worst, where


def main(argv=None) -> None:
    import argparse

    from .formats import formats

    p = argparse.ArgumentParser(description="Measure round-trip error and propose BOUNDS (worst x 2).")
    p.add_argument("--formats", default="", help="comma-separated formats (default: all quantized)")
    p.add_argument("--trials", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=["dgkernels", "libgguf"], default="dgkernels")
    a = p.parse_args(argv)
    names = [s.strip().upper() for s in a.formats.split(",") if s.strip()] or \
        [f.name for f in formats() if f.is_quantized]
    for name in names:
        worst, where = measure(name, a.trials, a.seed, backend=a.backend)
        print(f'    "{name}": {math.ceil(worst * 2 * 100) / 100:.2f},  # worst {worst:.3f} ({where})', flush=True)


if __name__ == "__main__":
    main()
