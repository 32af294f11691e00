// Per-lane AVX2 equivalents of the scalar rounding/conversion helpers (fp.h, legacy_pack.h). Each
// gives, lane by lane, the bits the scalar helper gives. For AVX2-compiled files only; `static`
// so no AVX2 copy can be merged into scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace dgk::avx2 {

// fp.h's nearest_int: add 1.5*2^23 and read the low mantissa bits (same bits for every input).
static inline __m256i nearest_int_ps(__m256 v) {
    const __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

// std::round (half away from zero): floor(|v|) plus one when the fraction is >= 0.5, sign restored.
// Exact for every finite input; +-inf stays inf (the fraction is NaN, so nothing is added).
static inline __m256 round_away_ps(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a = _mm256_andnot_ps(sign, v);
    const __m256 fl = _mm256_floor_ps(a);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, fl), _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                    _mm256_set1_ps(1.0f));
    return _mm256_or_ps(_mm256_add_ps(fl, up), _mm256_and_ps(v, sign));
}

// A C cast float -> int8 as x86-64 runs it: 32-bit truncation (INT32_MIN for NaN and out of range,
// which is what cvttps gives too), then the low byte sign-extended.
static inline __m256i cvtt_low_s8(__m256 v) {
    return _mm256_srai_epi32(_mm256_slli_epi32(_mm256_cvttps_epi32(v), 24), 24);
}

// Same cast to uint8: the low byte, zero-extended.
static inline __m256i cvtt_low_u8(__m256 v) {
    return _mm256_and_si256(_mm256_cvttps_epi32(v), _mm256_set1_epi32(0xff));
}

// Smallest lane. Exact (min is order-independent), but the sign of a zero result is unspecified:
// callers that need the position look the value up again.
static inline float hmin_ps(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// Largest lane (exact; the sign of a zero result is unspecified, as for hmin_ps).
static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// fp.h's fp16_to_f32 for 8 values: F16C converts exactly but quiets signalling NaNs, which the
// scalar helper keeps; clear the quiet bit again where the half was a signalling NaN.
static inline __m256 fp16x8_to_f32(__m128i h) {
    const __m256i h32 = _mm256_cvtepu16_epi32(h);
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(h32, _mm256_set1_epi32(0x7fff)), _mm256_set1_epi32(0x7c00));
    const __m256i quiet = _mm256_set1_epi32(0x00400000);
    // bit 9 of the half (its quiet bit) lands on bit 22 after the shift
    const __m256i fix = _mm256_and_si256(nan, _mm256_andnot_si256(_mm256_slli_epi32(h32, 13), quiet));
    return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(_mm256_cvtph_ps(h)), fix));
}

// A decoder's fp16 scale. F16C quiets a signalling NaN that fp16_to_f32 keeps; the decoders only
// use the scale in a multiply, which quiets it anyway, so the decoded bits are the same.
static inline float fp16_scale(uint16_t h) { return _cvtsh_ss(h); }

// In-place 8x8 transpose: afterwards r[i] lane j is what r[j] lane i was. Used to put 8
// independent groups (blocks, sub-blocks) in the 8 lanes: element i of every group in r[i].
static inline void transpose8x8_ps(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int k = 0; k < 4; ++k) {
        t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
        t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int k = 0; k < 2; ++k) {
        u[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
        u[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xee);
        u[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
        u[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xee);
    }
    for (int k = 0; k < 4; ++k) {
        r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
    }
}

// Importance weights of a 32-weight group, the scalar iq::weights_or_x2 / iq4 group weights bit
// for bit: qw * sqrt(sigma2 + x*x) with an importance matrix, else x*x (mul, add, correctly rounded
// sqrt, mul; no contraction).
static inline void group_weights32(const float* x, const float* qw, float sigma2, float* w) {
    const __m256 s2 = _mm256_set1_ps(sigma2);
    for (int j = 0; j < 32; j += 8) {
        const __m256 xv = _mm256_loadu_ps(x + j), xx = _mm256_mul_ps(xv, xv);
        _mm256_storeu_ps(w + j, qw ? _mm256_mul_ps(_mm256_loadu_ps(qw + j), _mm256_sqrt_ps(_mm256_add_ps(s2, xx))) : xx);
    }
}

}  // namespace dgk::avx2
