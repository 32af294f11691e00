// Q6_K AVX2 kernels (layout and reference: ref.cpp). Decode keeps the scalar (d*sc)*q order.
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q6_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q6_k*>(src);
    const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30), bias = _mm256_set1_epi8(32);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q6_k& b = blocks[ib];
        const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
        float* y = dst + ib * 256;
        // ds[s] = d * scale of sub-block s, as the scalar code's first product
        __m256 ds[2];
        for (int k = 0; k < 2; ++k) {
            const __m128i sc = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.scales + 8 * k));
            ds[k] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
        }
        for (int h = 0; h < 2; ++h) {
            const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
            // 32 quants each for elements 128h + 32k + l; the 16-bit shifts only move bits within a
            // byte after masking
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
            for (int k = 0; k < 4; ++k) {
                const __m256i v = _mm256_sub_epi8(q[k], bias);  // -32..31
                const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
                const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
                for (int g = 0; g < 4; ++g) {
                    // element 128h + 32k + 8g.. lies in sub-block 8h + 2k + g/2
                    const int s = 8 * h + 2 * k + (g >> 1);
                    const __m256 f = _mm256_permutevar8x32_ps(ds[s >> 3], _mm256_set1_epi32(s & 7));
                    const __m256 qf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[g]));
                    _mm256_storeu_ps(y + 128 * h + 32 * k + 8 * g, _mm256_mul_ps(f, qf));
                }
            }
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q6_k = {FormatId::Q6_K, avx2::decode_q6_k, nullptr};
}  // namespace dgk
