// Device encode kernels of the legacy, IQ4, ternary, MXFP4 and plain float formats: one thread per
// block (element for the float formats), calling the shared Enc<F>::run.
#include <cuda_runtime.h>

#include "dgk_cuda/api.h"
#include "dgk_cuda/encode.cuh"

namespace dgk::cuda {

DGKC_DEFINE_TABLE_UPLOAD(upload_tables_encode_a)

template <int F>
__global__ void __launch_bounds__(128) k_encode(const float* __restrict__ x, uint8_t* __restrict__ dst,
                                                const float* __restrict__ imatrix, const float* __restrict__ sig,
                                                int64_t nblocks, int64_t bpr) {
    const int64_t b = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nblocks) return;
    constexpr int BW = block_weights(F);
    const int64_t r = b / bpr;
    const float* qw = imatrix ? imatrix + (b - r * bpr) * BW : nullptr;
    Enc<F>::run(x + b * BW, qw, sig ? sig[r] : 0.f, dst + b * block_bytes(F));
}

template <int F>
__global__ void __launch_bounds__(256) k_encode_float(const float* __restrict__ x, uint8_t* __restrict__ dst, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) float_store<F>(x[i], dst, i);
}

// Mean square of each row, summed sequentially in index order (as the CPU's row_sigma2).
__global__ void k_row_sigma2(const float* __restrict__ x, float* __restrict__ out, int64_t nrows, int64_t n) {
    const int64_t r = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (r < nrows) out[r] = row_sigma2(x + r * n, n);
}

void launch_row_sigma2(const float* x, float* out, int64_t nrows, int64_t n, void* stream) {
    const int64_t blocks = (nrows + 127) / 128;
    if (blocks) k_row_sigma2<<<(unsigned)blocks, 128, 0, static_cast<cudaStream_t>(stream)>>>(x, out, nrows, n);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail("k_row_sigma2 launch", (int)e);
}

template <int F> static void launch(const float* x, uint8_t* dst, const float* im, const float* sig, int64_t nrows,
                                    int64_t n, cudaStream_t s) {
    if constexpr (F == F_F32 || F == F_F16 || F == F_BF16) {
        const int64_t total = nrows * n, blocks = (total + 255) / 256;
        if (blocks) k_encode_float<F><<<(unsigned)blocks, 256, 0, s>>>(x, dst, total);
    } else {
        constexpr int threads = 128;
        const int64_t bpr = n / block_weights(F), nblocks = nrows * bpr;
        const int64_t blocks = (nblocks + threads - 1) / threads;
        if (blocks) k_encode<F><<<(unsigned)blocks, threads, 0, s>>>(x, dst, im, sig, nblocks, bpr);
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail("k_encode launch", (int)e);
}

void launch_encode_a(int fmt, const float* x, uint8_t* dst, const float* im, const float* sig, int64_t nrows,
                     int64_t n, void* stream) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    switch (fmt) {
#define DGKC_CASE(NAME) \
    case F_##NAME: return launch<F_##NAME>(x, dst, im, sig, nrows, n, s);
        DGKC_CASE(F32) DGKC_CASE(F16) DGKC_CASE(BF16)
        DGKC_CASE(Q4_0) DGKC_CASE(Q4_1) DGKC_CASE(Q5_0) DGKC_CASE(Q5_1) DGKC_CASE(Q8_0)
        DGKC_CASE(IQ4_NL) DGKC_CASE(IQ4_XS) DGKC_CASE(TQ1_0) DGKC_CASE(TQ2_0) DGKC_CASE(MXFP4)
#undef DGKC_CASE
        default: fail("launch_encode_a: format not handled here", 0);
    }
}

}  // namespace dgk::cuda
