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
cp "$build"/_core*.so python/dgkernels/
