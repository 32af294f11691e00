#!/usr/bin/env bash
# Fast developer build: compile the extension with CMake+Ninja into build/dev and drop the module
# into python/dgkernels/ (git-ignored), so `PYTHONPATH=python pytest` runs against the working tree.
#   tools/dev_build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
build=${DGK_BUILD_DIR:-build/dev}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DPython_EXECUTABLE="$(command -v "$py")" \
        -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" -DDGKERNELS_CUDA=OFF "$@" >/dev/null
fi
cmake --build "$build"
# copy, then rename: a process that has the old module loaded keeps its (unlinked) file intact
for so in "$build"/_core*.so "$build"/_cuda*.so; do
  [ -f "$so" ] || continue
  cp "$so" "python/dgkernels/.$(basename "$so").tmp" && mv -f "python/dgkernels/.$(basename "$so").tmp" "python/dgkernels/$(basename "$so")"
done
