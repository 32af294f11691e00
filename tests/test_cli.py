"""The `dgkernels` command: plan (text and JSON), quantize, and one clear line, no traceback, for bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from dgkernels.cli import main, parse_size
from helpers import PKG_PARENT
from test_gguf_io import LEGACY_RULES, write_tiny_model



def run_cli(*args, cwd=None):
    """The command in a fresh interpreter, as a user runs it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PKG_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "dgkernels.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "legacy.json").write_text(json.dumps(LEGACY_RULES))
    return write_tiny_model(d / "tiny.gguf")


def test_plan_json(tiny):
    r = run_cli("plan", tiny, "--policy", "dynamicgate", "--type", "IQ2_XXS", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    names = [t["name"] for t in doc["tensors"]]
    assert names == [t.name for t in gguf.GGUFReader(tiny).tensors]
    assert all("format" in t for t in doc["tensors"])
    assert doc["totals"]["bytes"] == sum(t["bytes"] for t in doc["tensors"])
    assert doc["policy"] == "dynamicgate" and doc["target"] == "IQ2_XXS"
    by = {t["name"]: t["format"] for t in doc["tensors"]}
    assert by["blk.0.ffn_down.weight"] == "IQ3_S" and by["blk.2.ffn_down.weight"] == "IQ2_XXS"


def test_plan_text(tiny, capsys):
    assert main(["plan", str(tiny), "--type", "Q4_K_M"]) == 0
    out = capsys.readouterr().out
    assert "blk.0.attn_v.weight" in out and "per layer:" in out and "total:" in out
    assert "llama-quantize equivalent: llama-quantize" in out
    assert main(["plan", str(tiny), "--type", "Q4_K_M", "--brief"]) == 0
    assert "blk.0.attn_v.weight" not in capsys.readouterr().out
    assert main(["plan", str(tiny), "--type", "Q4_K_M", "--llama-args"]) == 0
    assert "--tensor-type" in capsys.readouterr().out


def test_quantize_command(tiny, tmp_path):
    out = tmp_path / "q.gguf"
    rules = tiny.parent / "legacy.json"
    r = run_cli("quantize", tiny, "-o", out, "--policy", "dynamicgate", "--rules", rules, "--type", "Q8_0",
                "--threads", "2")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "bits/weight" in r.stdout and "peak memory" in r.stdout
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(out).tensors}
    assert types["blk.0.ffn_down.weight"] == "Q5_1" and types["blk.3.ffn_down.weight"] == "Q4_1"
    again = run_cli("quantize", tiny, "-o", out, "--policy", "dynamicgate", "--rules", rules, "--type", "Q8_0")
    assert again.returncode != 0 and "--force" in again.stderr
    forced = run_cli("quantize", tiny, "-o", out, "--policy", "dynamicgate", "--rules", rules, "--type", "Q8_0",
                     "--force", "--no-progress")
    assert forced.returncode == 0, forced.stderr


def test_budget_command(tiny, tmp_path):
    r = run_cli("plan", tiny, "--policy", "budget", "--target-bpw", "5.5", "--json", "--sample-weights", "8192")
    if r.returncode != 0 and "not available" in r.stderr:
        pytest.skip(r.stderr)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"]["bits_per_weight"] <= 5.5
    assert doc["budget"]["used_bytes"] <= doc["budget"]["budget_bytes"]


