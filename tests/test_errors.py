"""Every documented error of the API, with a message that names the problem; and decoders that never
crash on arbitrary bytes. Validation happens in Python before any kernel runs, so these tests pass for
formats whose kernels have not landed (they use F16/Q4_0/IQ2_XXS only as registry entries)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dgkernels as dg
from helpers import PKG_PARENT, REPO

X32 = np.zeros((2, 32), np.float32)
Q32 = np.zeros((2, 18), np.uint8)  # two Q4_0 rows of one block


# ---- formats ------------------------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda f: dg.quantize(X32, f),
    lambda f: dg.dequantize(Q32, f),
    lambda f: dg.format_info(f),
])
def test_unknown_format_name(call):
    with pytest.raises(ValueError, match=r"unknown format 'Q9_9'; known formats: F32, .*Q4_K"):
        call("Q9_9")


def test_unknown_type_id():
    with pytest.raises(ValueError, match=r"unknown ggml type id 999; known ids: \["):
        dg.quantize(X32, 999)


@pytest.mark.parametrize("bad", [1.5, None, b"Q4_0", True])
def test_format_of_wrong_type(bad):
    with pytest.raises(TypeError, match=r"format must be a name, a ggml type id or a Format, not "):
        dg.format_info(bad)


# ---- shapes and lengths -------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,n", [("Q4_0", 33), ("Q4_0", 16), ("Q4_K", 128), ("Q4_K", 288), ("IQ4_NL", 0)])
def test_row_length_not_multiple_of_block(fmt, n):
    bw = dg.format_info(fmt).block_weights
    with pytest.raises(ValueError, match=rf"row length {n} is not a multiple of {fmt}'s block size {bw}"):
        dg.quantize(np.ones((1, n), np.float32), fmt)


def test_scalar_input():
    with pytest.raises(ValueError, match=r"x must have at least one dimension \(the row\)"):
        dg.quantize(np.float32(1.0), "Q8_0")
    with pytest.raises(ValueError, match=r"data must have at least one dimension"):
        dg.dequantize(np.uint8(1), "Q8_0")


@pytest.mark.parametrize("nbytes", [17, 19, 1, 35])
def test_bytes_not_whole_blocks(nbytes):
    with pytest.raises(ValueError, match=rf"{nbytes} bytes per row is not a multiple of Q4_0's block size of 18 bytes"):
        dg.dequantize(np.zeros((2, nbytes), np.uint8), "Q4_0")


def test_bytes_not_whole_rows():
    with pytest.raises(ValueError, match=r"54 bytes is not a whole number of Q4_0 rows of 64 weights \(36 bytes each\)"):
        dg.dequantize(np.zeros(54, np.uint8), "Q4_0", n_per_row=64)


def test_n_per_row_not_multiple_of_block():
    with pytest.raises(ValueError, match=r"row length 48 is not a multiple of Q4_0's block size 32"):
        dg.dequantize(np.zeros(36, np.uint8), "Q4_0", n_per_row=48)


@pytest.mark.parametrize("bad", [0, -32, 1.5, True, "32"])
def test_bad_n_per_row(bad):
    with pytest.raises(ValueError, match=r"n_per_row must be a positive int, got "):
        dg.dequantize(np.zeros(36, np.uint8), "Q4_0", n_per_row=bad)


# ---- dtypes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_, np.complex64, object])
def test_x_wrong_dtype(dtype):
    with pytest.raises(TypeError, match=r"x must be float32 \(float16, bfloat16 or float64 are converted\), got dtype"):
        dg.quantize(np.zeros((1, 32), dtype), "Q8_0")


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int16, np.uint16])
def test_data_wrong_dtype(dtype):
    with pytest.raises(TypeError, match=rf"data must be uint8 bytes of encoded blocks, got dtype {np.dtype(dtype).name}"):
        dg.dequantize(np.zeros((1, 18), dtype), "Q4_0")


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.complex64])
def test_imatrix_wrong_dtype(dtype):
    with pytest.raises(TypeError, match=r"imatrix must be float32 \(.*\), got dtype"):
        dg.quantize(X32, "Q4_0", imatrix=np.ones(32, dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.int8, "float8", "q4_0"])
def test_dequantize_bad_output_dtype(dtype):
    with pytest.raises(TypeError, match=r"dtype must be float32, float16 or bfloat16, got "):
        dg.dequantize(Q32, "Q4_0", dtype=dtype)


# ---- out ----------------------------------------------------------------------------------------

def _readonly(a):
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("out,exc,msg", [
    (np.zeros((2, 18), np.int8), TypeError, r"out must have dtype uint8, got int8"),
    (np.zeros((2, 18), np.float32), TypeError, r"out must have dtype uint8, got float32"),
    (np.zeros((2, 19), np.uint8), ValueError, r"out must have shape \(2, 18\), got \(2, 19\)"),
    (np.zeros((36,), np.uint8), ValueError, r"out must have shape \(2, 18\), got \(36,\)"),
    (np.zeros((18, 2), np.uint8).T, ValueError, r"out must be C-contiguous"),
    (np.zeros((2, 36), np.uint8)[:, ::2], ValueError, r"out must be C-contiguous"),
    (_readonly(np.zeros((2, 18), np.uint8)), ValueError, r"out is read-only"),
    ([[0] * 18] * 2, TypeError, r"out must be a numpy array, not list"),
])
def test_quantize_bad_out(out, exc, msg):
    with pytest.raises(exc, match=msg):
        dg.quantize(X32, "Q4_0", out=out)


@pytest.mark.parametrize("out,kw,exc,msg", [
    (np.zeros((2, 32), np.float16), {}, TypeError, r"out must have dtype float32, got float16"),
    (np.zeros((2, 32), np.float32), {"dtype": np.float16}, TypeError, r"out must have dtype float16, got float32"),
    (np.zeros((2, 31), np.float32), {}, ValueError, r"out must have shape \(2, 32\), got \(2, 31\)"),
    (np.zeros((32, 2), np.float32).T, {}, ValueError, r"out must be C-contiguous"),
    (_readonly(np.zeros((2, 32), np.float32)), {}, ValueError, r"out is read-only"),
    (np.zeros((2, 32), np.float64), {}, TypeError, r"out must have dtype float32, got float64"),
])
def test_dequantize_bad_out(out, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        dg.dequantize(Q32, "Q4_0", out=out, **kw)


def test_out_untouched_on_error():
    out = np.full((2, 18), 0xAB, np.uint8)
    x = X32.copy()
    x[1, 5] = np.nan
    with pytest.raises(ValueError):
        dg.quantize(x, "Q4_0", out=out)
    assert np.all(out == 0xAB)


# ---- imatrix ------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [31, 33, 64, 1])
def test_imatrix_wrong_length(n):
    with pytest.raises(ValueError, match=rf"imatrix has {n} values but rows have 32 weights; they must match"):
        dg.quantize(X32, "Q4_0", imatrix=np.ones(n, np.float32))


def test_imatrix_negative():
    im = np.ones(32, np.float32)
    im[7] = -0.5
    with pytest.raises(ValueError, match=r"imatrix must be non-negative; entry 7 is -0.5"):
        dg.quantize(X32, "Q4_0", imatrix=im)


@pytest.mark.parametrize("bad,shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_imatrix_nonfinite(bad, shown):
    im = np.ones(32, np.float32)
    im[5] = bad
    with pytest.raises(ValueError, match=rf"imatrix contains a non-finite value \({shown}\) at index \(5,\)"):
        dg.quantize(X32, "Q4_0", imatrix=im)


@pytest.mark.parametrize("fmt", [f.name for f in dg.formats() if f.requires_imatrix])
def test_imatrix_required(fmt):
    x = np.ones((1, 256), np.float32)
    with pytest.raises(ValueError, match=rf"{fmt} needs an importance matrix .*pass imatrix=<array of 256 non-negative floats>"):
        dg.quantize(x, fmt)


def test_required_imatrix_formats_match_ggml():
    """The formats refused without an imatrix are exactly those ggml_quantize_requires_imatrix names."""
    libgguf = pytest.importorskip("libgguf")
    want = {f.name for f in dg.formats() if f.is_quantized and libgguf.row_size(f.type_id, f.block_weights) > 0
            and libgguf.quantize_requires_imatrix(f.type_id)}
    assert {f.name for f in dg.formats() if f.requires_imatrix} == want


# ---- non-finite input ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad,shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
@pytest.mark.parametrize("fmt", ["Q4_0", "F16", "Q4_K"])
def test_nonfinite_input(fmt, bad, shown):
    x = np.ones((3, 256), np.float32)
    x[2, 17] = bad
    with pytest.raises(ValueError, match=rf"x contains a non-finite value \({shown}\) at index \(2, 17\); NaN and Inf cannot be quantized"):
        dg.quantize(x, fmt)


ENCODABLE = [f.name for f in dg.formats()]


@pytest.mark.parametrize("fmt", ENCODABLE)
@pytest.mark.parametrize("threads", [1, 2])
def test_first_nonfinite_found_while_encoding(fmt, threads, isa, rng):
    """Encoders check each row as they encode it (the legacy AVX2 ones on the values they load):
    whatever row, block or lane holds the bad values, the error names the first one in row order,
    with any thread count, and a caller's `out` is left untouched."""
    f = dg.format_info(fmt)
    n = f.block_weights * 9  # 9 blocks: legacy AVX2 encoders work on octets, the last one partial
    im = np.ones(n, np.float32) if f.requires_imatrix else None
    for _ in range(6):
        x = rng.standard_normal((5, n)).astype(np.float32)
        picks = rng.choice(x.size, size=3, replace=False)
        x.reshape(-1)[picks] = rng.permutation([np.nan, np.inf, -np.inf])
        first = np.unravel_index(picks.min(), x.shape)
        with pytest.raises(ValueError, match=rf"non-finite value .* at index \({first[0]}, {first[1]}\)"):
            dg.quantize(x, fmt, imatrix=im, threads=threads)
        out = np.full((5, f.row_bytes(n)), 0xAB, np.uint8)
        with pytest.raises(ValueError, match=rf"at index \({first[0]}, {first[1]}\)"):
            dg.quantize(x, fmt, imatrix=im, threads=threads, out=out)
        assert np.all(out == 0xAB)
        x.reshape(-1)[picks] = 0.5
        assert dg.quantize(x, fmt, imatrix=im, threads=threads).shape == (5, f.row_bytes(n))


