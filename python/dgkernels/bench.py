"""Benchmark: dgkernels against the peers installed here, measured in the same run, in one table.

    python -m dgkernels.bench [--quick] [--threads N] [--formats Q4_K,IQ2_XXS] [--json FILE] [--prealloc]

Per format: bits/weight; encode Mw/s without and with an imatrix (the latter where it selects another
algorithm); decode Mw/s to float32 and float16; relative RMS error of the round trip; the same for ggml
(libgguf, whose threads are set to --threads before it is imported) and gguf-py (numpy, one thread), with
ratios dgkernels/peer; whether dgkernels' bytes equal ggml's; and decode throughput of a tensor larger
than the last-level cache (64 MiB of float32 output) as a fraction of memory-write bandwidth
(np.ndarray.fill on 256 MiB, best of several).

Input: 256 x 4096 N(0,1) float32 rows (64 x 4096 with --quick). Every figure is the best of several
timed calls after a warm-up (time.perf_counter): at least 5, and up to 200 where calls are short (the
whole input in well under the 0.25 s a call aims for), so a fast kernel's figure is not the jitter of
5 sub-millisecond calls. Every measurement is time-boxed: a slow encoder is
timed on as many rows as fit its time box (at least one), so --quick stays under a minute. Peer set-up
that takes seconds (ggml builds its IQ1/IQ2 search tables on first use: ~90 s) is skipped in --quick.
dgkernels and ggml are timed side by side, in alternating blocks of calls within one time box, so
that a ratio's two figures see the same phases of a machine whose speed drifts. Formats whose kernels are
not implemented show "n/a". Decode timings include allocating the result
(what a plain call costs, page faults of fresh memory included); with --prealloc, dgkernels (out=) and
libgguf (dequantize_rows_into_raw) decode into a preallocated array instead, which times the kernels alone.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

# ggml formats whose first encode builds the iq2xs/iq1s neighbour maps (tens of seconds in ggml).
_GGML_SLOW_INIT = {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S"}
NA = float("nan")


@dataclass
class Budget:
    call_s: float   # aim for one timed call to take about this long (rows are chosen to fit)
    total_s: float  # stop repeating after this much time per measurement
    reps: int       # best of at least this many calls (unless total_s runs out first) ...
    max_reps: int = 0  # ... and of up to this many while the calls add up to under reps * call_s


# Fast calls (the whole input in well under call_s) are repeated more: the minimum of 5 calls of a
# fraction of a millisecond still carries the jitter of the machine.
FULL = Budget(call_s=0.25, total_s=2.0, reps=5, max_reps=200)
QUICK = Budget(call_s=0.01, total_s=0.08, reps=3, max_reps=20)


def _rows_for(run_rows, total_rows: int, budget: Budget) -> int:
    """Warms run_rows up (lazy tables, page faults, caches) and returns the rows that fit budget.call_s."""
    run_rows(1)
    t1 = min(_timed(lambda: run_rows(1)) for _ in range(2))
    return int(max(1, min(total_rows, budget.call_s / max(t1, 1e-9))))


def rates_interleaved(sides: dict, total_rows: int, cols: int, budget: Budget) -> dict:
    """rate() of several run_rows side by side: rounds in which each side makes a block of calls
    (at least two, about budget.call_s), at least three rounds, within one time box as long as
    theirs together. On a shared machine whose speed drifts (other tenants, clocks) both sides of
    a ratio then see the same phases, while each block still runs in its own steady state (its
    caches and allocations warm: one side's calls do not evict the other's between two timings).
    Each side's figure is its best call. Returns {side: (Mw/s, rows)}."""
    ks = {name: _rows_for(run, total_rows, budget) for name, run in sides.items()}
    best = dict.fromkeys(sides, math.inf)
    calls = dict.fromkeys(sides, 0)
    n_sides, most = len(sides), max(budget.reps, budget.max_reps)
    per_block = max(2, most // 3)
    start = time.perf_counter()
    box = min(budget.total_s, budget.reps * budget.call_s) * n_sides
    for rnd in range(1, most + 1):
        for name, run in sides.items():
            t_block = time.perf_counter()
            for c in range(per_block):
                t0 = time.perf_counter()
                run(ks[name])
                t1 = time.perf_counter()
                best[name] = min(best[name], t1 - t0)
                calls[name] += 1
                if c >= 1 and t1 - t_block > budget.call_s:
                    break
        elapsed = time.perf_counter() - start
        enough = rnd >= 3 and min(calls.values()) >= budget.reps
        if elapsed > budget.total_s * n_sides or min(calls.values()) >= most or (enough and elapsed > box):
            break
    return {name: (ks[name] * cols / best[name] / 1e6, ks[name]) for name in sides}


def rate(run_rows, total_rows: int, cols: int, budget: Budget) -> tuple[float, int]:
    """Mweights/s of run_rows(k) (which processes the first k rows), best of several calls on as many
    rows as fit budget.call_s; also the row count used. Raises what run_rows raises."""
    return rates_interleaved({"": run_rows}, total_rows, cols, budget)[""]


def write_bandwidth(nbytes: int = 256 << 20, reps: int = 5) -> float:
    """Bytes/s of np.ndarray.fill over nbytes, best of reps (the page faults of the first pass excluded)."""
    a = np.empty(nbytes // 8, np.float64)
    a.fill(0.0)
    best = min(_timed(lambda v=v: a.fill(v)) for v in range(1, reps + 1))
    return nbytes / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _rel_rms(x: np.ndarray, y: np.ndarray) -> float:
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    return float(np.sqrt(np.sum((y64 - x64) ** 2) / np.sum(x64 * x64)))


@dataclass
class Row:
    fmt: str
    bpw: float
    dg: dict = field(default_factory=dict)
    ggml: dict = field(default_factory=dict)
    ggufpy: dict = field(default_factory=dict)
    bytes_equal_ggml: bool | None = None
    big_decode_gbps: float = NA
    big_decode_fraction: float = NA


def bench_format(f, x: np.ndarray, im: np.ndarray, threads: int, budget: Budget, quick: bool, peers: dict,
                 big_weights: int, out_big: np.ndarray | None, prealloc: bool = False) -> Row:
    import dgkernels as dg

    rows, cols = x.shape
    r = Row(f.name, f.bits_per_weight)
    need_im = f.requires_imatrix

    # dgkernels, and ggml via libgguf timed alongside (rates_interleaved) where it has the format. The
    # rows an encode timing used (as many as fit its time box) also give the quality figure.
    lg = peers.get("libgguf")
    with_ggml = lg is not None and f.family != "float" and lg.row_size(f.type_id, f.block_weights) > 0 \
        and not (quick and f.name in _GGML_SLOW_INIT)

    def measure(key, dg_run, ggml_run):
        """r.dg[key] and r.ggml[key] (ggml_run None: dgkernels alone); returns the rows each used."""
        try:
            dg_run(1)
        except NotImplementedError:  # no dgkernels kernel: the peer alone
            dg_run = None
        sides = {k: v for k, v in (("dg", dg_run), ("ggml", ggml_run if with_ggml else None)) if v is not None}
        got = rates_interleaved(sides, rows, cols, budget) if sides else {}
        r.dg[key], k_dg = got.get("dg", (NA, 0))
        if "ggml" in got:
            r.ggml[key], k_g = got["ggml"]
            return k_dg, k_g
        return k_dg, 0

    def enc(im_):
        return lambda k: dg.quantize(x[:k], f, imatrix=im_, threads=threads)

    def lg_enc(im_):
        return lambda k: lg.quantize_rows(x[:k], f.type_id, im_)

    k_enc = k_g = 0
    if not need_im:
        k_enc, k_g = measure("enc", enc(None), lg_enc(None))
    if f.imatrix != "ignored":
        k_im, k_gi = measure("enc_im", enc(im), lg_enc(im))
        if need_im:
            k_enc, k_g = k_im, k_gi
    im_q = im if need_im else None
    q_plain = dg.quantize(x[:k_enc], f, imatrix=im_q, threads=threads) if k_enc else None
    if q_plain is None:  # no encoder yet: time the decoder on random bytes (every byte string is a valid block)
        q_src = np.random.default_rng(0).integers(0, 256, (rows, f.row_bytes(cols)), dtype=np.uint8)
    else:
        q_src = np.resize(q_plain, (rows, q_plain.shape[1]))  # the encoded rows repeated to the full input
        r.dg["rmse"] = _rel_rms(x[:k_enc], dg.dequantize(q_plain, f, threads=threads))
    outs = {dt: np.zeros((rows, cols), dt) if prealloc else None for dt in (np.float32, np.float16)}

    def dec(dt):
        return lambda k: dg.dequantize(q_src[:k], f, dtype=dt, threads=threads, out=None if outs[dt] is None else outs[dt][:k])

    if prealloc:
        def lg_dec(k):
            return lg.dequantize_rows_into_raw(f.type_id, q_src[:k], outs[np.float32][:k], k, cols)
    else:
        def lg_dec(k):
            return lg.dequantize_rows(q_src[:k], f.type_id)
    measure("dec_f32", dec(np.float32), lg_dec)
    measure("dec_f16", dec(np.float16), None)
    if with_ggml:  # k_g > 0: every format has an encoder timed above (plain, or with an imatrix)
        qg = lg.quantize_rows(x[:k_g], f.type_id, im_q)
        r.ggml["rmse"] = _rel_rms(x[:k_g], lg.dequantize_rows(qg, f.type_id))
        if q_plain is not None:
            k = min(k_g, k_enc)
            r.bytes_equal_ggml = bool(np.array_equal(qg[:k], q_plain[:k]))

    # gguf-py (numpy)
    gq = peers.get("gguf")
    if gq is not None and f.family != "float":
        qt = gq.GGMLQuantizationType(f.type_id)
        cls = gq.quants._type_traits.get(qt)
        if cls is not None and "quantize_blocks" in cls.__dict__:
            r.ggufpy["enc"], k = rate(lambda k: gq.quants.quantize(x[:k], qt), rows, cols, budget)
            with np.errstate(all="ignore"):
                r.ggufpy["rmse"] = _rel_rms(x[:k], gq.quants.dequantize(gq.quants.quantize(x[:k], qt), qt))
        if cls is not None:
            with np.errstate(all="ignore"):
                r.ggufpy["dec_f32"], _ = rate(lambda k: gq.quants.dequantize(q_src[:k], qt), rows, cols, budget)

    # decode of a tensor larger than the last-level cache, against memory-write bandwidth
    if out_big is not None and not math.isnan(r.dg.get("dec_f32", NA)):
        big_rows = big_weights // cols
        big_in = np.resize(q_src, (big_rows, q_src.shape[1]))
        out = out_big[: big_rows * cols].reshape(big_rows, cols)
        dg.dequantize(big_in, f, out=out, threads=threads)
        best = min(_timed(lambda: dg.dequantize(big_in, f, out=out, threads=threads)) for _ in range(2 if quick else 4))
        r.big_decode_gbps = out.nbytes / best / 1e9
        r.big_decode_fraction = r.big_decode_gbps * 1e9 / peers["write_bw"]
    return r


def _fmt(v, width=7, digits=None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a".rjust(width)
    if isinstance(v, bool):
        return ("yes" if v else "NO").rjust(width)
    if digits is not None:
        return f"{v:.{digits}f}".rjust(width)
    return (f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}").rjust(width)


def _ratio(a, b):
    if a is None or b is None or math.isnan(a) or math.isnan(b) or b == 0:
        return NA
    return a / b


COLUMNS = [
    ("format", 8), ("bpw", 6), ("enc", 7), ("enc+im", 7), ("dec32", 7), ("dec16", 7), ("rmse", 7),
    ("ggml:enc", 8), ("enc+im", 7), ("dec32", 7), ("=ggml", 6), ("x enc", 6), ("x im", 6), ("x dec", 6),
    ("gguf-py:enc", 11), ("dec32", 7), ("rmse", 7), ("x enc", 6), ("x dec", 6), ("big GB/s", 8), ("%bw", 5),
]


def render(results: list[Row], meta: dict) -> str:
    lines = [
        f"dgkernels {meta['version']} bench: {meta['rows']}x{meta['cols']} N(0,1) float32, threads={meta['threads']}, "
        f"isa={meta['isa']}; throughput in Mweights/s (best of several), rmse = RMS(dec(enc(x))-x)/RMS(x)",
        f"peers: ggml = libgguf {meta['libgguf'] or 'not installed'} (LIBGGUF_NUM_THREADS={meta['threads']}), "
        f"gguf-py {meta['gguf'] or 'not installed'} (numpy, 1 thread); x = dgkernels/peer; "
        f"=ggml: dgkernels bytes identical to ggml's",
        f"big: decode of {meta['big_mib']} MiB float32 output vs np.fill write bandwidth {meta['write_gbps']:.1f} GB/s",
        "decode into preallocated outputs (dgkernels out=, libgguf dequantize_rows_into_raw; gguf-py allocates)"
        if meta.get("prealloc") else "decode timings include allocating the result",
        "",
        " ".join(name.rjust(w) for name, w in COLUMNS),
    ]
    for r in results:
        g, p, d = r.ggml, r.ggufpy, r.dg
        vals = [
            r.fmt.ljust(8), _fmt(r.bpw, 6, 3), _fmt(d.get("enc")), _fmt(d.get("enc_im")), _fmt(d.get("dec_f32")),
            _fmt(d.get("dec_f16")), _fmt(d.get("rmse"), 7, 4),
            _fmt(g.get("enc"), 8), _fmt(g.get("enc_im")), _fmt(g.get("dec_f32")),
            _fmt(r.bytes_equal_ggml, 6) if r.bytes_equal_ggml is not None else _fmt(None, 6),
            _fmt(_ratio(d.get("enc"), g.get("enc")), 6), _fmt(_ratio(d.get("enc_im"), g.get("enc_im")), 6),
            _fmt(_ratio(d.get("dec_f32"), g.get("dec_f32")), 6),
            _fmt(p.get("enc"), 11), _fmt(p.get("dec_f32")), _fmt(p.get("rmse"), 7, 4),
            _fmt(_ratio(d.get("enc"), p.get("enc")), 6), _fmt(_ratio(d.get("dec_f32"), p.get("dec_f32")), 6),
            _fmt(r.big_decode_gbps, 8), _fmt(r.big_decode_fraction * 100 if not math.isnan(r.big_decode_fraction) else NA, 5, 0),
        ]
        lines.append(" ".join(vals))
    return "\n".join(lines)


def _load_peers(threads: int) -> dict:
    peers: dict = {}
    os.environ["LIBGGUF_NUM_THREADS"] = str(threads)  # read by libgguf when it is imported
    if "libgguf" in sys.modules:
        print("warning: libgguf was imported before the bench; its thread count may not be --threads", file=sys.stderr)
    try:
        import libgguf

        peers["libgguf"] = libgguf
    except ImportError:
        pass
    try:
        import gguf
        import gguf.quants  # noqa: F401

        peers["gguf"] = gguf
    except ImportError:
        pass
    return peers


def _version(mod: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dgkernels.bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small input and short time boxes (under a minute)")
    ap.add_argument("--threads", type=int, default=1, help="threads for dgkernels and libgguf (default 1)")
    ap.add_argument("--formats", default="", help="comma-separated formats (default: every format)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--prealloc", action="store_true",
                    help="decode into preallocated outputs (dgkernels and libgguf): the kernels without page faults")
    a = ap.parse_args(argv)
    if a.threads < 1:
        ap.error("--threads must be at least 1")

    peers = _load_peers(a.threads)
    import dgkernels as dg

    names = [s.strip() for s in a.formats.split(",") if s.strip()]
    try:
        fmts = [dg.format_info(n) for n in names] if names else dg.formats()
    except ValueError as e:
        ap.error(str(e))

    rows, cols = (64, 4096) if a.quick else (256, 4096)
    budget = QUICK if a.quick else FULL
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    im = np.exp(rng.standard_normal(cols)).astype(np.float32)
    peers["write_bw"] = write_bandwidth(256 << 20, 3 if a.quick else 6)
    big_weights = 16 << 20  # 64 MiB of float32 output
    out_big = np.empty(big_weights, np.float32)
    out_big.fill(0.0)  # first touch outside the timings

    t_start = time.perf_counter()
    results = []
    for f in fmts:
        results.append(bench_format(f, x, im, a.threads, budget, a.quick, peers, big_weights, out_big, a.prealloc))
    meta = {
        "version": dg.__version__, "rows": rows, "cols": cols, "threads": a.threads, "isa": dg.isa(),
        "libgguf": _version("libgguf") if "libgguf" in peers else None,
        "gguf": _version("gguf") if "gguf" in peers else None,
        "write_gbps": peers["write_bw"] / 1e9, "big_mib": big_weights * 4 >> 20, "quick": a.quick,
        "prealloc": a.prealloc,
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    print(render(results, meta))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"meta": meta, "results": [_row_json(r) for r in results]}, fh, indent=1, allow_nan=False,
                      default=str)
    return 0


def _row_json(r: Row) -> dict:
    def clean(d):
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
    return {"format": r.fmt, "bits_per_weight": r.bpw, "dgkernels": clean(r.dg), "ggml_libgguf": clean(r.ggml),
            "gguf_py": clean(r.ggufpy), "bytes_equal_ggml": r.bytes_equal_ggml,
            "big_decode_gbps": None if math.isnan(r.big_decode_gbps) else r.big_decode_gbps,
            "big_decode_fraction_of_write_bw": None if math.isnan(r.big_decode_fraction) else r.big_decode_fraction}


if __name__ == "__main__":
    raise SystemExit(main())
