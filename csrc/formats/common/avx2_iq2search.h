// AVX2 forms of the IQ2 / IQ1 lattice searches of iq2_grid_index.{h,cpp}: the neighbour search with
// one neighbour per lane, and the IQ2 trial-scale loop with one trial per lane. Every lane does the
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
// does it ((w*e)*e with e = s*q - x), where sq = scale * level values. x and w are read from
// memory for each search (keeping them in registers spills the scan's tables instead).
static inline void iq2_terms(const float* x, const float* w, __m256 sq, __m256 T[8]) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
        const __m256 e = _mm256_sub_ps(sq, _mm256_set1_ps(x[j]));
        T[j] = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w[j]), e), e);
    }
}

// The scalar neighbour scan (first strict minimum below FLT_MAX) over a padded list of neighbour
// keys, 8 per vector: each lane sums its neighbour's 8 terms in element order. Returns the list
// position of the winner, or -1 when no distance is below FLT_MAX.
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
    bool none;
    return iq2_best_neighbour_key(A, key, T, &none);
}

// Levels of 8 magnitudes at inverse scale id (iq2_levels), packed as a key.
static inline uint16_t iq2_key_at(const float* xval, float id) {
    int8_t L[8];
    iq2::iq2_levels(xval, id, L);
    return iq2::pack_key(L);
}

// One group of 8*NP weights of an IQ2 search: magnitudes, weights, sqrt(weights), and the products
// weight*xval the fit sums use (the same product the scalar sum forms first).
template <int NP>
struct Iq2Group {
    const float* xval;
    const float* weight;
    const float* waux;
    float wx[8 * NP];

    Iq2Group(const float* xv, const float* w, const float* wa) : xval(xv), weight(w), waux(wa) {
        for (int i = 0; i < 8 * NP; ++i) wx[i] = w[i] * xv[i];
    }
};

// Least-squares sums of the odd values of points given by key, in element order (iq2_fit_sums).
template <int NP>
static inline void iq2_fit_keys(const Iq2Group<NP>& g, const uint16_t* keys, float* sumqx, float* sumq2) {
    float sx = 0, s2 = 0;
    for (int i = 0; i < 8 * NP; ++i) {
        const float q = static_cast<float>(2 * ((keys[i / 8] >> (2 * (i % 8))) & 3) + 1);
        sx += g.wx[i] * q;
        s2 += g.weight[i] * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}

// State of an IQ2 scale search, as the scalar loop carries it.
template <int NP>
struct Iq2Search {
    float scale;
    float best;
    uint16_t keys[NP];
    bool on_grid[NP];
};

// The trial loop of ggml's IQ2 group searches: inverse scales id = (5 + is*0.1f)/ref_max for
// is = is_lo..is_hi, eight trials per pass in the lanes. A lane computes the levels of every point
// at its id, snaps off-grid points at 1/id, and forms the fit sums; the trials are then compared in
// order with the scalar test (strict >, best = scale*sumqx) against the carried state.
template <int NP>
static inline void iq2_trials(const GridArrays& A, const Iq2Group<NP>& g, float ref_max, int is_lo, int is_hi,
                              Iq2Search<NP>& s) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 odd = iq2_odd4();
    for (int is0 = is_lo; is0 <= is_hi; is0 += 8) {
        const int nt = is_hi - is0 + 1 < 8 ? is_hi - is0 + 1 : 8;
        const __m256 isf = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(is0), lane));
        const __m256 id = _mm256_div_ps(_mm256_add_ps(_mm256_set1_ps(5.0f), _mm256_mul_ps(isf, _mm256_set1_ps(0.1f))),
                                        _mm256_set1_ps(ref_max));
        alignas(32) float this_scale[8];
        _mm256_store_ps(this_scale, _mm256_div_ps(_mm256_set1_ps(1.0f), id));
        alignas(32) uint32_t key[NP][8];
        unsigned off[NP];
        __m256 sx = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
        for (int k = 0; k < NP; ++k) {
            const float* x = g.xval + 8 * k;
            __m256i kv = iq_level(id, _mm256_set1_ps(x[0]), 2);
#pragma GCC unroll 8
            for (int j = 1; j < 8; ++j)
                kv = _mm256_or_si256(kv, _mm256_slli_epi32(iq_level(id, _mm256_set1_ps(x[j]), 2), 2 * j));
            const __m256i grid = _mm256_i32gather_epi32(A.map, kv, 4);
            off[k] = static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(grid))) & ((1u << nt) - 1);
            _mm256_store_si256(reinterpret_cast<__m256i*>(key[k]), kv);
            if (off[k]) {
                for (unsigned m = off[k]; m; m &= m - 1) {
                    const int t = __builtin_ctz(m);
                    key[k][t] = iq2_snap_off(A, static_cast<uint16_t>(key[k][t]), x, g.waux + 8 * k,
                                             _mm256_mul_ps(_mm256_set1_ps(this_scale[t]), odd));
                }
                kv = _mm256_load_si256(reinterpret_cast<const __m256i*>(key[k]));
            }
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j, kv = _mm256_srli_epi32(kv, 2))
                iq_fit_step(sx, s2, g.wx[8 * k + j], g.weight[8 * k + j], _mm256_permutevar_ps(odd, kv));
        }
        alignas(32) float sumqx[8], sumq2[8];
        _mm256_store_ps(sumqx, sx);
        _mm256_store_ps(sumq2, s2);
        for (int t = 0; t < nt; ++t) {
            if (sumq2[t] > 0 && sumqx[t] * sumqx[t] > s.best * sumq2[t]) {
                s.scale = sumqx[t] / sumq2[t];
                s.best = s.scale * sumqx[t];
                for (int k = 0; k < NP; ++k) {
                    s.keys[k] = static_cast<uint16_t>(key[k][t]);
                    s.on_grid[k] = !((off[k] >> t) & 1);
                }
            }
        }
    }
}