@pytest.mark.parametrize("n", [1, 7, 511, 512, 513, 1024, 1500])
def test_first_nonfinite_is_reported_across_scan_chunks(n):
    """The scan works in chunks: the first bad value wins wherever the chunk borders fall."""
    rng = np.random.default_rng(n)
    for _ in range(30):
        x = rng.standard_normal(n).astype(np.float32)
        picks = rng.choice(n, size=min(n, 3), replace=False)
        for p, v in zip(picks, (np.nan, np.inf, -np.inf)):
            x[p] = v
        assert dg._core.find_nonfinite(x) == picks.min()
        x[picks] = 1.0
        assert dg._core.find_nonfinite(x) == -1
    # any alignment: a float32 view starting one float into a buffer
    y = np.zeros(n + 1, np.float32)
    y[n] = np.inf
    assert dg._core.find_nonfinite(y[1:]) == n - 1


def test_nonfinite_after_float64_conversion():
    x = np.ones((1, 32), np.float64)
    x[0, 3] = 1e300  # finite in float64, inf once converted to float32
    with pytest.raises(ValueError, match=r"x contains a non-finite value \(inf\) at index \(0, 3\)"):
        dg.quantize(x, "Q8_0")


# ---- threads ------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -1, 1025])
def test_threads_out_of_range(bad):
    with pytest.raises(ValueError, match=rf"threads must be between 1 and 1024, got {bad}"):
        dg.quantize(X32, "Q4_0", threads=bad)
    with pytest.raises(ValueError, match=rf"threads must be between 1 and 1024, got {bad}"):
        dg.dequantize(Q32, "Q4_0", threads=bad)


