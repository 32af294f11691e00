// Device encode kernels of the IQ grid formats: one thread per 256-weight super-block, calling the shared
// iq_encode_block<F> over device copies of the lattice indexes (IqViews).
#include <cuda_runtime.h>

#include "dgk_cuda/api.h"
#include "dgk_cuda/iq_encode.cuh"

namespace dgk::cuda {

template <int F>
__global__ void __launch_bounds__(64) k_encode_iq(const float* __restrict__ x, uint8_t* __restrict__ dst,
                                                  const float* __restrict__ imatrix, int64_t nblocks, int64_t bpr,
                                                  IqViews v) {
    const int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    const float* qw = imatrix ? imatrix + (b % bpr) * QK_K : nullptr;
    iq_encode_block<F>(v, x + b * QK_K, qw, dst + b * block_bytes(F));
}

template <int F> static void launch(const float* x, uint8_t* dst, const float* im, int64_t nrows, int64_t n,
                                    const IqViews& v, cudaStream_t s) {
    constexpr int threads = 64;
    const int64_t bpr = n / QK_K, nblocks = nrows * bpr;
    const int64_t blocks = (nblocks + threads - 1) / threads;
    if (blocks) k_encode_iq<F><<<(unsigned)blocks, threads, 0, s>>>(x, dst, im, nblocks, bpr, v);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail("k_encode_iq launch", (int)e);
}

void launch_encode_iq(int fmt, const float* x, uint8_t* dst, const float* im, int64_t nrows, int64_t n,
                      const IqViews& v, void* stream) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    switch (fmt) {
        case F_IQ1_S: return launch<F_IQ1_S>(x, dst, im, nrows, n, v, s);
        case F_IQ1_M: return launch<F_IQ1_M>(x, dst, im, nrows, n, v, s);
        case F_IQ2_XXS: return launch<F_IQ2_XXS>(x, dst, im, nrows, n, v, s);
        case F_IQ2_XS: return launch<F_IQ2_XS>(x, dst, im, nrows, n, v, s);
        case F_IQ2_S: return launch<F_IQ2_S>(x, dst, im, nrows, n, v, s);
        case F_IQ3_XXS: return launch<F_IQ3_XXS>(x, dst, im, nrows, n, v, s);
        case F_IQ3_S: return launch<F_IQ3_S>(x, dst, im, nrows, n, v, s);
        default: fail("launch_encode_iq: format not handled here", 0);
    }
}

}  // namespace dgk::cuda
