// AVX2 forms of the IQ2 / IQ1 lattice searches of iq2_grid_index.{h,cpp}: the neighbour search with
// one neighbour per lane (the IQ2 trial-scale loop is in avx2_iq2_trials.h). Every lane does the
// scalar code's operations in its order, so the chosen points and scales have the scalar bits.
// For AVX2-compiled files only; `static` so no AVX2 copy can be merged into scalar code. The index
// is read through GridArrays only (its inline members are for scalar files).
#pragma once
#include <immintrin.h>

#include <cfloat>
#include <climits>
#include <cstdint>

#include "avx2_iqsearch.h"
#include "avx2_math.h"
#include "iq2_grid_index.h"

namespace dgk::avx2 {

using iq2::GridArrays;

// The three level values in lanes 0..2 of each 128-bit half (the table vpermilps reads with a
// 2-bit index) and +inf in lane 3: the padding key 0xffff (every level 3) then scores inf or NaN,
// which never wins a strict < scan.
static inline __m256 iq2_values4(float q0, float q1, float q2) {
    const float inf = __builtin_inff();
    return _mm256_setr_ps(q0, q1, q2, inf, q0, q1, q2, inf);
}

// The IQ2 lattices' odd values 2l+1.
static inline __m256 iq2_odd4() { return iq2_values4(1, 3, 5); }

// Terms of a neighbour distance: T[j] lane l = w[j]*(sq_l - x[j])^2 rounded as the scalar code
// does it ((w*e)*e with e = s*q - x), where sq = scale * level values (the same in both halves).
// Computed per level value with the elements in the lanes (4 vectors instead of 8), then
// transposed: the same operations on the same values.
static inline void iq2_terms(const float* x, const float* w, __m256 sq, __m256 T[8]) {
    const __m256 xv = _mm256_loadu_ps(x), wv = _mm256_loadu_ps(w);
    __m256 L[4];  // L[l] lane j: element j's term at level value l
#pragma GCC unroll 4
    for (int l = 0; l < 4; ++l) {
        const __m256 e = _mm256_sub_ps(_mm256_permutevar_ps(sq, _mm256_set1_epi32(l)), xv);
        L[l] = _mm256_mul_ps(_mm256_mul_ps(wv, e), e);
    }
    const __m256 t0 = _mm256_unpacklo_ps(L[0], L[1]), t1 = _mm256_unpackhi_ps(L[0], L[1]);
    const __m256 t2 = _mm256_unpacklo_ps(L[2], L[3]), t3 = _mm256_unpackhi_ps(L[2], L[3]);
    const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xee),
                         _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xee)};  // j and j + 4
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
        T[j] = _mm256_permute2f128_ps(u[j], u[j], 0x00);
        T[j + 4] = _mm256_permute2f128_ps(u[j], u[j], 0x11);
    }
}

// iq2_terms at two scales, s0 into T0 and s1 into T1, computed per element with the two scales in
// the two halves (the same operations on the same values), then each half duplicated: fewer
// operations than two transposing iq2_terms.
static inline void iq2_terms2(const float* x, const float* w, float s0, float s1, __m256 T0[8], __m256 T1[8]) {
    const __m256 sq = _mm256_mul_ps(_mm256_setr_ps(s0, s0, s0, s0, s1, s1, s1, s1), iq2_odd4());
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
        const __m256 e = _mm256_sub_ps(sq, _mm256_set1_ps(x[j]));
        const __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w[j]), e), e);
        T0[j] = _mm256_permute2f128_ps(t, t, 0x00);
        T1[j] = _mm256_permute2f128_ps(t, t, 0x11);
    }
}

// The scalar neighbour scan (first strict minimum below FLT_MAX) over a padded list of neighbour
// keys, 8 per vector: each lane sums its neighbour's 8 terms in element order. Returns the list
// position of the winner, or -1 when no distance is below FLT_MAX. (IQ1's searches; IQ2's use
// iq2_distances below.)
static inline int iq2_best_position(const uint16_t* keys, int count, const __m256 T[8]) {
    __m256 best = _mm256_set1_ps(FLT_MAX);
    __m256i pos = _mm256_set1_epi32(-1);
    __m256i at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c = 0; c < count; c += 8, at = _mm256_add_epi32(at, _mm256_set1_epi32(8))) {
        __m256i k = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(keys + c)));
        // Starting from term 0 instead of 0 + term 0 can only change the sign of a zero sum.
        __m256 d = _mm256_permutevar_ps(T[0], k);
