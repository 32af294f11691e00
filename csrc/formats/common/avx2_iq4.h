// AVX2 helpers shared by the IQ4_NL and IQ4_XS kernels (static inline only: this header is
// compiled with AVX2 flags, and an ODR-merged copy must never reach scalar code).
// The scale search runs its 16 candidate inverse scales (the first fit and trials t = -7..7) in
// the lanes of two vectors, so every lane does the scalar search's operations in its order.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "dgk/tables.h"
#include "avx2_math.h"
#include "avx2_stream.h"

namespace dgk::avx2 {

// kvalues_iq4nl as 16 int8 in an xmm register, for pshufb lookups of 4-bit indices.
static inline __m128i iq4_levels_i8() {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
}

// Writes 32 decoded weights of one packed group: dst[j] = scale * k[lo nibble of qs[j]],
// dst[j + 16] = scale * k[hi nibble]. One multiply per weight, as the scalar decoder.
template <class Store = PlainStore>
static inline void iq4_decode_group(const uint8_t* qs, __m256 scale, __m128i levels, float* dst) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i nib = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_shuffle_epi8(levels, _mm_and_si128(q, nib));
    const __m128i hi = _mm_shuffle_epi8(levels, _mm_and_si128(_mm_srli_epi16(q, 4), nib));
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int p = 0; p < 4; ++p)
        Store::put(dst + 8 * p, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[p]))));
}

// Nearest level by midpoints. The scalar rule (iq4_nearest_level) brackets k[i] <= v < k[i+1]
// and picks i when fl(v - k[i]) < fl(k[i+1] - v), else i+1. Both sides are monotone in v (IEEE
// rounding is monotone), so the pick switches once inside a bracket; the switch is exactly at the
// midpoint m_i = (k[i] + k[i+1]) / 2 (a half-integer, exact in float): at v = m_i the two
// differences are equal and exact, just below it the left one is smaller (tests/test_isa_equality.py
// has a row of midpoints and their neighbours; an exhaustive check over every float in
// [k[0], k[15]] agreed when this was written). So the index is the count of midpoints <= v, found
// by a 4-step bisection; counting with !(v < m) makes NaN count all 15, as the scalar search
// returns 15 for NaN.
struct Iq4Tables {
    __m256 m3, m7, m11;
    __m256 even;     // m[0], m[2], ..., m[14]: last step, indexed by count/2
    __m256 quarter;  // m[1], m[5], m[9], m[13]: third step, indexed by count/4
    __m256 k_lo, k_hi;  // the levels as floats, k[0..7] and k[8..15]
    static Iq4Tables make() {
        const int8_t* k = kvalues_iq4nl;
        float m[15];
        for (int i = 0; i < 15; ++i) m[i] = 0.5f * (k[i] + k[i + 1]);  // exact
        Iq4Tables t;
        t.m3 = _mm256_set1_ps(m[3]);
        t.m7 = _mm256_set1_ps(m[7]);
        t.m11 = _mm256_set1_ps(m[11]);
        t.even = _mm256_setr_ps(m[0], m[2], m[4], m[6], m[8], m[10], m[12], m[14]);
        t.quarter = _mm256_setr_ps(m[1], m[5], m[9], m[13], m[1], m[5], m[9], m[13]);
        t.k_lo = _mm256_setr_ps(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]);
        t.k_hi = _mm256_setr_ps(k[8], k[9], k[10], k[11], k[12], k[13], k[14], k[15]);
        return t;
    }
};

static inline __m256i iq4_count_step(__m256 v, __m256 mid, __m256i count, int step) {
    const __m256 pass = _mm256_cmp_ps(v, mid, _CMP_NLT_UQ);  // mid <= v, or v is NaN
    return _mm256_add_epi32(count, _mm256_and_si256(_mm256_castps_si256(pass), _mm256_set1_epi32(step)));
}

// Level index nearest(v) in 0..15 for any v, as int32 lanes.
static inline __m256i iq4_level_index(__m256 v, const Iq4Tables& t) {
    __m256i c = iq4_count_step(v, t.m7, _mm256_setzero_si256(), 8);
    c = iq4_count_step(v, _mm256_blendv_ps(t.m3, t.m11, _mm256_castsi256_ps(_mm256_slli_epi32(c, 28))), c, 4);
    c = iq4_count_step(v, _mm256_permutevar8x32_ps(t.quarter, _mm256_srli_epi32(c, 2)), c, 2);
    return iq4_count_step(v, _mm256_permutevar8x32_ps(t.even, _mm256_srli_epi32(c, 1)), c, 1);
}

// Level value k[nearest(v)] as float.
static inline __m256 iq4_level_value(__m256 v, const Iq4Tables& t) {
    const __m256i c = iq4_level_index(v, t);  // permutevar reads the low 3 bits; bit 3 picks the half
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t.k_lo, c), _mm256_permutevar8x32_ps(t.k_hi, c),
                            _mm256_castsi256_ps(_mm256_slli_epi32(c, 28)));
}

