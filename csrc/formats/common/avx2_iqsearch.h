// AVX2 building blocks of the IQ grid searches (IQ3 now; IQ2/IQ1 use the same shapes): eight trial
// scales in the eight lanes, so each lane runs the scalar search's operations in its order.
// For AVX2-compiled files only; `static` so no AVX2 copy can be merged into scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_math.h"

namespace dgk::avx2 {

// Per lane: nearest_int(0.5f * (id*x - 1)), the unclamped grid level of weight x at inverse scale
// id (avx2_math.h's nearest_int_ps: the same bits for every input, NaN and huge values included).
static inline __m256i iq_level_unclamped(__m256 id, __m256 x) {
    return nearest_int_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_sub_ps(_mm256_mul_ps(id, x), _mm256_set1_ps(1.0f))));
}

// The level clamped to [0, lmax].
static inline __m256i iq_level(__m256 id, __m256 x, int lmax) {
    return _mm256_min_epi32(_mm256_max_epi32(iq_level_unclamped(id, x), _mm256_setzero_si256()), _mm256_set1_epi32(lmax));
}

// Grid value 2l+1 of level l as float, by permutation (only the low 3 bits of l are used).
static inline __m256 iq_level_value(__m256i l) {
    return _mm256_permutevar8x32_ps(_mm256_setr_ps(1, 3, 5, 7, 9, 11, 13, 15), l);
}

// One term of a neighbour distance, w*(s*q - x)^2 as the scalar code rounds it: e = sq - x, then
// (w*e)*e, where sq = s*q was computed once per (lane scale, level).
static inline __m256 iq_sq_err(__m256 sq, __m256 x, __m256 w) {
    const __m256 e = _mm256_sub_ps(sq, x);
    return _mm256_mul_ps(_mm256_mul_ps(w, e), e);
}

// The 8-bit lane mask m as a vector mask (all ones in lane j when bit j is set).
static inline __m256i iq_lane_mask(unsigned m) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bit), bit);
}

// One step of a strict-< argmin scan (first minimum wins, NaN never wins): per lane, when
// dist < best, best = dist and best_key = key.
static inline void iq_keep_min(__m256 dist, uint32_t key, __m256& best, __m256i& best_key) {
    const __m256 lt = _mm256_cmp_ps(dist, best, _CMP_LT_OQ);
    best = _mm256_min_ps(dist, best);  // dist < best ? dist : best
    best_key = _mm256_blendv_epi8(best_key, _mm256_set1_epi32((int)key), _mm256_castps_si256(lt));
}

// One step of the least-squares fit sums in element order: sx += (w*x)*q, s2 += (w*q)*q, where
// wx = w*x is the same product the scalar code forms (computed once per weight).
static inline void iq_fit_step(__m256& sx, __m256& s2, float wx, float w, __m256 q) {
    sx = _mm256_add_ps(sx, _mm256_mul_ps(_mm256_set1_ps(wx), q));
    s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w), q), q));
}

// The scalar searches' trial acceptance in trial order (accept t when sumq2 > 0 and sumqx^2 >
// best*sumq2, then best = scale*sumqx), chained with blends: the outcome is data-dependent
// (branches would mispredict about once per 8 trials) and only the carried best is on the
// dependency chain. Per trial t < n: q2[t] = sumq2, qx2[t] = sumqx^2, or NaN where sumq2 > 0 fails
// (so the test fails), bst[t] = the best it would set. Updates best; returns the last accepted
// trial, or -1.
static inline int iq_accept_chain(const float* q2, const float* qx2, const float* bst, int n, float& best) {
    __m128 b = _mm_set1_ps(best);
    __m128i pick = _mm_set1_epi32(-1);
#pragma GCC unroll 32
    for (int t = 0; t < n; ++t) {
        const __m128 acc = _mm_cmplt_ps(_mm_mul_ps(b, _mm_broadcast_ss(q2 + t)), _mm_broadcast_ss(qx2 + t));
        b = _mm_blendv_ps(b, _mm_broadcast_ss(bst + t), acc);
        pick = _mm_blendv_epi8(pick, _mm_set1_epi32(t), _mm_castps_si128(acc));
    }
    best = _mm_cvtss_f32(b);
    return _mm_cvtsi128_si32(pick);
}

// The per-lane inputs of iq_accept_chain from the fit sums sx = sumqx, s2 = sumq2 of eight trials,
// stored at q2, qx2, scl (the scale sumqx/sumq2) and bst (scale*sumqx): the scalar roundings.
static inline void iq_accept_inputs(__m256 sx, __m256 s2, float* q2, float* qx2, float* scl, float* bst) {
    const __m256 scv = _mm256_div_ps(sx, s2);
    _mm256_store_ps(q2, s2);
    _mm256_store_ps(qx2, _mm256_blendv_ps(_mm256_set1_ps(__builtin_nanf("")), _mm256_mul_ps(sx, sx),
                                          _mm256_cmp_ps(s2, _mm256_setzero_ps(), _CMP_GT_OQ)));
    _mm256_store_ps(scl, scv);
    _mm256_store_ps(bst, _mm256_mul_ps(scv, sx));
}

}  // namespace dgk::avx2
