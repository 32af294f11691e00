#!/usr/bin/env bash
# One-shot GPU check for a lent machine (no internet; needs nvcc, cmake, ninja, pybind11, torch and/or cupy,
# numpy, pytest): build the package with the CUDA extension, run the CUDA tests (GPU vs CPU byte for byte,
# plus the host emulation tests), then the GPU benchmark, whose table is printed last.
# Fits one 10-minute call: the build targets only sm_90 here (DGK_CUDA_ARCHS overrides), tests and
# benchmark are time-limited.
#   benchmarks/gpu_check.sh            (from the repository root or anywhere)
# Env: DGK_CUDA_ARCHS (default 90-real), JOBS (default nproc), DGKERNELS_VECTORS (golden vectors folder).
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
jobs=${JOBS:-$(nproc)}
archs=${DGK_CUDA_ARCHS:-90-real}
build=build/gpu-check
echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -4
nvcc --version | tail -1
echo "== build (archs $archs, -j$jobs)"
t0=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE="$(command -v "$py")" \
      -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" -DDGKERNELS_CUDA=ON -DDGK_CUDA_ARCHS="$archs" >/dev/null \
  && cmake --build "$build" -j "$jobs" >"$build.log" 2>&1
rc=$?
echo "build rc=$rc in $(( $(date +%s) - t0 )) s"
if [ $rc -ne 0 ]; then tail -40 "$build.log"; exit $rc; fi
cp "$build"/_core*.so "$build"/_cuda*.so python/dgkernels/
export PYTHONPATH=$PWD/python:$PWD/tests
"$py" -c "import dgkernels as dg, dgkernels.cuda as c; print('cuda_available', dg.cuda_available(), c.unavailable_reason()); print('GPU encoders:', ' '.join(c.encode_formats()))"
echo "== tests"
t0=$(date +%s)
timeout 360 "$py" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py tests/test_cuda_emulation.py 2>&1 | tail -60
echo "tests took $(( $(date +%s) - t0 )) s"
echo "== benchmark"
timeout 240 "$py" benchmarks/gpu_bench.py "$@"
