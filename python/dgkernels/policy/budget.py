"""Budget policy: the per-tensor formats that minimise the predicted error within a size budget.

Error model (what is minimised)
  For a matrix W (rows = outputs, columns = inputs) and its quantized copy Q, with importance
  w_j = E[a_j^2] (the imatrix: mean squared activation of input column j; 1 without an imatrix),
      err(W, Q)    = sum_ij w_j (W_ij - Q_ij)^2      expected squared error of the layer output W a
      energy(W)    = sum_ij w_j W_ij^2               expected squared layer output
      nsr          = err / energy                    the output's noise-to-signal ratio
  The objective is sum_t s_t * nsr_t over the quantized tensors. The sensitivity s_t is 1 for every
  tensor unless the caller sets a multiplier per category: each matrix adds its output to the residual
  stream, and to first order independent relative errors of those outputs add up; token embeddings
  (a lookup) use w = 1. nsr is measured by actually encoding the tensor with the kernels and the imatrix:
  all rows, or for tensors of more than `sample_weights` weights, that many weights' worth of whole rows
  evenly spaced through the tensor (row k*n_rows//m for k < m), which keeps the estimate unbiased for
  row-independent formats (every GGUF format quantizes rows independently).

Solver
  Each tensor's candidates are reduced to their Pareto front (no other candidate is both smaller and
  better). The LP relaxation (greedy over the fronts' convex hulls, i.e. a Lagrangian sweep) gives a lower
  bound and a feasible start; a greedy fix-up spends what is left. Then an exact dynamic programme over
  (bytes, error) states, pruned by dominance and by the LP bound of the remaining tensors, proves the
  optimum or improves on it; it gives up after `max_states` states, keeping the best plan found and
  reporting the gap to the lower bound.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from ..formats import format_info

DEFAULT_CANDIDATES = ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S", "Q2_K", "Q3_K",
                      "IQ4_XS", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0")
DEFAULT_SAMPLE_WEIGHTS = 1 << 18


@dataclass(frozen=True)
class Option:
    format: str
    bytes: int
    error: float  # sensitivity-scaled nsr


def sample_rows(n_rows: int, row_length: int, sample_weights: int) -> np.ndarray:
    """Row indices measured for a tensor: all, or evenly spaced whole rows worth `sample_weights` weights."""
    m = max(1, sample_weights // max(1, row_length))
    if m >= n_rows:
        return np.arange(n_rows)
    return (np.arange(m, dtype=np.int64) * n_rows) // m


def weighted_error(x: np.ndarray, fmt: str, imatrix: np.ndarray | None, threads=None) -> tuple[float, float]:
    """(err, energy) of encoding rows `x` (2-D float32) in `fmt` with the kernels, as in the module doc."""
    from ..api import dequantize, quantize
    q = dequantize(quantize(x, fmt, imatrix=imatrix, threads=threads), fmt, threads=threads)
    w = np.ones(x.shape[-1], np.float64) if imatrix is None else imatrix.astype(np.float64)
    d = (x.astype(np.float64) - q) ** 2
    return float(d.sum(axis=0) @ w), float((x.astype(np.float64) ** 2).sum(axis=0) @ w)


def pareto(options: list[Option]) -> list[Option]:
    """Options sorted by size with strictly falling error; anything dominated is dropped."""
    out: list[Option] = []
    for o in sorted(options, key=lambda o: (o.bytes, o.error)):
        if out and o.bytes == out[-1].bytes:
            continue
        if not out or o.error < out[-1].error:
            out.append(o)
    return out


def _hull(front: list[Option]) -> list[int]:
    """Indices of the lower convex hull of a front (the points a Lagrangian sweep can pick)."""
    h: list[int] = []
    for i, o in enumerate(front):
        while len(h) >= 2:
            a, b = front[h[-2]], front[h[-1]]
            # drop b if it lies on or above the segment a -> o
            if (b.error - a.error) * (o.bytes - a.bytes) >= (o.error - a.error) * (b.bytes - a.bytes):
                h.pop()
            else:
                break
        h.append(i)
    return h


class _LpBound:
    """LP relaxation value of a set of fronts as a function of the budget (convex, piecewise linear)."""

    def __init__(self, fronts: list[list[Option]]):
        self.base_bytes = sum(f[0].bytes for f in fronts)
        self.base_err = sum(f[0].error for f in fronts)
        segs = []
        for f in fronts:
            h = _hull(f)
            for a, b in zip(h, h[1:]):
                db, de = f[b].bytes - f[a].bytes, f[a].error - f[b].error
                segs.append((de / db, db, de))
        segs.sort(key=lambda s: -s[0])
        self.rates = np.array([s[0] for s in segs] + [0.0])
        self.cum_bytes = np.concatenate([[0], np.cumsum([s[1] for s in segs], dtype=np.int64)])
        self.cum_gain = np.concatenate([[0.0], np.cumsum([s[2] for s in segs])])

    def __call__(self, budget):
        """Lower bound on the error for budget(s) (scalar or array); inf where even the smallest does not fit."""
        x = np.asarray(budget, dtype=np.float64) - self.base_bytes
        k = np.searchsorted(self.cum_bytes, x, side="right") - 1
        k = np.clip(k, 0, len(self.cum_bytes) - 1)
        gain = self.cum_gain[k] + np.maximum(x - self.cum_bytes[k], 0) * self.rates[k]
        return np.where(x < 0, np.inf, self.base_err - gain)


def _greedy(fronts: list[list[Option]], budget: int) -> list[int]:
    """Lagrangian start (whole hull steps by falling error-per-byte), then fix-up with any upgrade that fits."""
    pick = [0] * len(fronts)
    used = sum(f[0].bytes for f in fronts)
    hulls = [_hull(f) for f in fronts]
    pos = [0] * len(fronts)
    while True:  # hull steps, steepest first, while they fit
        best, bi = None, -1
        for i, f in enumerate(fronts):
            h = hulls[i]
            if pos[i] + 1 < len(h):
                a, b = f[h[pos[i]]], f[h[pos[i] + 1]]
                rate = (a.error - b.error) / (b.bytes - a.bytes)
                if (best is None or rate > best) and used - a.bytes + b.bytes <= budget:
                    best, bi = rate, i
        if bi < 0:
            break
        a, b = fronts[bi][hulls[bi][pos[bi]]], fronts[bi][hulls[bi][pos[bi] + 1]]
        used += b.bytes - a.bytes
        pos[bi] += 1
        pick[bi] = hulls[bi][pos[bi]]
    while True:  # fix-up: best error reduction per byte among all upgrades that still fit
        best, move = 0.0, None
        for i, f in enumerate(fronts):
            cur = f[pick[i]]
            for j in range(pick[i] + 1, len(f)):
                o = f[j]
                if used - cur.bytes + o.bytes > budget:
                    break
                rate = (cur.error - o.error) / (o.bytes - cur.bytes)
                if rate > best:
                    best, move = rate, (i, j)
        if move is None:
            break
        i, j = move
        used += fronts[i][j].bytes - fronts[i][pick[i]].bytes
        pick[i] = j
    return pick


def solve(fronts: list[list[Option]], budget: int, max_states: int = 200_000) -> dict:
    """Pick one option per front: total bytes <= budget, minimal total error.

    Returns {"pick": [index per front], "bytes", "error", "lower_bound", "optimal"}.
    """
    fronts = [pareto(f) for f in fronts]
    if any(not f for f in fronts):
        raise ValueError("every tensor needs at least one candidate format")
    smallest = sum(f[0].bytes for f in fronts)
    if smallest > budget:
        raise ValueError(f"budget of {budget:,d} bytes is below the smallest possible size {smallest:,d} bytes")
    lp = _LpBound(fronts)
    lower = float(lp(budget))
    pick = _greedy(fronts, budget)
    best_err = sum(f[p].error for f, p in zip(fronts, pick))

    # exact DP, largest fronts first; suffix bounds prune states that cannot beat the incumbent
    order = sorted(range(len(fronts)), key=lambda i: -len(fronts[i]))
    n = len(order)
    suffix = [_LpBound([fronts[order[k]] for k in range(i, n)]) if i < n else None for i in range(n + 1)]
    min_rest = [sum(fronts[order[k]][0].bytes for k in range(i, n)) for i in range(n + 1)]
    eps = 1e-12 * max(1.0, abs(best_err))
    states_b = np.zeros(1, np.int64)
    states_e = np.zeros(1, np.float64)
    parents: list[tuple[np.ndarray, np.ndarray]] = []
    optimal = True
    for k in range(n):
        f = fronts[order[k]]
        ob = np.array([o.bytes for o in f], np.int64)
        oe = np.array([o.error for o in f], np.float64)
        nb = (states_b[:, None] + ob[None, :]).ravel()
        ne = (states_e[:, None] + oe[None, :]).ravel()
        par = np.repeat(np.arange(states_b.size), ob.size)
        opt = np.tile(np.arange(ob.size), states_b.size)
        keep = nb + min_rest[k + 1] <= budget
        if k + 1 < n:
            rest = suffix[k + 1]
            kk = np.flatnonzero(keep)
            keep[kk[ne[kk] + rest(budget - nb[kk]) > best_err + eps]] = False
        nb, ne, par, opt = nb[keep], ne[keep], par[keep], opt[keep]
        # dominance: sorted by bytes, keep only states whose error beats every smaller state
        s = np.lexsort((ne, nb))
        nb, ne, par, opt = nb[s], ne[s], par[s], opt[s]
        if ne.size:
            prev_min = np.minimum.accumulate(ne)
            good = np.ones(ne.size, bool)
            good[1:] = ne[1:] < prev_min[:-1]
            nb, ne, par, opt = nb[good], ne[good], par[good], opt[good]
        if nb.size > max_states:
            optimal = False
            break
        parents.append((par, opt))
        states_b, states_e = nb, ne
        if nb.size == 0:
            break  # nothing beats the greedy plan: it is optimal
    if optimal and len(parents) == n and states_e.size and states_e.min() < best_err:
        i = int(np.argmin(states_e))
        new_pick = [0] * n
        for k in range(n - 1, -1, -1):
            par, opt = parents[k]
            new_pick[order[k]] = int(opt[i])
            i = int(par[i])
        pick = new_pick
        best_err = sum(f[p].error for f, p in zip(fronts, pick))
    used = sum(f[p].bytes for f, p in zip(fronts, pick))
    return {"pick": pick, "fronts": fronts, "bytes": used, "error": best_err,
            "lower_bound": best_err if optimal else min(lower, best_err), "optimal": optimal}
