"""The model quantizer's resource and failure behaviour: peak memory bounded by the largest tensor (not the
model), and atomic output -- an exception, Ctrl-C or a full disk at any point leaves neither the
destination nor a temporary file, and an existing destination survives a failed overwrite."""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap

import gguf
import numpy as np
import pytest

from dgkernels import gguf_io, quantizer
from dgkernels.gguf_io import AtomicOutput, model_spec, open_gguf
from dgkernels.policy.dynamicgate import dynamicgate_plan
from helpers import PKG_PARENT
from test_gguf_io import LEGACY_RULES, write_tiny_model

MiB = 1 << 20


def _plan(path):
    return dynamicgate_plan(model_spec(open_gguf(path)), "Q8_0", rules=LEGACY_RULES)


# ---- bounded memory ----------------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import json, resource, sys
    from dgkernels import quantizer
    from dgkernels.gguf_io import model_spec, open_gguf
    from dgkernels.policy.dynamicgate import dynamicgate_plan

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        return None

    src, dst, rules = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    plan = dynamicgate_plan(model_spec(open_gguf(src)), "Q8_0", rules=rules)
    reset = True
    try:  # restart the high-water mark here (Linux >= 4.0), so only the quantization counts
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        reset = False
    base = status("VmRSS")
    quantizer.quantize_file(src, dst, plan, progress=False, threads=2)
    peak = status("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"base": base, "peak": peak, "reset": reset}))
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc to read the RSS")
def test_peak_memory_is_bounded_by_the_largest_tensor(tmp_path):
    """39 tensors, 80 MiB on disk (F16, one BF16; 160 MiB as float32); the largest is 4 MiB F16 (8 MiB float32).
    Streaming tensor by tensor (decode -> encode -> append -> drop the source pages) keeps the growth of
    resident memory near a few times the largest tensor's float32 size, far below the model's size."""
    src = write_tiny_model(tmp_path / "m.gguf", n_layer=4, n_embd=1024, n_ff=2048, n_head=8, n_head_kv=4,
                           n_vocab=2048)
    r = open_gguf(src)
    n_tensors = len(r.tensors)
    model_bytes = sum(int(t.n_bytes) for t in r.tensors)
    largest_f32 = max(int(t.n_elements) for t in r.tensors) * 4
    gguf_io._READERS.clear()
    del r
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([PKG_PARENT, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(src), str(tmp_path / "q.gguf"), json.dumps(LEGACY_RULES)],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    growth = m["peak"] - m["base"]
    print(f"{n_tensors} tensors, model {model_bytes / MiB:.1f} MiB on disk, largest tensor {largest_f32 / MiB:.1f} "
          f"MiB as float32; RSS before {m['base'] / MiB:.1f} MiB, peak {m['peak'] / MiB:.1f} MiB, "
          f"growth {growth / MiB:.1f} MiB = {growth / largest_f32:.2f} x largest (hwm reset: {m['reset']})")
    assert n_tensors >= 39 and model_bytes >= 64 * MiB
    assert growth <= 3 * largest_f32 + 16 * MiB, (
        f"quantizing grew resident memory by {growth / MiB:.1f} MiB; the bound is 3 x the largest tensor "
        f"({largest_f32 / MiB:.1f} MiB as float32) + 16 MiB; the model holds {model_bytes / MiB:.1f} MiB")


# ---- atomic output --------------------------------------------------------------------------------------

@pytest.fixture
def tiny(tmp_path):
    return write_tiny_model(tmp_path / "tiny.gguf", n_layer=2, n_embd=64, n_ff=128, n_vocab=64)


def _leftovers(tmp_path, src):
    return sorted(p.name for p in tmp_path.iterdir() if p != src)


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["header", "kv", "tensor_info", "tensor_data", "fsync", "rename"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_full_disk_leaves_no_file(tiny, tmp_path, monkeypatch, where, overwrite):
    """ENOSPC from every write step: no destination, no temporary file, an existing destination intact."""
    dst = tmp_path / "out.gguf"
    if overwrite:
        dst.write_bytes(b"old model")
    if where == "tensor_data":
        real, calls = gguf.GGUFWriter.write_tensor_data, []

        def write_some(self, *a, **k):
            calls.append(1)
            if len(calls) == 3:  # some tensors are already on disk
                _enospc()
            return real(self, *a, **k)
        monkeypatch.setattr(gguf.GGUFWriter, "write_tensor_data", write_some)
    elif where == "fsync":
        monkeypatch.setattr(gguf_io.os, "fsync", _enospc)
    elif where == "rename":
        monkeypatch.setattr(gguf_io.os, "replace", _enospc)
    else:
        method = {"header": "write_header_to_file", "kv": "write_kv_data_to_file",
                  "tensor_info": "write_ti_data_to_file"}[where]
        monkeypatch.setattr(gguf.GGUFWriter, method, _enospc)
    with pytest.raises(OSError) as e:
        quantizer.quantize_file(tiny, dst, _plan(tiny), overwrite=overwrite, progress=False)
    assert e.value.errno == errno.ENOSPC
    if overwrite:
        assert dst.read_bytes() == b"old model"
        assert _leftovers(tmp_path, tiny) == ["out.gguf"]
    else:
        assert _leftovers(tmp_path, tiny) == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt, MemoryError, ValueError])
def test_interrupt_during_overwrite_keeps_the_old_file(tiny, tmp_path, monkeypatch, exc):
    dst = tmp_path / "out.gguf"
    dst.write_bytes(b"old model")
    real, calls = quantizer._encode, []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise exc("stop")
        return real(*a, **k)
    monkeypatch.setattr(quantizer, "_encode", failing)
    with pytest.raises(exc):
        quantizer.quantize_file(tiny, dst, _plan(tiny), overwrite=True, progress=False)
    assert dst.read_bytes() == b"old model" and _leftovers(tmp_path, tiny) == ["out.gguf"]


def test_destination_appearing_while_writing_is_not_replaced(tiny, tmp_path, monkeypatch):
    dst = tmp_path / "out.gguf"
    real = quantizer._encode

    def sneaky(*a, **k):
        if not dst.exists():
            dst.write_bytes(b"someone else's")
        return real(*a, **k)
    monkeypatch.setattr(quantizer, "_encode", sneaky)
    with pytest.raises(FileExistsError, match="appeared while writing"):
        quantizer.quantize_file(tiny, dst, _plan(tiny), progress=False)
    assert dst.read_bytes() == b"someone else's" and _leftovers(tmp_path, tiny) == ["out.gguf"]


def test_refusals_before_any_file_is_made(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        AtomicOutput(tmp_path / "missing" / "out.gguf")
    (tmp_path / "out.gguf").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="exists; pass --force"):
        quantizer.quantize_file(tiny, tmp_path / "out.gguf", _plan(tiny), progress=False)
    assert (tmp_path / "out.gguf").read_bytes() == b"x" and _leftovers(tmp_path, tiny) == ["out.gguf"]


def test_success_leaves_only_the_output(tiny, tmp_path):
    quantizer.quantize_file(tiny, tmp_path / "out.gguf", _plan(tiny), progress=False)
    assert _leftovers(tmp_path, tiny) == ["out.gguf"]
    open_gguf(tmp_path / "out.gguf")  # and it passes the reader's validation
