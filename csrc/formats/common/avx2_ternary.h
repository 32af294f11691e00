// AVX2 pieces shared by the TQ1_0 and TQ2_0 encoders (the scalar ones are in ternary.h): the
// block's largest |x| and the trit codes of 8 weights, each giving the scalar code's values.
// AVX2-compiled files only; `static` so no AVX2 copy is shared with scalar code.
#pragma once
#include <immintrin.h>

#include "dgk/blocks.h"

namespace dgk::avx2 {

// Largest |x| of a 256-weight block (exact: max does not depend on the order).
static inline float block_amax(const float* x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < QK_K; j += 8) acc = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), acc);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    return _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
}

// Trit codes of 8 weights scaled by id, as int32: lroundf(x*id) + 1 for |x*id| <= 2, clamped to
// 0..2; 1 (the scalar code's LONG_MIN low bits) for larger or NaN products.
static inline __m256i trit_codes(const float* x, __m256 id) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x), id);
    const __m256 pos = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                     _mm256_cmp_ps(v, _mm256_set1_ps(2.0f), _CMP_LE_OQ));
    const __m256 neg = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(-0.5f), _CMP_LE_OQ),
                                     _mm256_cmp_ps(v, _mm256_set1_ps(-2.0f), _CMP_GE_OQ));
    return _mm256_add_epi32(_mm256_sub_epi32(_mm256_set1_epi32(1), _mm256_castps_si256(pos)), _mm256_castps_si256(neg));
}

}  // namespace dgk::avx2