#pragma GCC unroll 8
        for (int j = 1; j < 8; ++j) {
            k = _mm256_srli_epi32(k, 2);
            d = _mm256_add_ps(d, _mm256_permutevar_ps(T[j], k));
        }
        const __m256 lt = _mm256_cmp_ps(d, best, _CMP_LT_OQ);
        best = _mm256_blendv_ps(best, d, lt);
        pos = _mm256_blendv_epi8(pos, at, _mm256_castps_si256(lt));
    }
    // Each lane kept its first minimum; the scan's winner is the earliest lane minimum equal to the
    // overall minimum (zeros of either sign compare equal, as in the scalar scan).
    const float m = hmin_ps(best);
    if (!(m < FLT_MAX)) return -1;
    unsigned lanes = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(best, _mm256_set1_ps(m), _CMP_EQ_OQ)));
    alignas(32) int p[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(p), pos);
    int r = p[__builtin_ctz(lanes)];
    for (lanes &= lanes - 1; lanes; lanes &= lanes - 1) r = p[__builtin_ctz(lanes)] < r ? p[__builtin_ctz(lanes)] : r;
    return r;
}

// The scan of iq2_best_position that also stores every list entry's distance in d (padding entries
// too: inf or NaN). Its winner, the first strict minimum below FLT_MAX, is the first entry equal to
// the smallest distance m (NaN equals nothing, +-0 compare equal as in the scan): each lane keeps
// its minimum and where it first reached it (strict <), and the smallest such position among the
// lanes whose minimum is m is the winner. No second pass, so no data-dependent exit besides the
// list length.
static inline int iq2_distances(const uint16_t* keys, int count, const __m256 T[8], float* d) {
    __m256 best = _mm256_set1_ps(FLT_MAX);
    __m256i pos = _mm256_setzero_si256(), at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c = 0; c < count; c += 8, at = _mm256_add_epi32(at, _mm256_set1_epi32(8))) {
        __m256i k = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(keys + c)));
        __m256 v = _mm256_permutevar_ps(T[0], k);  // term 0 first, as above
#pragma GCC unroll 8
        for (int j = 1; j < 8; ++j) {
            k = _mm256_srli_epi32(k, 2);
            v = _mm256_add_ps(v, _mm256_permutevar_ps(T[j], k));
            __asm__("" : "+x"(v));  // keep the code in order: fewer live registers, no table spills
        }
        _mm256_store_ps(d + c, v);
        pos = _mm256_blendv_epi8(pos, at, _mm256_castps_si256(_mm256_cmp_ps(v, best, _CMP_LT_OQ)));
        best = _mm256_min_ps(v, best);  // v < best ? v : best (best for a NaN v)
    }
    const float m = hmin_ps(best);
    if (!(m < FLT_MAX)) return -1;
    const __m256i p = _mm256_blendv_epi8(_mm256_set1_epi32(INT_MAX), pos,
                                         _mm256_castps_si256(_mm256_cmp_ps(best, _mm256_set1_ps(m), _CMP_EQ_OQ)));
    __m128i h = _mm_min_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    h = _mm_min_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_min_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

// The key of ggml's best neighbour of an off-grid key (iq2_find_best_neighbour /
// iq1_find_best_neighbour2) given the distance terms; `none` is set when no neighbour scores below
// FLT_MAX (the caller decides what the scalar code does then).
static inline uint16_t iq2_best_neighbour_key(const GridArrays& A, uint16_t key, const __m256 T[8], bool* none) {
    const uint32_t first = A.nb_offset[key] + 1;
    const int p = iq2_best_position(A.nb_keys + first, A.nb_keys[first - 1], T);
    *none = p < 0;
    return A.nb_keys[first + (p < 0 ? 0 : p)];
}

// An off-grid IQ2 point snapped at a scale (sq = scale * odd values): ggml's best neighbour, or
// the first one when every distance is NaN/inf (ggml asserts there; the scalar code takes it).
static inline uint16_t iq2_snap_off(const GridArrays& A, uint16_t key, const float* x, const float* w, __m256 sq) {
#ifdef DGK_IQ2_STATS
    extern long g_snaps, g_cands;
    ++g_snaps; g_cands += A.nb_keys[A.nb_offset[key]];
#endif
    __m256 T[8];
    iq2_terms(x, w, sq, T);
    const uint32_t first = A.nb_offset[key] + 1;
    alignas(32) float d[iq2::kMaxNeighbours];
    const int p = iq2_distances(A.nb_keys + first, A.nb_keys[first - 1], T, d);
    return A.nb_keys[first + (p < 0 ? 0 : p)];
}

}  // namespace dgk::avx2
