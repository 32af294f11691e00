// TQ2_0 AVX2 kernels: same arithmetic as ref.cpp, 32 bytes (one 2-bit plane) at a time.
#include <immintrin.h>

#include "../common/avx2_ternary.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

// 32 int32 lanes holding 0..255 (in order q[0], .., q[3]) to 32 bytes.
inline void store_bytes32(const __m256i q[4], uint8_t* dst) {
    const __m256i packed = _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst),
                        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

}  // namespace

template <class Store>
static void decode_tq2_0_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_tq2_0*>(src);
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nblocks; ++i) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(blk[i].d));
        for (int c = 0; c < 2; ++c) {
            const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i].qs + 32 * c));
            for (int k = 0; k < 4; ++k) {
                // Codes 0..3 minus 1, as int8 in byte order (the shift only moves bits within
                // 16-bit lanes, and the mask drops what crossed a byte boundary).
                const __m256i t = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), three), one);
                const __m128i h[2] = {_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)};
                for (int p = 0; p < 4; ++p, dst += 8) {
                    const __m128i part = p % 2 ? _mm_srli_si128(h[p / 2], 8) : h[p / 2];
                    Store::put(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part)), d));
                }
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_tq2_0)

void encode_tq2_0(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_tq2_0*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        const float d = block_amax(x);
        const __m256 id = _mm256_set1_ps(d ? 1.0f / d : 0.0f);
        blk[i].d = f32_to_fp16(d);
        for (int c = 0; c < 2; ++c) {
            const float* xc = x + 128 * c;
            __m256i q[4];
            for (int g = 0; g < 4; ++g) {  // bytes 8g..8g+7 of the chunk
                q[g] = trit_codes(xc + 8 * g, id);
                for (int k = 1; k < 4; ++k)
                    q[g] = _mm256_or_si256(q[g], _mm256_sll_epi32(trit_codes(xc + 32 * k + 8 * g, id), _mm_cvtsi32_si128(2 * k)));
            }
            store_bytes32(q, blk[i].qs + 32 * c);
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_tq2_0 = {FormatId::TQ2_0, avx2::decode_tq2_0, avx2::encode_tq2_0, nullptr,
                                              avx2::decode_tq2_0_stream};
}
