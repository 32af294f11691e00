// Device decode kernels: one thread per group of 8 weights, calling the shared Dec<F>::run.
#include <cuda_runtime.h>

#include "dgk_cuda/api.h"
#include "dgk_cuda/decode.cuh"

namespace dgk::cuda {

DGKC_DEFINE_TABLE_UPLOAD(upload_tables_decode)

template <int OUT> __device__ inline void store8(void* dst, int64_t group, const float* y) {
    if constexpr (OUT == OUT_F32) {
        float4* o = reinterpret_cast<float4*>(static_cast<float*>(dst) + 8 * group);
        o[0] = make_float4(y[0], y[1], y[2], y[3]);
        o[1] = make_float4(y[4], y[5], y[6], y[7]);
    } else {
        uint32_t w[4];
        for (int i = 0; i < 4; ++i)
            w[i] = (uint32_t)Store<OUT>::cvt(y[2 * i]) | ((uint32_t)Store<OUT>::cvt(y[2 * i + 1]) << 16);
        *reinterpret_cast<uint4*>(static_cast<uint16_t*>(dst) + 8 * group) = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

template <int F, int OUT>
__global__ void __launch_bounds__(256) k_decode(const uint8_t* __restrict__ src, void* __restrict__ dst, int64_t ngroups) {
    const int64_t G = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (G >= ngroups) return;
    constexpr int gpb = block_weights(F) / 8;
    const int64_t b = G / gpb;
    const int g = (int)(G - b * gpb);
    float y[8];
    Dec<F>::run(src + b * block_bytes(F), g, y);
    store8<OUT>(dst, G, y);
}

template <int F, int OUT>
__global__ void __launch_bounds__(256) k_decode_float(const uint8_t* __restrict__ src, void* __restrict__ dst, int64_t n) {
    const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = float_elem<F>(src, i);
    static_cast<typename Store<OUT>::T*>(dst)[i] = Store<OUT>::cvt(v);
}

template <int F, int OUT> static void launch(const uint8_t* src, void* dst, int64_t count, cudaStream_t s) {
    constexpr int threads = 256;
    if constexpr (F == F_F32 || F == F_F16 || F == F_BF16) {
        const int64_t blocks = (count + threads - 1) / threads;
        if (blocks) k_decode_float<F, OUT><<<(unsigned)blocks, threads, 0, s>>>(src, dst, count);
    } else {
        const int64_t ngroups = count * (block_weights(F) / 8);
        const int64_t blocks = (ngroups + threads - 1) / threads;
        if (blocks) k_decode<F, OUT><<<(unsigned)blocks, threads, 0, s>>>(src, dst, ngroups);
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) fail("k_decode launch", (int)e);
}

template <int F> static void launch_out(const uint8_t* src, void* dst, int out, int64_t count, cudaStream_t s) {
    switch (out) {
        case OUT_F32: return launch<F, OUT_F32>(src, dst, count, s);
        case OUT_F16: return launch<F, OUT_F16>(src, dst, count, s);
        default: return launch<F, OUT_BF16>(src, dst, count, s);
    }
}

void launch_decode(int fmt, const uint8_t* src, void* dst, int out_type, int64_t count, void* stream) {
    const cudaStream_t s = static_cast<cudaStream_t>(stream);
    switch (fmt) {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) \
    case F_##NAME: return launch_out<F_##NAME>(src, dst, out_type, count, s);
#include "dgk/formats.def"
#undef DGK_FORMAT
        default: fail("launch_decode: unknown format", 0);
    }
}

}  // namespace dgk::cuda
