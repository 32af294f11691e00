"""How much of the IQ1_S split search could bounds prune? (the evidence for why IQ1_S encode stays
below 10x ggml: the search is ~3/4 of its instructions at ~3.5 instructions per candidate).

The search scores every split (i1 <= i2) of a 32-weight group's sorted values into levels 0|1|2, both
shifts: 1122 candidates, scanned by the AVX2 encoder as 85 chunks of 8 consecutive i2. A chunk can
be skipped only if an upper bound of its scores lies below the best score (less a small margin).
This prints, per group and in float64 on N(0,1) rows with an exp(N(0,1)) importance matrix (the
benchmark's inputs): the chunks whose true maximum is within 5% / 0.2% of the group's best, and the
chunks that survive an interval bound (max qx^2 over the chunk's prefix-sum range / min q2) taken
over the whole chunk, its halves or its quarters.

    python3 benchmarks/iq1_split_landscape.py [--rows 4]
"""
from __future__ import annotations

import argparse

import numpy as np

DELTA = 0.125  # IQ1 shift
SHIFTS = (np.array([-1 + DELTA, DELTA, 1 + DELTA]), np.array([-1 - DELTA, -DELTA, 1 - DELTA]))


def chunk_stats(sx: np.ndarray, sw: np.ndarray, i1: int, i2: np.ndarray, part: int) -> tuple[float, float]:
    """(true max score, interval upper bound with sub-chunks of `part` lanes) of one chunk."""
    best, bound = -1.0, -1.0
    for v in SHIFTS:
        qx = sx[i1] * v[0] + (sx[i2] - sx[i1]) * v[1] + (sx[32] - sx[i2]) * v[2]
        q2 = sw[i1] * v[0] ** 2 + (sw[i2] - sw[i1]) * v[1] ** 2 + (sw[32] - sw[i2]) * v[2] ** 2
        ok = q2 > 0
        if ok.any():
            best = max(best, float(np.max(qx[ok] ** 2 / q2[ok])))
        for s in range(0, len(i2), part):
            j = i2[s:s + part]
            # qx is affine in sx[i2] (slope v1 - v2), q2 decreasing in sw[i2] (v1^2 < v2^2)
            ends = sx[i1] * (v[0] - v[1]) + sx[32] * v[2] + (v[1] - v[2]) * np.array([sx[j].min(), sx[j].max()])
            qmin = (sw[i1] * v[0] ** 2 + (sw[j] - sw[i1]) * v[1] ** 2 + (sw[32] - sw[j]) * v[2] ** 2).min()
            bound = max(bound, float(np.max(ends ** 2) / qmin) if qmin > 0 else np.inf)
    return best, bound


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4, help="rows of 4096 weights (128 groups each)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    parts = (8, 4, 2)
    counts = {"max within 5%": 0, "max within 0.2%": 0, **{f"bound/{p} survives": 0 for p in parts}}
    groups = 0
    for _ in range(args.rows):
        x, im = rng.standard_normal(4096), np.exp(rng.standard_normal(4096))
        for b in range(0, 4096, 256):
            xs = x[b:b + 256]
            sigma2 = 2 * np.sum(xs * xs) / 256
            for g in range(b, b + 256, 32):
                xb = x[g:g + 32]
                w = im[g:g + 32] * np.sqrt(sigma2 + xb * xb)
                o = np.argsort(xb, kind="stable")
                sx = np.concatenate([[0.0], np.cumsum(w[o] * xb[o])])
                sw = np.concatenate([[0.0], np.cumsum(w[o])])
                chunks = [(i1, np.arange(c, min(c + 8, 33))) for i1 in range(33) for c in range(i1, 33, 8)]
                stats = {p: np.array([chunk_stats(sx, sw, i1, i2, p) for i1, i2 in chunks]) for p in parts}
                top = stats[8][:, 0].max()
                counts["max within 5%"] += int((stats[8][:, 0] >= 0.95 * top).sum())
                counts["max within 0.2%"] += int((stats[8][:, 0] >= 0.998 * top).sum())
                for p in parts:
                    counts[f"bound/{p} survives"] += int((stats[p][:, 1] >= 0.998 * top).sum())
                groups += 1
    print(f"# {groups} groups of 32, 85 chunks (1122 candidates) each; chunks per group:")
    for k, v in counts.items():
        print(f"{k:20s} {v / groups:6.1f}  ({100 * v / groups / 85:4.1f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
