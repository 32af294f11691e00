// AVX2 pieces of the IQ1_S / IQ1_M encoders (iq1_s/encode.cpp, iq1_m/encode.cpp): the stable sort
// of a group and the off-grid snapping with the shifted ternary values. Each gives the scalar
// code's exact result. For AVX2-compiled files only; `static` so no AVX2 copy can be merged into
// scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_iq2search.h"

namespace dgk::avx2 {

// order[r] = index of the element of rank r in x[0..n) (n = 16 or 32, no NaN): the permutation
// std::stable_sort with operator< gives (glibc's qsort in ggml: ties keep index order). The rank
// of x_i counts the x_j < x_i, plus the x_j == x_i with j < i. Ranks of 8 elements per vector:
// each x_j, broadcast, adds its count to every lane (x_j <= x_i where j < i, x_j < x_i where
// j > i, nothing where j == i); then each element is written at its rank.
template <int NV>
static inline void iq1_stable_order_n(const float* x, int* order) {
    constexpr int n = 8 * NV;
    __m256 v[NV];
    __m256i rank[NV];
    for (int k = 0; k < NV; ++k) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        rank[k] = _mm256_setzero_si256();
    }
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
    for (int jb = 0; jb < NV; ++jb) {
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
            const __m256 b = _mm256_set1_ps(x[8 * jb + l]);
#pragma GCC unroll 4
            for (int k = 0; k < NV; ++k) {
                __m256 c;
                if (k < jb) {
                    c = _mm256_cmp_ps(b, v[k], _CMP_LT_OQ);  // every i < j
                } else if (k > jb) {
                    c = _mm256_cmp_ps(b, v[k], _CMP_LE_OQ);  // every i > j
                } else {  // lanes i > j: <=, the others (i == j: x_j < x_j is false): <
                    const __m256 after = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(l)));
                    c = _mm256_blendv_ps(_mm256_cmp_ps(b, v[k], _CMP_LT_OQ), _mm256_cmp_ps(b, v[k], _CMP_LE_OQ), after);
                }
                rank[k] = _mm256_sub_epi32(rank[k], _mm256_castps_si256(c));
            }
        }
    }
    alignas(32) int r[n];
    for (int k = 0; k < NV; ++k) _mm256_store_si256(reinterpret_cast<__m256i*>(r + 8 * k), rank[k]);
    for (int i = 0; i < n; ++i) order[i] = i;  // a complete permutation even if a caller passed NaN
    for (int i = 0; i < n; ++i) order[r[i]] = i;  // ranks are in 0..n-1 (j == i is never counted)
}

static inline void iq1_stable_order(const float* x, int n, int* order) {
    if (n == 32)
        iq1_stable_order_n<4>(x, order);
    else
        iq1_stable_order_n<2>(x, order);
}

// iq1_best_neighbour for an off-grid key: the neighbour minimising sum w*(scale*v[l] - x)^2 (v the
// three shifted values); if none scores below FLT_MAX, the first strict minimum of the whole grid
// as ggml scans it, and failing that the first neighbour.
static inline uint16_t iq1_snap_off(const GridArrays& A, uint16_t key, const float* x, const float* w, float scale,
                                    const float* v) {
    __m256 T[8];
    iq2_terms(x, w, _mm256_mul_ps(_mm256_set1_ps(scale), iq2_values4(v[0], v[1], v[2])), T);
    bool none;
    const uint16_t k = iq2_best_neighbour_key(A, key, T, &none);
    if (!none) return k;
    const int p = iq2_best_position(A.grid_keys, A.size, T);  // the grid size is a multiple of 8
    return p < 0 ? k : A.grid_keys[p];
}

// True when all n values are finite (the sort above needs no NaN; other inputs take the scalar path).
static inline bool all_finite(const float* x, int n) {
    const __m256 lim = _mm256_set1_ps(3.40282347e38f);
    __m256 bad = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x + i));
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, lim, _CMP_NLE_UQ));  // > FLT_MAX or NaN
    }
    return _mm256_movemask_ps(bad) == 0;
}

}  // namespace dgk::avx2
