#!/usr/bin/env python3
"""atheris harness for long fuzzing campaigns of every decoder and encoder (run by hand):

    pip install atheris && PYTHONPATH=python python tools/fuzz/fuzz_kernels.py -max_total_time=600

Combine with tools/sanitize.sh's build (LD_PRELOAD of libasan) to catch memory errors. The first input
byte picks the format and the mode; decoders get the rest as blocks, encoders get it as float32 values
(non-finite values must raise ValueError, nothing else may escape).
"""
import sys

import atheris
import numpy as np

with atheris.instrument_imports():
    import dgkernels as dg

FORMATS = dg.formats()


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    f = FORMATS[data[0] % len(FORMATS)]
    encode = bool(data[1] & 1)
    isa = dg.available_isas()[(data[1] >> 1) % len(dg.available_isas())]
    body = data[2:]
    with dg.using_isa(isa):
        if not encode:
            usable = len(body) // f.block_bytes * f.block_bytes
            if usable:
                dg.dequantize(np.frombuffer(body[:usable], np.uint8), f)
            return
        x = np.frombuffer(body[: len(body) // 4 * 4], np.float32)
        n = x.size // f.block_weights * f.block_weights
        if n == 0:
            return
        imatrix = np.abs(np.nan_to_num(x[:n], nan=1.0, posinf=1.0, neginf=1.0)) if f.imatrix != "ignored" else None
        try:
            q = dg.quantize(x[:n].reshape(1, n), f, imatrix=imatrix)
        except ValueError as e:
            if np.isfinite(x[:n]).all() and (imatrix is None or np.isfinite(imatrix).all()):
                raise AssertionError(f"{f.name}: finite input refused: {e}") from e
            return
        dg.dequantize(q, f)


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