// The end of the IQ2 searches: points not on the grid (all points with `all`) requantized at the
// chosen scale and snapped, then the scale refitted; only for a positive scale.
template <int NP>
static inline void iq2_requantize(const GridArrays& A, const Iq2Group<NP>& g, bool all, Iq2Search<NP>& s) {
    bool any = all;
    for (int k = 0; k < NP; ++k) any = any || !s.on_grid[k];
    if (!any || !(s.scale > 0)) return;
    const float id = 1 / s.scale;
    const __m256 sq = _mm256_mul_ps(_mm256_set1_ps(s.scale), iq2_odd4());
    for (int k = 0; k < NP; ++k) {
        if (!all && s.on_grid[k]) continue;
        const uint16_t key = iq2_key_at(g.xval + 8 * k, id);
        s.keys[k] = A.map[key] >= 0 ? key : iq2_snap_off(A, key, g.xval + 8 * k, g.waux + 8 * k, sq);
    }
    float sumqx, sumq2;
    iq2_fit_keys(g, s.keys, &sumqx, &sumq2);
    if (sumq2 > 0) s.scale = sumqx / sumq2;
}

// iq2::iq2_search_group16 (IQ2_XS, IQ2_S): same arguments, keys instead of levels, same scale bits.
static inline float iq2_search_group16(const GridArrays& A, const float* xval, const float* weight,
                                       const float* waux, float max, uint16_t keys[2]) {
    const Iq2Group<2> g(xval, weight, waux);
    Iq2Search<2> s{max / 5, 0, {0, 0}, {true, true}};
    iq2_trials(A, g, max, -9, 9, s);
    iq2_requantize(A, g, false, s);
    keys[0] = s.keys[0];
    keys[1] = s.keys[1];
    return s.scale;
}

// Grid point of a key the searches produced (always on the grid; the guard keeps a broken
// invariant in bounds, as the scalar encoders do).
static inline int iq2_point(const GridArrays& A, uint16_t key) {
    const int g = A.map[key];
    return g < 0 ? 0 : g;
}

}  // namespace dgk::avx2
