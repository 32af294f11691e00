#!/usr/bin/env python3
"""atheris harness for long fuzzing campaigns of every file reader in dgkernels (run by hand):

    pip install atheris
    PYTHONPATH=python python tools/fuzz/fuzz_readers.py --make-corpus /tmp/rcorpus
    PYTHONPATH=python python tools/fuzz/fuzz_readers.py /tmp/rcorpus -max_total_time=600 -timeout=10 -rss_limit_mb=2048

The first input byte picks the reader: the model reader (gguf_io.open_gguf + model_spec + every tensor
decoded), the importance-matrix reader (legacy .dat or GGUF, by magic) or the forward pass's GGUFFile; the
rest of the input is the file. Each must read it or raise its documented error (GGUFError, ImatrixError,
ValueError); any other exception is a finding, and libFuzzer's -timeout / -rss_limit_mb turn hangs and
unbounded memory into findings too. --make-corpus writes small valid seed files to start from (the
mutations that matter most hit their counts, lengths and offsets). Without atheris installed, the
arguments are replayed as files (handy for reproducing a crash).
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

try:
    import atheris
except ImportError:  # replay mode only
    atheris = None

if atheris is not None:
    with atheris.instrument_imports():
        from dgkernels import gguf_io
        from dgkernels.forward.gguf_file import GGUFFile
        from dgkernels.imatrix_io import ImatrixError, load_imatrix
else:
    from dgkernels import gguf_io
    from dgkernels.forward.gguf_file import GGUFFile
    from dgkernels.imatrix_io import ImatrixError, load_imatrix

_TMP = Path(tempfile.mkdtemp(prefix="dgk-fuzz-readers-"))


def _read_model(p: Path) -> None:
    try:
        r = gguf_io.open_gguf(p)
        for k in r.fields:
            gguf_io.field(r, k)
        gguf_io.model_spec(r)
        for rt in r.tensors:
            try:
                gguf_io.tensor_f32(r, rt, threads=1)
            except gguf_io.GGUFError:
                pass
    except gguf_io.GGUFError:
        pass


def _read_imatrix(p: Path) -> None:
    try:
        load_imatrix(p)
    except ImatrixError:
        pass


def _read_forward(p: Path) -> None:
    try:
        f = GGUFFile(p)
        for name in f.tensors:
            f.decode(name)
    except ValueError:
        pass


READERS = [_read_model, _read_imatrix, _read_forward]


def one_input(data: bytes) -> None:
    if not data:
        return
    reader = READERS[data[0] % len(READERS)]
    p = _TMP / "input"
    p.write_bytes(data[1:])
    gguf_io._READERS.clear()  # the reader cache is keyed by mtime; every input must be parsed afresh
    reader(p)


def make_corpus(folder: Path) -> None:
    """Small valid seeds: a model (little- and big-endian) for the model and forward readers, and an
    importance matrix in both formats, each prefixed with its reader's selector byte."""
    import gguf

    from dgkernels.api import quantize
    from dgkernels.imatrix_io import Imatrix, save_imatrix
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for endian in ("little", "big"):
        p = _TMP / f"model-{endian}.gguf"
        w = gguf.GGUFWriter(str(p), arch="llama",
                            endianess=gguf.GGUFEndian.BIG if endian == "big" else gguf.GGUFEndian.LITTLE)
        w.add_block_count(1)
        w.add_head_count(2)
        w.add_array("tokenizer.ggml.tokens", ["a", "b", "cd"])
        x = rng.standard_normal((4, 64)).astype(np.float32)
        w.add_tensor("token_embd.weight", x.astype(np.float16))
        w.add_tensor("output_norm.weight", np.ones(64, np.float32))
        w.add_tensor("blk.0.attn_q.weight", quantize(x, "Q4_0"), raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        (folder / f"model-{endian}").write_bytes(b"\x00" + p.read_bytes())
        (folder / f"forward-{endian}").write_bytes(b"\x02" + p.read_bytes())
    im = Imatrix({"blk.0.attn_q.weight": np.linspace(0.1, 1, 64, dtype=np.float32).reshape(1, 64)},
                 datasets=["d"], chunk_count=2, chunk_size=8)
    for kind in ("gguf", "legacy"):
        p = _TMP / f"imatrix.{kind}"
        save_imatrix(im, p, kind=kind)
        (folder / f"imatrix-{kind}").write_bytes(b"\x01" + p.read_bytes())
    print(f"wrote {len(list(folder.iterdir()))} seeds to {folder}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
    elif atheris is None:
        files = [a for a in sys.argv[1:] if not a.startswith("-")]
        paths = [q for a in files for q in (sorted(Path(a).iterdir()) if Path(a).is_dir() else [Path(a)])]
        if not paths:
            sys.exit("atheris is not installed (pip install atheris); give files or folders to replay")
        for q in paths:
            one_input(q.read_bytes())
        print(f"replayed {len(paths)} inputs without a finding")
    else:
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