// Quantizes a group of 32 with inverse scale id and packs it: byte j = L[j] | L[j+16] << 4.
static inline void iq4_levels_pack(const float* xb, float id, const Iq4Tables& t, uint8_t* qs) {
    const __m256 vid = _mm256_set1_ps(id);
    __m256i L[4];
    for (int p = 0; p < 4; ++p) L[p] = iq4_level_index(_mm256_mul_ps(vid, _mm256_loadu_ps(xb + 8 * p)), t);
    const __m256i b0 = _mm256_or_si256(L[0], _mm256_slli_epi32(L[2], 4));  // bytes 0..7
    const __m256i b1 = _mm256_or_si256(L[1], _mm256_slli_epi32(L[3], 4));  // bytes 8..15
    const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packus_epi32(b0, b1), 0xd8);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs),
                     _mm_packus_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1)));
}

// Sequential sum of squares times 2/len (iq4_sigma2): kept scalar for its addition order.
static inline float iq4_sigma2(const float* x, int len) {
    float s = 0;
    for (int j = 0; j < len; ++j) s += x[j] * x[j];
    return s * (2.f / len);
}

// The weighted least-squares group scale of iq4_group_scale (ref), 16 candidates in parallel.
static inline float iq4_group_scale(const float* xb, const float* w, const Iq4Tables& t) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 amax8 = _mm256_setzero_ps();
    // max_ps returns its second operand when either is NaN: a NaN weight is skipped, as in the
    // scalar scan (whose comparisons are false for NaN).
    for (int j = 0; j < 32; j += 8) amax8 = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xb + j)), amax8);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    if (amax < 1e-15f) return 0.f;
    // The signed value of the first element reaching amax (the scalar scan's strict >).
    uint32_t hits = 0;
    const __m256 va = _mm256_set1_ps(amax);
    for (int p = 0; p < 4; ++p) {
        const __m256 eq = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xb + 8 * p)), va, _CMP_EQ_OQ);
        hits |= (uint32_t)_mm256_movemask_ps(eq) << 8 * p;
    }
    const float max = xb[__builtin_ctz(hits | 1u << 31)];  // hits != 0 here; the bit keeps ctz defined

    const float d0 = -max / kvalues_iq4nl[0];
    const float k0 = kvalues_iq4nl[0];
    const __m256 vmax = _mm256_set1_ps(max);
    // Lane 0: the first fit (1/d0); lanes 1..15: trials t = -7..7 with id = (t + k[0]) / max.
    __m256 idA = _mm256_div_ps(_mm256_setr_ps(0, k0 - 7, k0 - 6, k0 - 5, k0 - 4, k0 - 3, k0 - 2, k0 - 1), vmax);
    idA = _mm256_blend_ps(idA, _mm256_set1_ps(1 / d0), 1);
    const __m256 idB = _mm256_div_ps(_mm256_setr_ps(k0, k0 + 1, k0 + 2, k0 + 3, k0 + 4, k0 + 5, k0 + 6, k0 + 7), vmax);

    __m256 sqxA = _mm256_setzero_ps(), sq2A = _mm256_setzero_ps();
    __m256 sqxB = _mm256_setzero_ps(), sq2B = _mm256_setzero_ps();
    for (int j = 0; j < 32; ++j) {
        const __m256 x = _mm256_set1_ps(xb[j]), wj = _mm256_set1_ps(w[j]);
        const __m256 qA = iq4_level_value(_mm256_mul_ps(idA, x), t);
        const __m256 qB = iq4_level_value(_mm256_mul_ps(idB, x), t);
        const __m256 wqA = _mm256_mul_ps(wj, qA), wqB = _mm256_mul_ps(wj, qB);
        sqxA = _mm256_add_ps(sqxA, _mm256_mul_ps(wqA, x));
        sq2A = _mm256_add_ps(sq2A, _mm256_mul_ps(wqA, qA));
        sqxB = _mm256_add_ps(sqxB, _mm256_mul_ps(wqB, x));
        sq2B = _mm256_add_ps(sq2B, _mm256_mul_ps(wqB, qB));
    }
    alignas(32) float sqx[16], sq2[16];
    _mm256_store_ps(sqx, sqxA);
    _mm256_store_ps(sqx + 8, sqxB);
    _mm256_store_ps(sq2, sq2A);
    _mm256_store_ps(sq2 + 8, sq2B);
    // The scalar selection, candidates in the scalar order.
    float d = sq2[0] > 0 ? sqx[0] / sq2[0] : 0.f;
    float best = d * sqx[0];
    for (int c = 1; c < 16; ++c) {
        if (sq2[c] > 0 && sqx[c] * sqx[c] > best * sq2[c]) {
            d = sqx[c] / sq2[c];
            best = d * sqx[c];
        }
    }
    return d;
}

}  // namespace dgk::avx2
