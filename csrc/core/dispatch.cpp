#include "dgk/dispatch.h"

#include <algorithm>
#include <vector>

#include "dgk/fp.h"
#include "dgk/thread_pool.h"

namespace dgk {

namespace {
// Below this many weights per thread, splitting costs more than it saves.
constexpr int64_t kMinWeightsPerThread = 1 << 15;
constexpr int64_t kDecodeChunkWeights = 4096;  // f16/bf16 output: decode through an L1-sized buffer
}  // namespace

namespace avx2 {
void convert_f32(const float* src, void* dst, OutType out, int64_t n);  // avx2_convert.cpp
}

void convert_f32(const float* src, void* dst, OutType out, int64_t n, Isa isa) {
    if (isa == Isa::Avx2) return avx2::convert_f32(src, dst, out, n);
    uint16_t* d = static_cast<uint16_t*>(dst);
    if (out == OutType::F16) {
        for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
    }
}

void encode_rows(FormatId f, const float* x, void* dst, int64_t nrows, int64_t n,
                 const float* imatrix, int threads, Isa isa) {
    const FormatInfo& info = format_info(f);
    const EncodeFn enc = kernels(f, isa).encode;
    const int64_t row_bytes = n / info.block_weights * info.block_bytes;
    const int64_t min_rows = std::max<int64_t>(1, kMinWeightsPerThread / std::max<int64_t>(1, n));
    parallel_for(nrows, threads, min_rows, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
            enc(x + r * n, static_cast<uint8_t*>(dst) + r * row_bytes, n, imatrix);
    });
}

void decode_blocks(FormatId f, const void* src, void* dst, OutType out, int64_t nblocks,
                   int threads, Isa isa) {
    const FormatInfo& info = format_info(f);
    const DecodeFn dec = kernels(f, isa).decode;
    const int64_t bw = info.block_weights, bb = info.block_bytes;
    const int64_t min_blocks = std::max<int64_t>(1, kMinWeightsPerThread / bw);
    const auto* in = static_cast<const uint8_t*>(src);
    parallel_for(nblocks, threads, min_blocks, [&](int64_t b0, int64_t b1) {
        if (out == OutType::F32) {
            dec(in + b0 * bb, static_cast<float*>(dst) + b0 * bw, b1 - b0);
            return;
        }
        const int64_t step = std::max<int64_t>(1, kDecodeChunkWeights / bw);
        std::vector<float> buf(static_cast<size_t>(step * bw));
        for (int64_t b = b0; b < b1; b += step) {
            const int64_t nb = std::min(step, b1 - b);
            dec(in + b * bb, buf.data(), nb);
            convert_f32(buf.data(), static_cast<uint16_t*>(dst) + b * bw, out, nb * bw, isa);
        }
    });
}

}  // namespace dgk
