"""The kernels under AddressSanitizer + UndefinedBehaviorSanitizer, as part of the ordinary `pytest` run.

Builds the extension with -DDGKERNELS_SANITIZE=ON (ASan + UBSan, -fno-sanitize-recover) into a cached
build folder, then runs a focused subset of the suite against it in a child process with the ASan
runtime preloaded: fuzzing of every decoder and encoder (hypothesis), golden vectors, ISA equality,
errors, the Python/C++ boundary and threads, each on every ISA this CPU has. Any sanitizer report aborts the child and fails
this test.

The build needs cmake, ninja, pybind11 and a C++ compiler with the sanitizer runtimes (the `test`
extra installs the Python-side tools). Missing tools make this test FAIL, not skip, so that CI cannot
silently stop running it; set DGKERNELS_SKIP_SANITIZED=1 to opt out explicitly (e.g. on a machine
without libasan). Other knobs:
  DGKERNELS_SANITIZE_BUILD_DIR   build folder (default build/pytest-sanitize in the repository)
  DGKERNELS_SANITIZE_TESTS       space-separated test files to run (default: SUBSET below)
  DGKERNELS_SANITIZE_EXAMPLES    hypothesis examples per format in the child (default 60)
tools/sanitize.sh runs the whole suite under the same build by hand.
"""
from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from helpers import REPO

SUBSET = ["tests/test_fuzz.py", "tests/test_golden.py", "tests/test_isa_equality.py", "tests/test_errors.py",
          "tests/test_boundary.py", "tests/test_threads.py"]
REPORT_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehavior")

pytestmark = [
    pytest.mark.skipif(os.environ.get("DGKERNELS_SKIP_SANITIZED") == "1",
                       reason="DGKERNELS_SKIP_SANITIZED=1: sanitizer run explicitly disabled"),
    # Inside the sanitized child (tools/sanitize.sh or this test) there is nothing more to build.
    pytest.mark.skipif(os.environ.get("DGKERNELS_SANITIZED") == "1", reason="already running sanitized"),
]


def _tool(name: str) -> str:
    """Path of a build tool: the pip-installed one of the `test` extra first, then PATH."""
    if name in ("cmake", "ninja"):
        try:
            mod = __import__(name)
            d = getattr(mod, "CMAKE_BIN_DIR" if name == "cmake" else "BIN_DIR", None)
            if d and (Path(d) / name).exists():
                return str(Path(d) / name)
        except ImportError:
            pass
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: the sanitizer build needs it (pip install 'dgkernels[test]' installs "
                    f"cmake and ninja; set DGKERNELS_SKIP_SANITIZED=1 to skip this check explicitly)")
    return found


def _pybind11_cmakedir() -> str:
    try:
        import pybind11
    except ImportError:
        pytest.fail("pybind11 is not importable: the sanitizer build needs it (pip install 'dgkernels[test]'; "
                    "DGKERNELS_SKIP_SANITIZED=1 skips this check explicitly)")
    return pybind11.get_cmake_dir()


def _runtime(cxx: str, lib: str) -> str:
    """Absolute path of a sanitizer runtime the compiler links against (gcc or clang)."""
    for arg in ([f"-print-file-name={lib}.so"], ["-print-file-name=libclang_rt.asan-x86_64.so"]
                if lib == "libasan" else []):
        if not arg:
            continue
        out = subprocess.run([cxx, *arg], capture_output=True, text=True).stdout.strip()
        if out and os.path.isabs(out) and os.path.exists(out):
            return os.path.realpath(out)
    pytest.fail(f"{cxx} has no {lib} runtime: install the compiler's sanitizer libraries (e.g. libasan) or set "
                f"DGKERNELS_SKIP_SANITIZED=1")


def _cache_value(build: Path, key: str) -> str:
    for line in (build / "CMakeCache.txt").read_text().splitlines():
        if line.startswith(key + ":"):
            return line.split("=", 1)[1]
    return ""


