// MXFP4 AVX2 kernels: same arithmetic as ref.cpp (level times the block's power of two).
#include <immintrin.h>

#include <cmath>
#include "../common/avx2_stream.h"

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

namespace {
// Same bit construction as the scalar e8m0_half (2^(e-128); e = 0, 1 are subnormal).
inline float e8m0_half(uint8_t e) {
    return bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}
// Exponent byte for amax > 0, as the scalar e8m0_for: the same libm log2f call, then the x86
// float -> int -> uint8 wrap for amax < 2^-125.
inline uint8_t e8m0_for(float amax) {
    const float e = floorf(log2f(amax)) - 2 + 127;
    return (uint8_t)((int)e & 0xff);
}

// 8 int32 lanes of 4-bit indices from lo (elements j) and hi (elements j + 16) to 8 bytes.
inline void store_nibbles8(__m256i lo, __m256i hi, uint8_t* dst) {
    const __m256i q = _mm256_or_si256(lo, _mm256_slli_epi32(hi, 4));
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_packus_epi16(w, w));
}

}  // namespace

template <class Store>
static void decode_mxfp4_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_mxfp4*>(src);
    const __m128i levels = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_mxfp4));
    const __m128i nib = _mm_set1_epi8(0x0f);
    for (int64_t i = 0; i < nblocks; ++i, dst += QK) {
        const __m256 d = _mm256_set1_ps(e8m0_half(blk[i].e));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[i].qs));
        const __m128i lo = _mm_shuffle_epi8(levels, _mm_and_si128(q, nib));
        const __m128i hi = _mm_shuffle_epi8(levels, _mm_and_si128(_mm_srli_epi16(q, 4), nib));
        const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int p = 0; p < 4; ++p)
            Store::put(dst + 8 * p, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[p])), d));
    }
}
DGK_AVX2_DECODE_PAIR(decode_mxfp4)

void encode_mxfp4(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_mxfp4*>(dst);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK; ++i, x += QK) {
        __m256 xv[4], acc = _mm256_setzero_ps();
        for (int p = 0; p < 4; ++p) {
            xv[p] = _mm256_loadu_ps(x + 8 * p);
            acc = _mm256_max_ps(_mm256_andnot_ps(sign, xv[p]), acc);  // NaN skipped, as the scalar scan
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        const uint8_t e = amax > 0.0f ? e8m0_for(amax) : 0;
        const float d = e8m0_half(e);
        blk[i].e = e;
        // First argmin over the 16 levels of |k*d - x| (strict <). Levels 0..7 are 0 <= k*d and
        // 8..15 their negatives (8 being 0 again). For x > 0 every negative level's error
        // rounds to >= |0 - x|, the error of index 0, so it never wins; for x < 0 the same holds
        // for levels 1..8, and level 8+i's error equals level i's error for |x| (rounding is
        // sign-symmetric). So: search levels 0..7 against |x|, then move a winner i > 0 of a
        // negative x to 8+i.
        __m256 ax[4], best[4];
        __m256i idx[4];
        const __m256 kd0 = _mm256_set1_ps(kvalues_mxfp4[0] * d);
        for (int p = 0; p < 4; ++p) {
            ax[p] = _mm256_andnot_ps(sign, xv[p]);
            best[p] = _mm256_andnot_ps(sign, _mm256_sub_ps(kd0, ax[p]));
            idx[p] = _mm256_setzero_si256();
        }
        for (int k = 1; k < 8; ++k) {
            const __m256 kd = _mm256_set1_ps(kvalues_mxfp4[k] * d);
            const __m256i kk = _mm256_set1_epi32(k);
            for (int p = 0; p < 4; ++p) {
                const __m256 err = _mm256_andnot_ps(sign, _mm256_sub_ps(kd, ax[p]));
                const __m256 lt = _mm256_cmp_ps(err, best[p], _CMP_LT_OQ);
                best[p] = _mm256_blendv_ps(best[p], err, lt);
                idx[p] = _mm256_blendv_epi8(idx[p], kk, _mm256_castps_si256(lt));
            }
        }
        for (int p = 0; p < 4; ++p) {
            const __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(xv[p], _mm256_setzero_ps(), _CMP_LT_OQ));
            const __m256i moved = _mm256_and_si256(neg, _mm256_cmpgt_epi32(idx[p], _mm256_setzero_si256()));
            idx[p] = _mm256_add_epi32(idx[p], _mm256_and_si256(moved, _mm256_set1_epi32(8)));
        }
        store_nibbles8(idx[0], idx[2], blk[i].qs);
        store_nibbles8(idx[1], idx[3], blk[i].qs + 8);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_mxfp4 = {FormatId::MXFP4, avx2::decode_mxfp4, avx2::encode_mxfp4, nullptr,
                                              avx2::decode_mxfp4_stream};
}
