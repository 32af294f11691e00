#!/usr/bin/env bash
# Build the extension with AddressSanitizer + UndefinedBehaviorSanitizer and run the test suite
# against it. Any sanitizer report aborts the run (non-zero exit).
#   tools/sanitize.sh [pytest args...]        (default: the whole suite minus tests marked slow)
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
build=build/asan
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDGKERNELS_SANITIZE=ON -DDGKERNELS_CUDA=OFF \
      -DPython_EXECUTABLE="$(command -v "$py")" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build"
stage="$build/stage"
rm -rf "$stage" && mkdir -p "$stage"
cp -r python/dgkernels "$stage/"
rm -f "$stage"/dgkernels/_core*.so
cp "$build"/_core*.so "$stage/dgkernels/"
# Python itself is not instrumented: preload the runtime, ignore leaks of the interpreter.
export LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so) $(${CXX:-g++} -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH="$PWD/$stage"
export DGKERNELS_SANITIZED=1
if [ $# -eq 0 ]; then set -- tests -q -m "not slow and not cuda" -p no:cacheprovider; fi
"$py" -m pytest "$@"