@pytest.mark.parametrize("bad,name", [(1.0, "float"), (True, "bool"), ("2", "str")])
def test_threads_wrong_type(bad, name):
    with pytest.raises(TypeError, match=rf"threads must be a positive int or None, not {name}"):
        dg.quantize(X32, "Q4_0", threads=bad)


@pytest.mark.parametrize("env,msg", [("abc", "must be a positive integer, got 'abc'"),
                                     ("0", "must be between 1 and 1024, got '0'"),
                                     ("-3", "must be between 1 and 1024, got '-3'")])
def test_threads_env_invalid(monkeypatch, env, msg):
    monkeypatch.setenv("DGKERNELS_NUM_THREADS", env)
    with pytest.raises(ValueError, match=rf"DGKERNELS_NUM_THREADS {msg}"):
        dg.default_threads()


# ---- ISA ----------------------------------------------------------------------------------------

def test_unknown_isa():
    with pytest.raises(ValueError, match=r"unknown ISA 'sse4'; choose one of scalar, avx2"):
        dg.set_isa("sse4")


def test_bad_isa_env():
    env = dict(os.environ, DGKERNELS_ISA="neon", PYTHONPATH=PKG_PARENT)
    r = subprocess.run([sys.executable, "-c", "import dgkernels"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "DGKERNELS_ISA='neon' is not one of scalar, avx2" in r.stderr


# ---- decoders never crash -----------------------------------------------------------------------

FUZZ = textwrap.dedent("""
    import sys, numpy as np, dgkernels as dg
    rng = np.random.default_rng(int(sys.argv[1]))
    for f in dg.formats():
        print(f.name, flush=True)
        for isa in dg.available_isas():
            dg.set_isa(isa)
            patterns = [rng.integers(0, 256, (5, 7 * f.block_bytes), dtype=np.uint8),
                        np.full((1, 3 * f.block_bytes), 0xFF, np.uint8),
                        np.zeros((1, 3 * f.block_bytes), np.uint8),
                        np.full((1, 3 * f.block_bytes), 0x80, np.uint8),
                        np.full((1, 3 * f.block_bytes), 0x7F, np.uint8),
                        rng.integers(0, 256, (1, f.block_bytes), dtype=np.uint8)]
            for data in patterns:
                for dtype in ("float32", "float16", "bfloat16"):
                    try:
                        y = dg.dequantize(data, f, dtype=dtype)
                    except NotImplementedError:
                        break
                    assert y.shape == (data.shape[0], data.shape[1] // f.block_bytes * f.block_weights), f.name
                    # odd offsets: a buffer that is not 8-aligned must not be read through a misaligned cast
                    raw = np.empty(data.size + 1, np.uint8)[1:]
                    raw[:] = data.reshape(-1)
                    y2 = dg.dequantize(raw.reshape(data.shape), f, dtype=dtype)
                    assert np.array_equal(np.asarray(y).view(np.uint8), np.asarray(y2).view(np.uint8)), f.name
    print("done", flush=True)
""")


def test_decode_arbitrary_bytes_never_crashes(rng):
    """Runs in a child process so that a crash is reported (with the format it hit) instead of killing the run."""
    seed = int(rng.integers(0, 2**31))
    env = dict(os.environ, PYTHONPATH=PKG_PARENT)
    r = subprocess.run([sys.executable, "-c", FUZZ, str(seed)], env=env, capture_output=True, text=True, timeout=600)
    last = r.stdout.strip().splitlines()[-1:] or ["(nothing)"]
    assert r.returncode == 0 and last == ["done"], \
        f"decoder fuzz (seed {seed}) died with code {r.returncode} while on {last[0]}:\n{r.stderr[-3000:]}"