def _bad(tiny, tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model at all")
    other_im = tmp_path / "other.dat"
    import struct
    name = b"model.layers.0.mlp.down_proj.weight"
    other_im.write_bytes(struct.pack("<i", 1) + struct.pack("<i", len(name)) + name + struct.pack("<ii", 1, 4)
                         + bytes(16))
    short_im = tmp_path / "short.dat"
    name = b"blk.0.ffn_down.weight"
    short_im.write_bytes(struct.pack("<i", 1) + struct.pack("<i", len(name)) + name + struct.pack("<ii", 1, 4)
                         + bytes(16))
    return [
        (["plan", tmp_path / "missing.gguf", "--type", "Q4_0"], "no such file"),
        (["plan", junk, "--type", "Q4_0"], "not a GGUF file"),
        (["plan", tiny, "--policy", "magic", "--type", "Q4_0"], "unknown policy"),
        (["plan", tiny, "--type", "Q4_Z"], "unknown target"),
        (["plan", tiny], "needs a target type"),
        (["plan", tiny, "--policy", "budget", "--target-bpw", "-3"], "bits per weight"),
        (["plan", tiny, "--policy", "budget", "--target-bpw", "x"], "bits per weight"),
        (["plan", tiny, "--policy", "budget", "--target-size", "lots"], "bad size"),
        (["plan", tiny, "--policy", "budget"], "exactly one of"),
        (["plan", tiny, "--type", "Q4_0", "--target-bpw", "4"], "only apply to the budget policy"),
        (["plan", tiny, "--type", "Q4_0", "--threads", "0"], "positive integer"),
        (["plan", tiny, "--type", "IQ2_XXS", "--imatrix", other_im], "another model"),
        (["plan", tiny, "--type", "IQ2_XXS", "--imatrix", short_im], "has 4 values but the tensor needs 512"),
        (["plan", tiny, "--type", "IQ2_XXS", "--imatrix", tmp_path / "none.dat"], "no such imatrix file"),
        (["plan", tiny, "--policy", "dynamicgate", "--type", "IQ2_XXS", "--rules", junk], "not valid JSON"),
        (["quantize", tiny, "--type", "Q8_0"], "needs an output file"),
        (["quantize", "-o", tmp_path / "x.gguf"], "needs a source"),
        (["quantize", tiny, "-o", tmp_path / "nodir" / "x.gguf", "--type", "Q8_0"], "no such directory"),
        (["quantize", tiny, "-o", tmp_path / "x.gguf", "--policy", "dynamicgate", "--type", "Q8_0",
          "--rules", tiny.parent / "legacy.json", "--imatrix", other_im], "another model"),
        (["eval", tiny, tiny], "--text"),
        (["frobnicate"], "invalid choice"),
    ]


def test_errors_are_one_clear_line(tiny, tmp_path, capsys):
    for args, msg in _bad(tiny, tmp_path):
        code = main([str(a) for a in args])  # an uncaught exception (a traceback) fails the test here
        err = capsys.readouterr().err.strip()
        assert code != 0, args
        assert len(err.splitlines()) == 1, (args, err)
        assert err.startswith("dgkernels: error:") and msg in err, (args, err)
    assert not (tmp_path / "x.gguf").exists()


def test_error_from_the_installed_command(tmp_path):
    r = run_cli("quantize", tmp_path / "missing.gguf", "-o", tmp_path / "o.gguf", "--type", "Q4_K_M")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"dgkernels: error: {tmp_path / 'missing.gguf'}: no such file"


def test_parse_size():
    assert parse_size("1000") == 1000
    assert parse_size("2K") == 2048 and parse_size("1.5MiB") == 3 * 2 ** 19 and parse_size("1MB") == 10 ** 6
    assert parse_size("1G") == 2 ** 30


def test_demo_setup(monkeypatch, tmp_path, tiny, capsys):
    """--demo: the demo model, DynamicGate, IQ2_XXS with a self-calibrated imatrix when this build can compute
    one (cached next to the output), else IQ2_M and a note saying why."""
    import types

    import numpy as np

    from dgkernels import cli, quantizer
    from dgkernels.gguf_io import model_spec, open_gguf
    from dgkernels.imatrix_io import Imatrix, save_imatrix
    monkeypatch.setattr(quantizer, "demo_model_path", lambda: tiny)
    monkeypatch.chdir(tmp_path)
    calls = []

    def compute_imatrix(src, *, self_tokens, out_path, progress):
        calls.append((Path(src), self_tokens, progress))
        m = model_spec(open_gguf(src))
        save_imatrix(Imatrix({t.name: np.ones((1, t.row_length), np.float32) for t in m.tensors
                              if t.name.startswith("blk.") and len(t.shape) == 2}, chunk_count=1), out_path)
        return Path(out_path)

    fake = types.ModuleType("dgkernels.imatrix_compute")
    fake.compute_imatrix = compute_imatrix
    monkeypatch.setitem(sys.modules, "dgkernels.imatrix_compute", fake)
    for _ in range(2):
        args = cli.build_parser().parse_args(["quantize", "--demo", "--no-progress"])
        cli._setup_demo(args)
        assert (args.src, args.policy, args.target) == (str(tiny), "dynamicgate", "IQ2_XXS")
        assert args.output == "tiny-dynamicgate-IQ2_XXS.gguf" and Path(args.imatrix).is_file()
    assert calls == [(tiny, cli.DEMO_SELF_TOKENS, False)]  # computed once (no bars asked), then reused
    (tmp_path / "tiny-dynamicgate-IQ2_XXS.gguf").unlink(missing_ok=True)
    (tmp_path / f"tiny.imatrix-self{cli.DEMO_SELF_TOKENS}.gguf").unlink()
    for bad, msg in ((["--type", "Q9_Z"], "unknown target"), (["--policy", "magic"], "unknown policy"),
                     (["--rules", str(tmp_path / "none.json")], "none.json"),
                     (["--policy", "budget"], "exactly one of"), (["--target-bpw", "3"], "only apply to the budget")):
        capsys.readouterr()
        assert main(["quantize", "--demo", *bad]) == 1, bad
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err, (bad, err)
    assert len(calls) == 1  # bad options fail before the (minutes long) imatrix computation
    monkeypatch.setitem(sys.modules, "dgkernels.imatrix_compute", None)  # a build without it
    args = cli.build_parser().parse_args(["quantize", "--demo"])
    cli._setup_demo(args)
    assert args.target == "IQ2_M" and args.imatrix is None and "needs an importance matrix" in capsys.readouterr().out


def test_imatrix_and_eval_errors_are_one_line(tiny, tmp_path, capsys):
    """`dgkernels imatrix` and `dgkernels eval`: missing file, not a GGUF, bad option values."""
    junk = tmp_path / "junk.gguf"
    junk.write_text("not a model at all")
    text = tmp_path / "t.txt"
    text.write_text("a few words")
    out = tmp_path / "im.gguf"
    cases = [
        (["imatrix", tmp_path / "missing.gguf", "--text", text, "-o", out], "missing.gguf: no such file"),
        (["imatrix", junk, "--self", "64", "-o", out], "not a GGUF file"),
        (["imatrix", tiny, "--text", tmp_path / "none.txt", "-o", out], "none.txt: no such text file"),
        (["imatrix", tiny, "--self", "0", "-o", out], "positive number of tokens"),
        (["imatrix", tiny, "--self", "many", "-o", out], "invalid int value"),
        (["imatrix", tiny, "--text", text, "--chunks", "0", "-o", out], "chunks must be"),
        (["imatrix", tiny, "--text", text, "--ctx", "4", "-o", out], "ctx must be"),
        (["imatrix", tiny, "-o", out], "--self is required"),
        (["imatrix", tiny, "--text", text], "required"),
        (["eval", tmp_path / "missing.gguf", tiny, "--text", text], "no such file"),
        (["eval", tiny, tiny, "--text", tmp_path / "none.txt"], "no such text file"),
        (["eval", tiny, tiny, "--text", text, "--chunks", "0"], "positive integer"),
    ]
    for args, msg in cases:
        code = main([str(a) for a in args])
        err = capsys.readouterr().err.strip()
        assert code != 0, args
        assert len(err.splitlines()) == 1 and "Traceback" not in err, (args, err)
        assert err.startswith("dgkernels") and "error:" in err and msg in err, (args, err)
    assert not out.exists()


def test_main_gives_back_the_sigterm_handler(capsys):
    import signal

    def mine(signum, frame):
        pass

    before = signal.signal(signal.SIGTERM, mine)
    try:
        assert main(["plan"]) != 0  # argparse error: exits through SystemExit
    except SystemExit:
        pass
    finally:
        after = signal.signal(signal.SIGTERM, before)
    assert after is mine