@pytest.fixture(scope="module")
def sanitized_package(tmp_path_factory):
    """A copy of the Python package with the ASan+UBSan build of _core in it; (parent dir, runtimes)."""
    build = Path(os.environ.get("DGKERNELS_SANITIZE_BUILD_DIR", REPO / "build" / "pytest-sanitize"))
    cmake, ninja = _tool("cmake"), _tool("ninja")
    if not (build / "build.ninja").exists():
        cfg = [cmake, "-S", str(REPO), "-B", str(build), "-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}",
               # -O1 and line tables: a quicker compile, exact report locations
               "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1",
               "-DDGKERNELS_SANITIZE=ON", "-DDGKERNELS_CUDA=OFF", f"-DPython_EXECUTABLE={sys.executable}",
               f"-Dpybind11_DIR={_pybind11_cmakedir()}"]
        r = subprocess.run(cfg, capture_output=True, text=True)
        assert r.returncode == 0, f"configuring the sanitizer build failed:\n{r.stdout}\n{r.stderr}"
    jobs = os.environ.get("DGKERNELS_SANITIZE_JOBS", str(min(os.cpu_count() or 2, 2)))
    with _timed("sanitizer build"):
        r = subprocess.run([cmake, "--build", str(build), "-j", jobs], capture_output=True, text=True)
    assert r.returncode == 0, f"the sanitizer build failed:\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}"
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    built = build / f"_core{suffix}"
    assert built.exists(), f"the sanitizer build did not produce {built}"
    stage = tmp_path_factory.mktemp("sanitized")
    shutil.copytree(REPO / "python" / "dgkernels", stage / "dgkernels",
                    ignore=shutil.ignore_patterns("_core*.so", "_cuda*.so", "__pycache__"))
    shutil.copy2(built, stage / "dgkernels" / built.name)
    cxx = _cache_value(build, "CMAKE_CXX_COMPILER") or os.environ.get("CXX", "c++")
    preload = [_runtime(cxx, "libasan")]
    if not _compiler_is_clang(cxx):
        preload.append(_runtime(cxx, "libubsan"))
    return stage, preload


@contextlib.contextmanager
def _timed(what: str):
    """Print wall time and the CPU time of child processes (the figure that does not depend on how busy
    the machine is)."""
    t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    yield
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime
    print(f"{what}: {time.perf_counter() - t0:.0f} s wall, {cpu:.0f} s CPU in child processes")


def _compiler_is_clang(cxx: str | None = None) -> bool:
    cxx = cxx or os.environ.get("CXX", "c++")
    try:
        return "clang" in subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.lower()
    except OSError:
        return False


def _child_env(stage: Path, preload: list[str]) -> dict:
    env = dict(os.environ)
    env.update({
        "LD_PRELOAD": " ".join(preload),
        # Python itself is not instrumented and leaks by design at exit: no leak check. Stop on the first
        # report of any kind.
        "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=1:verify_asan_link_order=0:"
                        "detect_stack_use_after_return=0:allocator_may_return_null=1",
        "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
        "PYTHONPATH": os.pathsep.join([str(stage), str(REPO / "tests")]),
        "DGKERNELS_SANITIZED": "1",
        "DGKERNELS_FUZZ_EXAMPLES": os.environ.get("DGKERNELS_SANITIZE_EXAMPLES", "60"),
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    env.pop("DGKERNELS_ISA", None)  # every test walks every ISA itself
    return env


def _check_no_reports(r: subprocess.CompletedProcess, what: str) -> None:
    out = r.stdout + r.stderr
    found = [m for m in REPORT_MARKERS if m in out]
    assert r.returncode == 0 and not found, (
        f"{what}: exit status {r.returncode}, sanitizer reports: {found or 'none'}\n"
        f"--- stdout (tail) ---\n{r.stdout[-12000:]}\n--- stderr (tail) ---\n{r.stderr[-12000:]}")


def test_sanitized_build_is_the_one_imported(sanitized_package):
    stage, preload = sanitized_package
    code = ("import dgkernels, dgkernels._core as c; print(c.__file__); print(dgkernels.available_isas()); "
            "import numpy as np; dgkernels.dequantize(np.zeros(18, np.uint8), 'Q4_0')")
    r = subprocess.run([sys.executable, "-c", code], env=_child_env(stage, preload), capture_output=True,
                       text=True, cwd=stage, timeout=300)
    _check_no_reports(r, "importing the sanitized build")
    assert r.stdout.splitlines()[0].startswith(str(stage)), r.stdout


def test_the_sanitizer_is_live(sanitized_package):
    """The preloaded runtime really reports (and the report is caught): a wild read in the child."""
    stage, preload = sanitized_package
    code = "import dgkernels, ctypes; ctypes.string_at(16)"
    r = subprocess.run([sys.executable, "-c", code], env=_child_env(stage, preload), capture_output=True,
                       text=True, cwd=stage, timeout=300)
    assert r.returncode != 0 and "AddressSanitizer" in r.stderr, (r.returncode, r.stderr[-2000:])


def test_sanitized_suite_subset(sanitized_package):
    """The fuzz tests, golden vectors, ISA equality, errors and threads under ASan+UBSan: zero reports."""
    stage, preload = sanitized_package
    tests = os.environ.get("DGKERNELS_SANITIZE_TESTS", " ".join(SUBSET)).split()
    cmd = [sys.executable, "-m", "pytest", *tests, "-q", "-x", "-m", "not slow and not cuda",
           "-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(REPO)]
    with _timed("sanitized subset"):
        r = subprocess.run(cmd, env=_child_env(stage, preload), capture_output=True, text=True, cwd=REPO,
                           timeout=int(os.environ.get("DGKERNELS_SANITIZE_TIMEOUT", "1800")))
    print(r.stdout[-3000:])
    _check_no_reports(r, "the sanitized test subset")
