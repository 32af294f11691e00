// Device encode kernels of the K-quants (Q2_K..Q6_K, Q8_K): one thread per 256-weight super-block,
// calling the shared Enc<F>::run (same code as the host emulation).
#include <cuda_runtime.h>

#include "dgk_cuda/api.h"
#include "dgk_cuda/encode.cuh"

namespace dgk::cuda {

DGKC_DEFINE_TABLE_UPLOAD(upload_tables_encode_k)

template <int F>
__global__ void __launch_bounds__(128) k_encode_k(const float* __restrict__ x, uint8_t* __restrict__ dst,
                                                  const float* __restrict__ imatrix, int64_t nblocks, int64_t bpr) {
    const int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    const float* qw = imatrix ? imatrix + (b % bpr) * QK_K : nullptr;
    Enc<F>::run(x + b * QK_K, qw, 0.f, dst + b * block_bytes(F));
}

template <int F> static void launch(const float* x, uint8_t* dst, const float* im, int64_t nrows, int64_t n,
                                    cudaStream_t s) {
    constexpr int threads = 128;
    const int64_t bpr = n / QK_K, nblocks = nrows * bpr;
    const int64_t blocks = (nblocks + threads - 1) / threads;
    if (blocks) k_encode_k<F><<<(unsigned)blocks, threads, 0, s>>>(x, dst, im, nblocks, bpr);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail("k_encode launch", (int)e);
}

void launch_encode_k(int fmt, const float* x, uint8_t* dst, const float* im, int64_t nrows, int64_t n, void* stream) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    switch (fmt) {
        case F_Q2_K: return launch<F_Q2_K>(x, dst, im, nrows, n, s);
        case F_Q3_K: return launch<F_Q3_K>(x, dst, im, nrows, n, s);
        case F_Q4_K: return launch<F_Q4_K>(x, dst, im, nrows, n, s);
        case F_Q5_K: return launch<F_Q5_K>(x, dst, im, nrows, n, s);
        case F_Q6_K: return launch<F_Q6_K>(x, dst, im, nrows, n, s);
        case F_Q8_K: return launch<F_Q8_K>(x, dst, im, nrows, n, s);
        default: fail("launch_encode_k: format not handled here", 0);
    }
}

}  // namespace dgk::cuda
