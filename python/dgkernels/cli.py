"""The `dgkernels` command: plan, quantize, imatrix, eval.

    dgkernels quantize --demo
    dgkernels plan MODEL.gguf --policy dynamicgate --type IQ2_XXS [--json]
    dgkernels quantize SRC.gguf -o OUT.gguf --policy llama --type Q4_K_M [--imatrix FILE] [--threads N]
    dgkernels quantize SRC.gguf -o OUT.gguf --policy budget --target-bpw 3.5 --imatrix FILE
    dgkernels imatrix MODEL.gguf [--text FILE | --self N_TOKENS] -o IMATRIX.gguf
    dgkernels eval BASE.gguf QUANT.gguf [--text FILE] [--chunks N]

Errors print one line and exit non-zero; no tracebacks for bad input.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from pathlib import Path

DEMO_TARGET = "IQ2_XXS"
DEMO_TARGET_NO_IMATRIX = "IQ2_M"
DEMO_SELF_TOKENS = 2048


class CliError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise CliError(f"{message} (see dgkernels {self.prog.split()[-1]} --help)"
                       if " " in self.prog else message)


def parse_size(text: str) -> int:
    """Bytes from '75000000', '71.8MiB', '72M' (binary) or '75MB' (decimal)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)(i?[bB])?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}; use e.g. 75000000, 71.8MiB or 72M")
    num, unit, b = float(m.group(1)), m.group(2).upper(), m.group(3) or ""
    base = 1000 if unit and b.upper() == "B" and not b.lower().startswith("i") else 1024
    v = int(num * base ** " KMG".index(unit or " "))
    if v <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return v


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _bpw(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected bits per weight such as 3.5, got {text!r}") from None
    if not 0 < v <= 32:
        raise argparse.ArgumentTypeError(f"bits per weight must be in (0, 32], got {text!r}")
    return v


def _add_plan_options(p):
    p.add_argument("--policy", default="llama", help="llama, dynamicgate, dynamicgate-card or budget (default llama)")
    p.add_argument("--type", dest="target", help="target mix: Q4_K_M, IQ2_XXS, ... (see `dgkernels plan --help`)")
    p.add_argument("--rules", help="JSON rule table replacing DynamicGate's (see dgkernels/rules/dynamicgate.json)")
    p.add_argument("--imatrix", help="importance matrix: llama.cpp .dat or GGUF imatrix file")
    p.add_argument("--target-bpw", type=_bpw, help="budget policy: bits per weight over all weights")
    p.add_argument("--target-size", type=parse_size,
                   help="budget policy: size of the output file, e.g. 60MiB")
    p.add_argument("--threads", type=_positive_int, help="threads for the kernels (default: all cores)")
    p.add_argument("--sample-weights", type=_positive_int, default=None,
                   help="budget policy: weights measured per tensor (default 262144; whole rows, evenly spaced)")


def build_parser() -> argparse.ArgumentParser:
    from .policy import llama
    ap = _Parser(prog="dgkernels", description="Quantize GGUF models with dgkernels' bit-exact kernels.")
    sub = ap.add_subparsers(dest="command", parser_class=_Parser)
    targets = ", ".join(llama.targets())

    p = sub.add_parser("plan", help="show the format each tensor gets", description=f"targets: {targets}")
    p.add_argument("model", help="GGUF model file")
    _add_plan_options(p)
    p.add_argument("--json", action="store_true", help="print the plan as JSON on standard output")
    p.add_argument("--brief", action="store_true", help="per layer and totals only")
    p.add_argument("--llama-args", action="store_true", help="print the equivalent llama-quantize arguments")

    q = sub.add_parser("quantize", help="write a quantized GGUF", description=f"targets: {targets}")
    q.add_argument("src", nargs="?", help="source GGUF model (F32/F16/BF16, or quantized with a warning)")
    q.add_argument("-o", "--output", help="output GGUF file")
    _add_plan_options(q)
    q.add_argument("--force", action="store_true", help="replace the output file if it exists")
    q.add_argument("--no-progress", action="store_true", help="no progress bar")
    q.add_argument("--demo", action="store_true",
                   help="quantize SmolLM2-135M-Instruct (extra 'demo') with DynamicGate into the current directory")

    # `dgkernels imatrix ...` is parsed by dgkernels.imatrix_compute (main() hands it over).
    sub.add_parser("imatrix", help="compute an importance matrix with dgkernels' numpy forward pass",
                   add_help=False)

    e = sub.add_parser("eval", help="perplexity and KL-divergence against a base model (extra 'eval')")
    e.add_argument("base", help="base GGUF model (the reference distribution)")
    e.add_argument("quant", nargs="+", help="quantized GGUF model(s)")
    e.add_argument("--text", help="UTF-8 text to evaluate on (default: a public-domain excerpt bundled for tests)")
    e.add_argument("--chunks", type=_positive_int, help="evaluate at most this many chunks of 512 tokens")
    e.add_argument("--ctx", type=_positive_int, default=512, help="context per chunk (default 512)")
    e.add_argument("--threads", type=_positive_int, help="threads for llama.cpp")
    e.add_argument("--json", action="store_true", help="print results as JSON")
    return ap


def _plan(args, src):
    from .quantizer import make_file_plan, size_budget
    kw = {}
    if args.sample_weights:
        kw["sample_weights"] = args.sample_weights
    target_bytes = None
    if args.target_size is not None:
        target_bytes = size_budget(src, args.target_size, args.policy)
    return make_file_plan(src, args.policy, args.target, imatrix=args.imatrix, rules=args.rules,
                          target_bpw=args.target_bpw, target_bytes=target_bytes, threads=args.threads,
                          progress=not getattr(args, "no_progress", False), **kw)


def cmd_plan(args) -> int:
    plan = _plan(args, args.model)
    if args.json:
        json.dump(plan.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif args.llama_args:
        print(" ".join(_shell_quote(a) for a in plan.llama_quantize_args()))
    else:
        print(plan.table(per_tensor=not args.brief))
        print("llama-quantize equivalent: llama-quantize "
              + " ".join(_shell_quote(a) for a in plan.llama_quantize_args()) + f" IN.gguf OUT.gguf {plan.target}")
    return 0


def _shell_quote(a: str) -> str:
    import shlex
    return shlex.quote(a)


def _imatrix_compute():
    """dgkernels.imatrix_compute.compute_imatrix, or None in a build without it."""
    try:
        from .imatrix_compute import compute_imatrix
    except ImportError:
        return None
    return compute_imatrix


def demo_imatrix(src: Path, out_dir: Path, progress: bool = True) -> Path:
    """A self-calibrated importance matrix for the demo model, cached next to the output."""
    path = out_dir / f"{src.name.split('.')[0]}.imatrix-self{DEMO_SELF_TOKENS}.gguf"
    if not path.exists():
        print(f"computing a self-calibrated importance matrix ({DEMO_SELF_TOKENS} tokens the model writes "
              f"itself; no dataset needed; cached for the next run) -> {path}", flush=True)
        _imatrix_compute()(src, self_tokens=DEMO_SELF_TOKENS, out_path=path, progress=progress)
    return path


def _setup_demo(args) -> None:
    """--demo: the bundled model, DynamicGate, IQ2_XXS with a self-calibrated imatrix when this build can
    compute one, else IQ2_M (which needs none), into the current directory."""
    if args.src:
        raise CliError("--demo quantizes the bundled demo model; do not give a source file")
    from .quantizer import demo_model_path
    src = demo_model_path()
    args.src = str(src)
    if args.policy == "llama":
        args.policy = "dynamicgate"
    can_compute = args.imatrix is None and _imatrix_compute() is not None
    if args.target is None:
        args.target = DEMO_TARGET if args.imatrix or can_compute else DEMO_TARGET_NO_IMATRIX
        if args.target != DEMO_TARGET:
            print(f"note: DynamicGate's {DEMO_TARGET} target needs an importance matrix (IQ2_XXS cannot be "
                  f"encoded without one); this build cannot compute one and none was given (--imatrix FILE), "
                  f"so the demo uses {DEMO_TARGET_NO_IMATRIX}, which needs none.")
    if args.output is None:
        args.output = f"{src.name.split('.')[0]}-{args.policy}-{args.target}.gguf"
    _refuse_existing(args)
    if can_compute:
        _check_plan_options(args, src)  # a bad --policy/--type/--rules fails now, not after minutes of imatrix work
        args.imatrix = str(demo_imatrix(src, Path(args.output).parent, progress=not args.no_progress))


def _check_plan_options(args, src) -> None:
    """Raise the error the plan would raise, without measuring anything (budget: only its options)."""
    from .gguf_io import model_spec, open_gguf
    from .policy import check_policy, make_plan
    policy = check_policy(args.policy)
    if policy == "budget":
        if (args.target_bpw is None) == (args.target_size is None):
            raise ValueError("the budget policy needs exactly one of --target-bpw or --target-size")
        return
    if args.target_bpw is not None or args.target_size is not None:
        raise ValueError("--target-bpw / --target-size only apply to the budget policy")
    make_plan(model_spec(open_gguf(src)), policy, args.target, has_imatrix=True, rules=args.rules)


def _refuse_existing(args) -> None:
    """Fail before the expensive part when the output exists (quantize_file checks again when writing)."""
    if Path(args.output).exists() and not args.force:
        raise CliError(f"{args.output} exists; pass --force to replace it")


def cmd_quantize(args) -> int:
    from .quantizer import quantize_file
    if args.demo:
        _setup_demo(args)
    if not args.src:
        raise CliError("quantize needs a source GGUF file (or --demo)")
    if not args.output:
        raise CliError("quantize needs an output file: -o OUT.gguf")
    _refuse_existing(args)
    plan = _plan(args, args.src)
    if args.demo:
        print(plan.table(per_tensor=False))
    res = quantize_file(args.src, args.output, plan, imatrix=args.imatrix, threads=args.threads,
                        overwrite=args.force, progress=not args.no_progress)
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(res.summary())
    return 0


def cmd_eval(args) -> int:
    from .evaluate import evaluate, format_results
    res = evaluate(args.base, args.quant, text_path=args.text, chunks=args.chunks, n_ctx=args.ctx,
                   threads=args.threads, progress=True)
    if args.json:
        json.dump(res, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(format_results(res))
    return 0


def _on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds, so a partial output file is removed


def main(argv=None) -> int:
    ap = build_parser()
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        previous = None
    try:
        return _run(ap, sys.argv[1:] if argv is None else list(argv))
    finally:  # main() may run inside a host process (tests, tools): give its handler back
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(ap, argv) -> int:
    from .gguf_io import GGUFError
    from .imatrix_io import ImatrixError
    from .policy import RuleError
    try:
        if argv[:1] == ["imatrix"]:
            from .imatrix_compute import _parser, cli_main
            check = _parser()
            check.error = lambda message: _Parser.error(check, message)  # one line, not usage + message
            ia = check.parse_args(argv[1:])
            # cheap checks first: decoding the model's weights takes a while and prints a progress bar
            if not Path(ia.model).is_file():
                raise CliError(f"{ia.model}: no such file")
            if ia.text is not None and not Path(ia.text).is_file():
                raise CliError(f"{ia.text}: no such text file")
            if ia.self_tokens is not None and ia.self_tokens < 1:
                raise CliError(f"--self needs a positive number of tokens, got {ia.self_tokens}")
            return cli_main(argv[1:])
        args = ap.parse_args(argv)
        if args.command is None:
            ap.print_help()
            return 2
        return {"plan": cmd_plan, "quantize": cmd_quantize, "eval": cmd_eval}[args.command](args)
    except CliError as e:
        print(f"dgkernels: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ndgkernels: interrupted; no output written", file=sys.stderr)
        return 130
    except (GGUFError, ImatrixError, RuleError, ValueError, FileExistsError, FileNotFoundError, KeyError,
            NotImplementedError, ImportError, OSError) as e:
        msg = str(e) if not isinstance(e, KeyError) else f"unknown name {e}"
        print(f"dgkernels: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
