"""Every file reader in the package fed damaged files: truncated, bit-flipped, with adversarial counts and
lengths written over real fields, with bytes inserted or deleted. Each must either read the file or raise
its documented error (GGUFError for models, ImatrixError for importance matrices, ValueError for the
forward pass's GGUFFile) naming the problem -- never another exception, a crash, a hang or unbounded
memory. The damaged files are derived from small valid files written here.

DGKERNELS_READER_FUZZ_EXAMPLES sets the hypothesis examples per reader and mutation (CI default below);
tools/fuzz/fuzz_readers.py is the atheris harness for longer campaigns.
"""
from __future__ import annotations

import contextlib
import os
import signal
import struct
import time
import tracemalloc

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dgkernels as dg
from dgkernels import gguf_io
from dgkernels.forward.gguf_file import GGUFFile
from dgkernels.gguf_io import GGUFError, check_gguf, model_spec, open_gguf, tensor_f32
from dgkernels.imatrix_io import Imatrix, ImatrixError, load_imatrix, save_imatrix

EXAMPLES = int(os.environ.get("DGKERNELS_READER_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
SECONDS = 20          # per read: a hang is a failure, not a stuck CI job
MEMORY = 64 << 20     # per read: Python + numpy allocations (tracemalloc), far above what these files need

ADVERSARIAL = [0, 1, 2, 3, 5, 31, 32, 33, 255, 256, 2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**60,
               2**62, 2**63 - 1, 2**63, 2**64 - 1]


# ---- valid seed files -----------------------------------------------------------------------------------

def _write_model(path, big_endian=False):
    rng = np.random.default_rng(1)
    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    w = gguf.GGUFWriter(str(path), arch="llama", endianess=endian)
    w.add_name("fuzz seed")
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(64)
    w.add_feed_forward_length(64)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_array("tokenizer.ggml.tokens", ["a", "bc", "", "d\u00e9f"])
    w.add_array("tokenizer.ggml.scores", [0.5, -1.0, 2.0, 0.0])
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_bool("test.flag", True)
    w.add_float64("test.f64", 2.5)
    w.add_int64("test.i64", -7)
    x = (rng.standard_normal((32, 64)) * 0.1).astype(np.float32)
    w.add_tensor("token_embd.weight", x.astype(np.float16))
    w.add_tensor("output_norm.weight", np.ones(64, np.float32))
    w.add_tensor("blk.0.attn_q.weight", dg.quantize(x, "Q4_0"), raw_dtype=gguf.GGMLQuantizationType.Q4_0)
    w.add_tensor("blk.0.ffn_down.weight", dg.quantize(x, "Q8_0"), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def _imatrix(tmp, kind):
    im = Imatrix({"blk.0.attn_q.weight": np.linspace(0.1, 2, 64, dtype=np.float32).reshape(1, 64),
                  "blk.0.ffn_down_exps.weight": np.ones((2, 32), np.float32)},
                 datasets=["d.txt"], chunk_count=3, chunk_size=16)
    p = tmp / f"seed.{kind}"
    save_imatrix(im, p, kind=kind)
    return p.read_bytes()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    d = tmp_path_factory.mktemp("seeds")
    return {"model": _write_model(d / "m.gguf"), "model_be": _write_model(d / "be.gguf", big_endian=True),
            "imatrix_gguf": _imatrix(d, "gguf"), "imatrix_legacy": _imatrix(d, "legacy")}


# ---- the readers, each run to the end of everything it parses --------------------------------------------

def read_model(p):
    gguf_io._READERS.clear()  # the cache is keyed by mtime: a rewritten file must be parsed again
    r = open_gguf(p)
    for k in r.fields:
        gguf_io.field(r, k)
    m = model_spec(r)
    for rt in r.tensors:
        try:
            tensor_f32(r, rt, threads=1)
        except GGUFError:
            pass  # a type dgkernels does not decode: the rest of the file is still read
    return m


def read_imatrix(p):
    gguf_io._READERS.clear()
    return load_imatrix(p)


def read_forward(p):
    f = GGUFFile(p)
    for name in f.tensors:
        f.decode(name)
    return f


READERS = {"model": (read_model, GGUFError), "imatrix": (read_imatrix, ImatrixError),
           "forward": (read_forward, ValueError)}
SEEDS_FOR = {"model": ["model", "model_be"], "imatrix": ["imatrix_gguf", "imatrix_legacy"],
             "forward": ["model"]}


class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _bounded(seconds=SECONDS):
    """Fail on a hang (SIGALRM) and report the peak of Python/numpy allocations."""
    def on_alarm(signum, frame):
        raise _Timeout(f"a read took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    tracemalloc.start()
    peak = [0]
    try:
        yield peak
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


_counter = [0]


def check_reader(kind, data: bytes, tmp_path):
    """Read `data` with reader `kind`: success or the documented error, in bounded time and memory."""
    fn, err = READERS[kind]
    _counter[0] += 1
    p = tmp_path / f"f{_counter[0]}.{'dat' if data[:4] != b'GGUF' and kind == 'imatrix' else 'gguf'}"
    p.write_bytes(data)
    try:
        with _bounded() as peak:
            try:
                fn(p)
            except err as e:
                msg = str(e)
                assert msg and len(msg) < 2000, f"unhelpful error message: {msg[:300]!r}"
        assert peak[0] < MEMORY, f"{kind}: reading a {len(data)}-byte file allocated {peak[0] >> 20} MiB"
    finally:
        p.unlink()


# ---- mutations --------------------------------------------------------------------------------------------

def _count_fields(seed: bytes) -> list[int]:
    """Offsets in the header where a small non-zero integer is stored (in either byte order): the counts,
    lengths, dimensions and type ids a structure-aware mutation should hit."""
    out = []
    for i in range(0, min(len(seed), 2048) - 4):
        for code, w in (("Q", 8), ("I", 4)):
            if i + w <= len(seed) and any(0 < struct.unpack_from(o + code, seed, i)[0] < 1 << 16 for o in "<>"):
                out.append(i)
                break
    return out


@st.composite
def mutated(draw, seed: bytes):
    b = bytearray(seed)
    fields = _count_fields(seed)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "int", "field", "field", "insert", "delete", "splice"]))
        if not b:
            break
        at = draw(st.integers(0, len(b) - 1))
        # favour the header and directory, where the counts and lengths live
        if draw(st.booleans()):
            at = min(at, draw(st.integers(0, min(len(b) - 1, 1024))))
        if kind == "field":
            at, kind = draw(st.sampled_from(fields)), "int"
        if kind == "truncate":
            del b[at:]
        elif kind == "flip":
            b[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "int":
            width, code = draw(st.sampled_from([(8, "Q"), (4, "I")]))
            v = draw(st.sampled_from(ADVERSARIAL)) % (1 << (8 * width))
            order = draw(st.sampled_from("<>"))
            b[at:at + width] = struct.pack(order + code, v)
        elif kind == "insert":
            b[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del b[at:at + draw(st.integers(1, 16))]
        else:  # a stretch of the file copied elsewhere (a plausible field in the wrong place)
            n = draw(st.integers(1, 32))
            src = draw(st.integers(0, len(b) - 1))
            b[at:at + n] = b[src:src + n]
    return bytes(b)


@pytest.mark.parametrize("kind,seed", [(k, s) for k, ss in SEEDS_FOR.items() for s in ss])
def test_seed_files_read(kind, seed, seeds, tmp_path):
    """The undamaged seeds read without error (so the mutations start from something valid)."""
    fn, _ = READERS[kind]
    p = tmp_path / ("seed.dat" if seed == "imatrix_legacy" else "seed.gguf")
    p.write_bytes(seeds[seed])
    fn(p)


@pytest.mark.parametrize("kind,seed", [(k, s) for k, ss in SEEDS_FOR.items() for s in ss])
@FUZZ
@given(data=st.data())
def test_damaged_files(kind, seed, seeds, tmp_path, data):
    check_reader(kind, data.draw(mutated(seeds[seed]), label="file"), tmp_path)


@pytest.mark.parametrize("kind", list(READERS))
@FUZZ
@given(body=st.binary(max_size=512))
def test_arbitrary_bytes_after_the_magic(kind, tmp_path, body):
    check_reader(kind, b"GGUF" + struct.pack("<I", 3) + body, tmp_path)


@FUZZ
@given(body=st.binary(max_size=256))
def test_arbitrary_legacy_imatrix(tmp_path, body):
    check_reader("imatrix", body, tmp_path)


# ---- the named adversarial headers, refused up front --------------------------------------------------

def _s(b: bytes) -> bytes:
    return struct.pack("<Q", len(b)) + b


def _header(n_tensors, n_kv, body=b"", version=3):
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + body


def _tensor_info(name=b"t", dims=(32,), tid=0, off=0):
    return _s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + \
        struct.pack("<IQ", tid, off)


def _file(kvs=b"", n_kv=0, infos=(), data=b""):
    head = _header(len(infos), n_kv, kvs + b"".join(infos))
    pad = (-len(head)) % 32
    return head + bytes(pad) + data


CASES = {
    "2^60 tensors": (_header(2**60, 0, bytes(64)), r"claims 1152921504606846976 tensors"),
    "2^60 key/value pairs": (_header(0, 2**60, bytes(64)), r"claims 1152921504606846976 key/value pairs"),
    "key length 2^62": (_header(0, 1, struct.pack("<Q", 2**62) + b"abc" + bytes(16)), r"length of 4611686018427387904"),
    "string value length 2^62": (_header(0, 1, _s(b"k") + struct.pack("<IQ", 8, 2**62) + bytes(16)),
                                 r"string value of k claims a length"),
    "array of 2^60 uint8": (_header(0, 1, _s(b"k") + struct.pack("<IIQ", 9, 0, 2**60) + bytes(16)),
                            r"array k claims 1152921504606846976 items"),
    "array of 2^60 strings": (_header(0, 1, _s(b"k") + struct.pack("<IIQ", 9, 8, 2**60) + bytes(16)),
                              r"array k claims"),
    "array of 2^60 arrays": (_header(0, 1, _s(b"k") + struct.pack("<IIQ", 9, 9, 2**60) + bytes(16)),
                             r"array k claims"),
    "string in array 2^62": (_header(0, 1, _s(b"k") + struct.pack("<IIQQ", 9, 8, 1, 2**62) + bytes(16)),
                             r"a string in array k claims a length of 4611686018427387904"),
    "unknown value type": (_header(0, 1, _s(b"k") + struct.pack("<I", 77) + bytes(16)), r"unknown value type 77"),
    "unknown array item type": (_header(0, 1, _s(b"k") + struct.pack("<IIQ", 9, 77, 1) + bytes(16)),
                                r"unknown item type 77"),
    "deeply nested arrays": (_header(0, 1, _s(b"k") + struct.pack("<I", 9) + struct.pack("<IQ", 9, 1) * 40 + bytes(160)),
                             r"nests arrays more than"),
    "tensor past the end": (_file(infos=[_tensor_info(dims=(64, 1024))], data=bytes(128)), r"runs past the end"),
    "tensor offset 2^63": (_file(infos=[_tensor_info(off=2**63)], data=bytes(128)), r"runs past the end"),
    "dims overflow": (_file(infos=[_tensor_info(dims=(2**32, 2**32, 2**4))], data=bytes(128)), r"overflows int64"),
    "dims wrap to zero": (_file(infos=[_tensor_info(dims=(2**32, 2**32))], data=bytes(128)), r"overflows int64"),
    "zero dimension": (_file(infos=[_tensor_info(dims=(32, 0))], data=bytes(128)), r"zero dimension"),
    "five dimensions": (_file(infos=[_tensor_info(dims=(1, 1, 1, 1, 1))], data=bytes(128)), r"5 dimensions"),
    "no dimensions": (_file(infos=[_tensor_info(dims=())], data=bytes(128)), r"0 dimensions"),
    "unknown type id": (_file(infos=[_tensor_info(tid=5)], data=bytes(128)), r"unknown ggml type id 5"),
    "huge type id": (_file(infos=[_tensor_info(tid=2**32 - 1)], data=bytes(128)), r"unknown ggml type id 4294967295"),
    "row not whole blocks": (_file(infos=[_tensor_info(dims=(48,), tid=2)], data=bytes(128)), r"not a multiple of Q4_0"),
    "misaligned tensor": (_file(infos=[_tensor_info(off=3)], data=bytes(256)), r"not a multiple of the alignment"),
    "alignment zero": (_file(_s(b"general.alignment") + struct.pack("<II", 4, 0), 1), r"alignment 0 is not a power"),
    "alignment 24": (_file(_s(b"general.alignment") + struct.pack("<II", 4, 24), 1), r"alignment 24 is not a power"),
    "alignment as string": (_file(_s(b"general.alignment") + struct.pack("<I", 8) + _s(b"32"), 1),
                            r"general.alignment must be a uint32"),
    "duplicate key": (_file((_s(b"k") + struct.pack("<IB", 0, 1)) * 2, 2), r"key k appears twice"),
    "duplicate tensor": (_file(infos=[_tensor_info(), _tensor_info()], data=bytes(256)), r"tensor t appears twice"),
    "key not UTF-8": (_file(_s(b"\xff\xfe") + struct.pack("<IB", 0, 1), 1), r"not valid UTF-8"),
    "version 1": (_header(0, 0, bytes(8), version=1), r"version 1 is not supported"),
    "version 4": (_header(0, 0, bytes(8), version=4), r"version 4 is not supported"),
    "header cut short": (b"GGUF\x03\x00\x00\x00\x00", r"truncated"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_adversarial_headers_refused_up_front(case, tmp_path):
    data, msg = CASES[case]
    p = tmp_path / "bad.gguf"
    p.write_bytes(data)
    with _bounded(5) as peak:
        with pytest.raises(GGUFError, match=msg):
            check_gguf(p)
        for kind, (fn, err) in READERS.items():
            with pytest.raises(err):
                fn(p)
    assert peak[0] < MEMORY


@pytest.mark.parametrize("kind", ["model", "imatrix"])
def test_string_value_not_utf8(seeds, tmp_path, kind):
    """Found by tools/fuzz/fuzz_readers.py: gguf decodes string values strictly, and the
    UnicodeDecodeError escaped from field(); now it is a GGUFError (ImatrixError) naming the key."""
    if kind == "model":
        data, key = seeds["model"].replace("d\u00e9f".encode(), b"d\xff\xa9f"), "tokenizer.ggml.tokens"
    else:
        data, key = seeds["imatrix_gguf"].replace(b"d.txt", b"d\xfftxt"), "imatrix.datasets"
    p = tmp_path / "bad.gguf"
    p.write_bytes(data)
    fn, err = READERS[kind]
    with pytest.raises(err, match=rf"metadata {key} holds a string that is not valid UTF-8"):
        fn(p)


def test_valid_big_endian_file_is_accepted(seeds, tmp_path):
    p = tmp_path / "be.gguf"
    p.write_bytes(seeds["model_be"])
    info = check_gguf(p)
    assert info["byte_order"] == "big" and info["tensor_count"] == 4


def test_metadata_item_limit(tmp_path, monkeypatch):
    """gguf's reader makes one numpy object per array item: the total is capped."""
    monkeypatch.setattr(gguf_io, "MAX_METADATA_ITEMS", 100)
    body = _s(b"k") + struct.pack("<IIQ", 9, 0, 101) + bytes(101)
    p = tmp_path / "many.gguf"
    p.write_bytes(_file(body, 1))
    with pytest.raises(GGUFError, match=r"more than 100 array items"):
        check_gguf(p)


@pytest.mark.parametrize("content,msg", [
    (struct.pack("<i", 1) + struct.pack("<i", 1) + b"a" + struct.pack("<ii", 1, 2) +
     np.array([1, np.nan], "<f4").tobytes(), r"entry a: values must be finite and non-negative; item 1 is nan"),
    (struct.pack("<i", 1) + struct.pack("<i", 1) + b"a" + struct.pack("<ii", 1, 2) +
     np.array([-1, 1], "<f4").tobytes(), r"item 0 is -1.0"),
    (struct.pack("<i", 2**31 - 1) + bytes(64), r"entries cannot fit"),
    (struct.pack("<i", 1) + struct.pack("<i", 2**31 - 1) + bytes(64), r"bad name length"),
    (struct.pack("<i", 1) + struct.pack("<i", 1) + b"a" + struct.pack("<ii", 1, 2**31 - 1) + bytes(16),
     r"bad value count 2147483647"),
    (struct.pack("<i", -5) + bytes(64), r"no entries"),
])
def test_damaged_legacy_imatrix_values(tmp_path, content, msg):
    p = tmp_path / "bad.dat"
    p.write_bytes(content)
    with pytest.raises(ImatrixError, match=msg):
        load_imatrix(p)


def test_gguf_imatrix_with_nan_counts(tmp_path):
    import gguf as g
    w = g.GGUFWriter(str(tmp_path / "nan.gguf"), arch="imatrix")
    w.add_tensor("a.weight.in_sum2", np.ones((1, 32), np.float32))
    w.add_tensor("a.weight.counts", np.array([[np.nan]], np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(ImatrixError, match=r"entry a.weight: counts must be finite and non-negative"):
        load_imatrix(tmp_path / "nan.gguf")


def test_refused_quickly_even_when_large(tmp_path):
    """A 64 MiB file whose header lies is refused in well under a second, without reading the data."""
    p = tmp_path / "big.gguf"
    with open(p, "wb") as fh:
        fh.write(_file(infos=[_tensor_info(dims=(2**40,))]))
        fh.truncate(64 << 20)
    t0 = time.perf_counter()
    with pytest.raises(GGUFError, match="runs past the end"):
        open_gguf(p)
    assert time.perf_counter() - t0 < 2
