#include "dgk/dispatch.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "dgk/cpu.h"
#include "dgk/fp.h"
#include "dgk/scan.h"
#include "dgk/thread_pool.h"

namespace dgk {

namespace {
// Below this many weights per thread, splitting costs more than it saves.
constexpr int64_t kMinWeightsPerThread = 1 << 15;
constexpr int64_t kDecodeChunkWeights = 4096;  // f16/bf16 output: decode through an L1-sized buffer
std::atomic<int64_t> g_stream_threshold{-1};
}  // namespace

int64_t set_stream_threshold(int64_t bytes) { return g_stream_threshold.exchange(bytes < 0 ? -1 : bytes); }

namespace avx2 {
void convert_f32(const float* src, void* dst, OutType out, int64_t n);         // avx2_convert.cpp
void convert_f32_stream(const float* src, void* dst, OutType out, int64_t n);  // the same, streaming stores
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

int64_t encode_rows(FormatId f, const float* x, void* dst, int64_t nrows, int64_t n,
                    const float* imatrix, int threads, Isa isa, bool check_finite) {
    const FormatInfo& info = format_info(f);
    const Kernels& k = kernels(f, isa);
    const int64_t row_bytes = n / info.block_weights * info.block_bytes;
    const int64_t min_rows = std::max<int64_t>(1, kMinWeightsPerThread / std::max<int64_t>(1, n));
    auto encode_row = [&](const float* row, uint8_t* out) -> int64_t {
        if (!check_finite) {
            k.encode(row, out, n, imatrix);
            return -1;
        }
        if (k.encode_checked) return k.encode_checked(row, out, n, imatrix);
        const int64_t j = find_nonfinite(row, n, isa);  // leaves the row in L1/L2 for the encoder
        if (j < 0) k.encode(row, out, n, imatrix);
        return j;
    };
    // Every chunk of rows runs, each stopping at its first bad row: the smallest index any chunk
    // reports is the first non-finite value of the whole input.
    std::atomic<int64_t> first_bad{-1};
    parallel_for(nrows, threads, min_rows, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const int64_t j = encode_row(x + r * n, static_cast<uint8_t*>(dst) + r * row_bytes);
            if (j >= 0) {
                const int64_t at = r * n + j;
                int64_t cur = first_bad.load();
                while ((cur < 0 || at < cur) && !first_bad.compare_exchange_weak(cur, at)) {
                }
                return;
            }
        }
    });
    return first_bad.load();
}

void decode_blocks(FormatId f, const void* src, void* dst, OutType out, int64_t nblocks,
                   int threads, Isa isa) {
    const FormatInfo& info = format_info(f);
    const Kernels& k = kernels(f, isa);
    const int64_t bw = info.block_weights, bb = info.block_bytes;
    const int64_t threshold = g_stream_threshold.load(std::memory_order_relaxed);
    // streaming decoders of block formats store 16-byte halves: their output must be 16-byte aligned
    const bool aligned16 = reinterpret_cast<uintptr_t>(dst) % 16 == 0;
    const int64_t out_bytes = nblocks * bw * (out == OutType::F32 ? 4 : 2);
    const bool large = out_bytes >= (threshold < 0 ? llc_bytes() : threshold);
    const bool stream = large && out == OutType::F32 && k.decode_stream && (bw == 1 || aligned16);
    const DecodeFn dec = stream ? k.decode_stream : k.decode;
    // f16/bf16 outputs: decoded into an L1 buffer, converted out of it with streaming stores
    const bool stream_half = large && out != OutType::F32 && isa == Isa::Avx2;
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
            uint16_t* to = static_cast<uint16_t*>(dst) + b * bw;
            if (stream_half) avx2::convert_f32_stream(buf.data(), to, out, nb * bw);
            else convert_f32(buf.data(), to, out, nb * bw, isa);
        }
    });
}

}  // namespace dgk
