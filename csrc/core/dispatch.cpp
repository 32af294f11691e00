#include "dgk/dispatch.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "dgk/fp.h"
#include "dgk/scan.h"
#include "dgk/thread_pool.h"

namespace dgk {

namespace {
// Below this many weights per thread, splitting costs more than it saves.
constexpr int64_t kMinWeightsPerThread = 1 << 15;
constexpr int64_t kDecodeChunkWeights = 4096;  // decode through an L1-sized buffer (f16/bf16, streaming)

// Outputs at least this large are written with streaming stores (AVX2): they cannot stay in the
// last-level cache anyway, and plain stores would read every line before writing it.
std::atomic<int64_t> g_stream_threshold{-1};  // -1: the last-level cache size

// The size of the last-level cache one core sees: sysfs gives the instance (what lscpu shows);
// sysconf may report the whole package (e.g. 256 MiB for 32 MiB per core complex).
int64_t llc_bytes() {
    int64_t best = 0;
    for (int i = 0; i < 8; ++i) {
        const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
        std::ifstream level_f(dir + "level"), size_f(dir + "size");
        int level = 0;
        int64_t kib = 0;
        std::string unit;
        if (!(level_f >> level) || !(size_f >> kib >> unit) || level < 2) continue;
        if (unit == "M") kib *= 1024;
        else if (unit != "K") continue;
        best = std::max(best, kib * 1024);
    }
    if (best > 0) return best;
    long llc = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
    llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    return llc > 0 ? static_cast<int64_t>(llc) : int64_t{32} << 20;
}

int64_t stream_threshold_bytes() {
    static const int64_t llc = llc_bytes();
    const int64_t t = g_stream_threshold.load(std::memory_order_relaxed);
    return t < 0 ? llc : t;
}
}  // namespace

namespace avx2 {
void convert_f32(const float* src, void* dst, OutType out, int64_t n);  // avx2_convert.cpp
void stream_copy(void* dst, const void* src, size_t bytes);            // avx2_stream.cpp
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

int64_t set_stream_threshold(int64_t bytes) {
    return g_stream_threshold.exchange(bytes < 0 ? -1 : bytes);
}

void decode_blocks(FormatId f, const void* src, void* dst, OutType out, int64_t nblocks,
                   int threads, Isa isa) {
    const FormatInfo& info = format_info(f);
    const DecodeFn dec = kernels(f, isa).decode;
    const int64_t bw = info.block_weights, bb = info.block_bytes;
    const int64_t min_blocks = std::max<int64_t>(1, kMinWeightsPerThread / bw);
    const auto* in = static_cast<const uint8_t*>(src);
    const int64_t out_size = out == OutType::F32 ? 4 : 2;
    const bool stream = isa == Isa::Avx2 && nblocks * bw * out_size >= stream_threshold_bytes();
    parallel_for(nblocks, threads, min_blocks, [&](int64_t b0, int64_t b1) {
        auto* o = static_cast<uint8_t*>(dst);
        if (out == OutType::F32 && !stream) {
            dec(in + b0 * bb, reinterpret_cast<float*>(o) + b0 * bw, b1 - b0);
            return;
        }
        // through an L1-sized buffer: converted to f16/bf16 there, and/or streamed out
        const int64_t step = std::max<int64_t>(1, kDecodeChunkWeights / bw);
        std::vector<float> buf(static_cast<size_t>(step * bw));
        std::vector<uint16_t> half(stream && out != OutType::F32 ? buf.size() : 0);
        for (int64_t b = b0; b < b1; b += step) {
            const int64_t nb = std::min(step, b1 - b), nw = nb * bw;
            uint8_t* to = o + b * bw * out_size;
            dec(in + b * bb, buf.data(), nb);
            if (!stream) {
                convert_f32(buf.data(), to, out, nw, isa);
            } else if (out == OutType::F32) {
                avx2::stream_copy(to, buf.data(), static_cast<size_t>(nw) * 4);
            } else {
                convert_f32(buf.data(), half.data(), out, nw, isa);
                avx2::stream_copy(to, half.data(), static_cast<size_t>(nw) * 2);
            }
        }
    });
}

}  // namespace dgk
