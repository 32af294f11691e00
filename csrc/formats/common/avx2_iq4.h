// AVX2 helpers shared by the IQ4_NL and IQ4_XS kernels (static inline only: this header is
// compiled with AVX2 flags, and an ODR-merged copy must never reach scalar code).
// The scale search runs its 16 candidate inverse scales (the first fit and trials t = -7..7) in
// the lanes of two vectors, so every lane does the scalar search's operations in its order.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "dgk/tables.h"

namespace dgk::avx2 {

// kvalues_iq4nl as 16 int8 in an xmm register, for pshufb lookups of 4-bit indices.
static inline __m128i iq4_levels_i8() {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
}

// Writes 32 decoded weights of one packed group: dst[j] = scale * k[lo nibble of qs[j]],
// dst[j + 16] = scale * k[hi nibble]. One multiply per weight, as the scalar decoder.
static inline void iq4_decode_group(const uint8_t* qs, __m256 scale, __m128i levels, float* dst) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i nib = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_shuffle_epi8(levels, _mm_and_si128(q, nib));
    const __m128i hi = _mm_shuffle_epi8(levels, _mm_and_si128(_mm_srli_epi16(q, 4), nib));
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int p = 0; p < 4; ++p)
        _mm256_storeu_ps(dst + 8 * p, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[p]))));
}

// Level tables as floats, arranged for the branch-free bisection below.
struct Iq4Tables {
    __m256 k0, k1, k4, k8, k12, inf;
    __m256 odd;      // k[1], k[3], ..., k[15]: candidates of the last step, indexed by lo/2
    __m256 quarter;  // k[2], k[6], k[10], k[14]: candidates of the third step, indexed by lo/4
    static Iq4Tables make() {
        const int8_t* k = kvalues_iq4nl;
        Iq4Tables t;
        t.k0 = _mm256_set1_ps(k[0]);
        t.k1 = _mm256_set1_ps(k[1]);
        t.k4 = _mm256_set1_ps(k[4]);
        t.k8 = _mm256_set1_ps(k[8]);
        t.k12 = _mm256_set1_ps(k[12]);
        t.inf = _mm256_set1_ps(INFINITY);
        t.odd = _mm256_setr_ps(k[1], k[3], k[5], k[7], k[9], k[11], k[13], k[15]);
        t.quarter = _mm256_setr_ps(k[2], k[6], k[10], k[14], k[2], k[6], k[10], k[14]);
        return t;
    }
};

// Per lane, the bracket of v among the 16 sorted levels: lo = largest i with !(v < k[i]) (0 if
// none), klo = k[lo], khi = k[lo+1] (+inf past the end), and near_lo = (v - klo < khi - v).
// The scalar search (iq4_nearest_level) returns lo when near_lo holds, else lo+1, clamped:
// for v <= k[0] near_lo holds and lo = 0; for v >= k[15] (NaN included) lo = 15 and the clamp
// of lo+1 keeps 15.
struct Iq4Bracket {
    __m256i lo;
    __m256 klo, khi, near_lo;
};

static inline void iq4_step(__m256 v, __m256 cand, int step, Iq4Bracket& b) {
    const __m256 pass = _mm256_cmp_ps(v, cand, _CMP_NLT_UQ);  // !(v < cand): NaN passes
    b.lo = _mm256_add_epi32(b.lo, _mm256_and_si256(_mm256_castps_si256(pass), _mm256_set1_epi32(step)));
    b.klo = _mm256_blendv_ps(b.klo, cand, pass);
    b.khi = _mm256_blendv_ps(cand, b.khi, pass);
}

static inline Iq4Bracket iq4_bracket(__m256 v, const Iq4Tables& t) {
    Iq4Bracket b;
    b.lo = _mm256_setzero_si256();
    b.klo = t.k0;
    b.khi = t.inf;
    iq4_step(v, t.k8, 8, b);
    iq4_step(v, _mm256_blendv_ps(t.k4, t.k12, _mm256_castsi256_ps(_mm256_slli_epi32(b.lo, 28))), 4, b);
    iq4_step(v, _mm256_permutevar8x32_ps(t.quarter, _mm256_srli_epi32(b.lo, 2)), 2, b);
    iq4_step(v, _mm256_permutevar8x32_ps(t.odd, _mm256_srli_epi32(b.lo, 1)), 1, b);
    b.near_lo = _mm256_cmp_ps(_mm256_sub_ps(v, b.klo), _mm256_sub_ps(b.khi, v), _CMP_LT_OQ);
    return b;
}

// Level value k[nearest(v)] for finite v (the fit sums only see finite products).
static inline __m256 iq4_level_value(__m256 v, const Iq4Tables& t) {
    const Iq4Bracket b = iq4_bracket(v, t);
    return _mm256_blendv_ps(b.khi, b.klo, b.near_lo);
}

// Level index nearest(v) for any v, as int32 lanes.
static inline __m256i iq4_level_index(__m256 v, const Iq4Tables& t) {
    const Iq4Bracket b = iq4_bracket(v, t);
    const __m256i idx = _mm256_sub_epi32(_mm256_add_epi32(b.lo, _mm256_set1_epi32(1)),
                                         _mm256_and_si256(_mm256_castps_si256(b.near_lo), _mm256_set1_epi32(1)));
    return _mm256_min_epi32(idx, _mm256_set1_epi32(15));
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

// Group weights: qw * sqrt(sigma2 + x^2) with an imatrix, else x^2.
static inline void iq4_group_weights(const float* xb, const float* qw, float sigma2, float* w) {
    const __m256 s2 = _mm256_set1_ps(sigma2);
    for (int j = 0; j < 32; j += 8) {
        const __m256 x = _mm256_loadu_ps(xb + j);
        const __m256 xx = _mm256_mul_ps(x, x);
        _mm256_storeu_ps(w + j, qw ? _mm256_mul_ps(_mm256_loadu_ps(qw + j), _mm256_sqrt_ps(_mm256_add_ps(s2, xx))) : xx);
    }
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
