"""GPU benchmark of dgkernels._cuda (needs torch with CUDA).

decode: a 4096 x 14336 weight matrix to float16, per format, as GB/s counting bytes read + written and as a
        fraction of the device-to-device copy bandwidth measured in the same run;
encode: Gweights/s per format with a GPU encoder, without and (where the format reads one) with an imatrix.
Kernels are timed with CUDA events after warmup; the median of the repeats is reported. The kernels are
called through dgkernels._cuda directly, so the public API's argument checks (e.g. the NaN scan before
encoding) are not part of the timings.

    python benchmarks/gpu_bench.py [--rows 4096] [--cols 14336] [--repeats 10] [--formats Q4_0,Q4_K]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--cols", type=int, default=14336)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--encode-repeats", type=int, default=5)
    ap.add_argument("--formats", default="")
    ap.add_argument("--no-encode", action="store_true")
    ap.add_argument("--budget", type=float, default=200.0, help="seconds after which encodes are skipped")
    args = ap.parse_args()

    import torch

    import dgkernels as dg
    from dgkernels import _cuda
    from dgkernels import cuda as gpu

    if not dg.cuda_available():
        print(f"no usable GPU: {gpu.unavailable_reason()}")
        return 1
    dev = torch.device("cuda", torch.cuda.current_device())
    props = torch.cuda.get_device_properties(dev)
    print(f"device: {props.name}, {props.total_memory / 2**30:.0f} GiB, SMs {props.multi_processor_count}; "
          f"dgkernels._cuda: {_cuda.runtime_info()}")
    stream = torch.cuda.current_stream(dev)
    sptr = int(stream.cuda_stream)
    R, C = args.rows, args.cols
    deadline = time.time() + args.budget
    n = R * C

    def timed(fn, repeats, warmup=2):
        for _ in range(warmup):
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize(dev)
            if time.perf_counter() - t0 > 2.0:  # slow kernel: one timed run is enough
                repeats = 1
        times = []
        for _ in range(repeats):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(stream)
            fn()
            b.record(stream)
            b.synchronize()
            times.append(a.elapsed_time(b) / 1e3)
        return statistics.median(times)

    # Device-to-device copy bandwidth (bytes read + written), 1 GiB.
    src = torch.empty(2**28, dtype=torch.float32, device=dev)
    dst = torch.empty_like(src)
    t = timed(lambda: dst.copy_(src), args.repeats)
    copy_bw = 2 * src.numel() * 4 / t
    del src, dst
    print(f"copy: {copy_bw / 1e9:.0f} GB/s (read + write, 1 GiB)")

    fmts = [f for f in dg.formats() if f.block_weights > 1]
    if args.formats:
        want = {s.strip().upper() for s in args.formats.split(",")}
        fmts = [f for f in fmts if f.name in want]
    rows = []
    gen = torch.Generator(device=dev)
    gen.manual_seed(0)
    x = torch.randn((R, C), device=dev, generator=gen)
    imatrix = torch.rand((C,), device=dev, generator=gen) + 0.1
    out16 = torch.empty((R, C), dtype=torch.float16, device=dev)
    for f in fmts:
        nbytes = n // f.block_weights * f.block_bytes
        # Decode input: the first 256 rows encoded on the GPU, tiled over the matrix (realistic blocks without
        # waiting for a slow encoder on all rows).
        rb = nbytes // R
        q = torch.empty((R, rb), dtype=torch.uint8, device=dev)
        sub = min(R, 256)
        _cuda.encode(f.index, x.data_ptr(), q.data_ptr(), imatrix.data_ptr() if f.requires_imatrix else 0, sub, C,
                     dev.index, sptr)
        for r0 in range(sub, R, sub):
            q[r0:r0 + sub].copy_(q[:min(sub, R - r0)])
        q = q.reshape(-1)
        nblocks = n // f.block_weights
        td = timed(lambda: _cuda.decode(f.index, q.data_ptr(), out16.data_ptr(), 1, nblocks, dev.index, sptr),
                   args.repeats)
        dec_bw = (nbytes + 2 * n) / td
        row = {"fmt": f.name, "dec_gbs": dec_bw / 1e9, "dec_frac": dec_bw / copy_bw, "enc": None, "enc_im": None}
        if not args.no_encode and _cuda.encode_supported(f.index):
            variants = []
            if not f.requires_imatrix:
                variants.append(("enc", 0))
            if f.imatrix != "ignored":
                variants.append(("enc_im", imatrix.data_ptr()))
            for key, im_ptr in variants:
                if time.time() > deadline:
                    row[key] = "skip"
                    continue
                # A first call on 256 rows estimates the full time; slow encoders are timed on that slice
                # (rows are independent, so the rate carries over) to keep the run short.
                sub = min(R, 256)
                t0 = time.perf_counter()
                _cuda.encode(f.index, x.data_ptr(), q.data_ptr(), im_ptr, sub, C, dev.index, sptr)
                torch.cuda.synchronize(dev)
                est = (time.perf_counter() - t0) * R / sub
                rows_t = R if est < 1.5 else sub
                te = timed(lambda: _cuda.encode(f.index, x.data_ptr(), q.data_ptr(), im_ptr, rows_t, C, dev.index,
                                                sptr), args.encode_repeats, warmup=1)
                row[key] = rows_t * C / te / 1e9
                if rows_t < R:
                    row[key + "_slice"] = True
        rows.append(row)
        del q
        print(f"  {f.name} done", file=sys.stderr, flush=True)

    def fmtg(r, key):
        v = r[key]
        if v is None:
            return "-"
        if isinstance(v, str):
            return v
        return f"{v:7.3f}" + ("*" if r.get(key + "_slice") else "")

    print()
    print(f"dgkernels GPU benchmark on {props.name}: {R}x{C} weights; copy {copy_bw / 1e9:.0f} GB/s")
    print(f"{'format':8} {'decode->f16 GB/s':>17} {'of copy':>8} {'encode Gw/s':>12} {'+imatrix Gw/s':>14}")
    for r in rows:
        print(f"{r['fmt']:8} {r['dec_gbs']:17.0f} {100 * r['dec_frac']:7.0f}% {fmtg(r, 'enc'):>12} {fmtg(r, 'enc_im'):>14}")
    print("* timed on 256 rows (slow encoder); skip = time budget (--budget) spent")
    return 0


if __name__ == "__main__":
    t0 = time.time()
    rc = main()
    print(f"(benchmark took {time.time() - t0:.0f} s)")
    sys.exit(rc)
