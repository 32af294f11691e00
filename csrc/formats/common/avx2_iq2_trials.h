// The IQ2 group searches in AVX2 (iq2_grid_index.h's iq2_search_group16 and IQ2_XXS's trial loop):
// trial scales in the lanes, neighbour searches from avx2_iq2search.h / avx2_iq2_runs.h. Every
// lane does the scalar code's operations in its order, so the chosen points and scales have the
// scalar bits. For AVX2-compiled files only; `static` so no AVX2 copy can be merged into scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_iq2_runs.h"
#include "avx2_iq2search.h"
#include "avx2_iqsearch.h"
#include "iq2_grid_index.h"

namespace dgk::avx2 {

// Levels of 8 magnitudes at inverse scale id (iq2_levels, one element per lane), packed as a key.
static inline uint16_t iq2_key_at(const float* xval, float id) {
    const __m256i l = iq_level(_mm256_set1_ps(id), _mm256_loadu_ps(xval), 2);
    const __m256i v = _mm256_sllv_epi32(l, _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
    __m128i h = _mm_or_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_or_si128(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_or_si128(h, _mm_shuffle_epi32(h, 0xb1));
    return static_cast<uint16_t>(_mm_cvtsi128_si32(h));
}

// Per lane, the key of point x's levels at the lane's inverse scale id (iq_level per element). With
// kTame (every |id*x| below 2^22, no NaN) the level is (p > 2) + (p >= 4) for p = id*x: level >= 1
// iff 0.5*(p - 1) > 0.5 (0.5 rounds to even 0) iff p - 1 > 1, and level >= 2 iff 0.5*(p - 1) >= 1.5
// iff p - 1 >= 3; p - 1 is exact for p in [2, 4], so both iff p > 2 and p >= 4. Fewer operations
// per element (the compares give -1 per level, negated at the end).
template <bool kTame>
static inline __m256i iq2_lane_keys(__m256 id, const float* x) {
    if (!kTame) {
        __m256i kv = iq_level(id, _mm256_set1_ps(x[0]), 2);
#pragma GCC unroll 8
        for (int j = 1; j < 8; ++j) kv = _mm256_or_si256(kv, _mm256_slli_epi32(iq_level(id, _mm256_set1_ps(x[j]), 2), 2 * j));
        return kv;
    }
    __m256i neg = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
        const __m256 p = _mm256_mul_ps(id, _mm256_set1_ps(x[j]));
        const __m256i l = _mm256_add_epi32(_mm256_castps_si256(_mm256_cmp_ps(p, _mm256_set1_ps(2.0f), _CMP_GT_OQ)),
                                           _mm256_castps_si256(_mm256_cmp_ps(p, _mm256_set1_ps(4.0f), _CMP_GE_OQ)));
        neg = _mm256_add_epi32(neg, _mm256_slli_epi32(l, 2 * j));
    }
    return _mm256_sub_epi32(_mm256_setzero_si256(), neg);
}

// Whether iq2_lane_keys<true> holds for the points x at every inverse scale in [0, id_hi].
static inline bool iq2_tame(const float* x, int np, float id_hi) {
    const __m256 lim = _mm256_set1_ps(0x1p22f), vid = _mm256_set1_ps(id_hi), abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    unsigned ok = 255;
    for (int k = 0; k < np; ++k)
        ok &= static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_mul_ps(_mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs), vid), lim, _CMP_LT_OQ)));
    return ok == 255;
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

// Least-squares sums of the odd values of points given by key, in element order (iq2_fit_sums):
// the products in lanes, the sums in order.
template <int NP>
static inline void iq2_fit_keys(const Iq2Group<NP>& g, const uint16_t* keys, float* sumqx, float* sumq2) {
    alignas(32) float px[8 * NP], p2[8 * NP];
    const __m256i shift = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int k = 0; k < NP; ++k) {
        const __m256i l = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(keys[k]), shift), _mm256_set1_epi32(3));
        const __m256 q = iq_level_value(l);
        _mm256_store_ps(px + 8 * k, _mm256_mul_ps(_mm256_loadu_ps(g.wx + 8 * k), q));
        _mm256_store_ps(p2 + 8 * k, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(g.weight + 8 * k), q), q));
    }
    float sx = 0, s2 = 0;
    for (int i = 0; i < 8 * NP; ++i) {
        sx += px[i];
        s2 += p2[i];
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
// is = is_lo..is_hi (at most 24), eight trials per vector. First every point's levels at every id,
// then the off-grid ones snapped at 1/id (runs of trials with the same key share scans where
// avx2_iq2_runs.h certifies it), then per vector the fit sums; the trials are compared in order
// with the scalar test (strict >, best = scale*sumqx) against the carried state.
template <int NP, int is_lo, int is_hi>
static inline void iq2_trials(const GridArrays& A, const Iq2Group<NP>& g, float ref_max, Iq2Search<NP>& s) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 odd = iq2_odd4();
    constexpr int ntr = is_hi - is_lo + 1;  // fixed trip counts: loops unrolled, branches predictable
    constexpr int nv = (ntr + 7) / 8;  // trial vectors
    static_assert(nv <= 3, "scale[] and key[][] hold the trial vectors and 8 past them");
    alignas(32) float scale[32];        // 8 past the last vector for Iq2RunSnap (zeroed below)
    _mm256_store_ps(scale + 8 * nv, _mm256_setzero_ps());
    alignas(32) uint32_t key[NP][32];  // 8 past the last vector for the run masks' unaligned loads
    uint32_t off[NP] = {};
    // The ids grow with is (ref_max > 0), the lanes past is_hi excepted, whose keys are never used.
    const bool tame = ref_max > 0 && iq2_tame(g.xval, NP, (5.0f + static_cast<float>(is_hi) * 0.1f) / ref_max);
#pragma GCC unroll 4
    for (int t0 = 0; t0 < ntr; t0 += 8) {
        const __m256 isf = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_set1_epi32(is_lo + t0), lane));
        const __m256 id = _mm256_div_ps(_mm256_add_ps(_mm256_set1_ps(5.0f), _mm256_mul_ps(isf, _mm256_set1_ps(0.1f))),
                                        _mm256_set1_ps(ref_max));
        _mm256_store_ps(scale + t0, _mm256_div_ps(_mm256_set1_ps(1.0f), id));
        for (int k = 0; k < NP; ++k) {
            const float* x = g.xval + 8 * k;
            const __m256i kv = tame ? iq2_lane_keys<true>(id, x) : iq2_lane_keys<false>(id, x);
            const __m256i grid = _mm256_i32gather_epi32(A.map, kv, 4);
            off[k] |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(grid))) << t0;
            _mm256_store_si256(reinterpret_cast<__m256i*>(key[k] + t0), kv);
        }
    }
    // Bit t of join: trials t and t+1 have the same key and t+1 is off the grid (t+1 < ntr). Levels
    // grow with id, so equal keys are consecutive and a run from a ends at the first t >= a without
    // the bit. The masks are taken before any snapping. Trials of runs of 3 or more (those covered by
    // three joined trials) go to Iq2RunSnap, the others are scanned; each kind in one loop over the
    // points' masks side by side (bit kStride*k + t), so the branches per run are few.
    constexpr int kStride = ntr <= 16 ? 16 : 32;
    static_assert(NP * kStride <= 64, "point masks side by side in 64 bits");
    uint64_t single = 0, runs = 0, joins = 0;
    for (int k = 0; k < NP; ++k) {
        off[k] &= (1u << ntr) - 1;
        key[k][8 * nv] = 0;  // the last vector's unaligned load reads one entry past the written ones
        uint32_t join = 0;
#pragma GCC unroll 4
        for (int t0 = 0; t0 < ntr; t0 += 8) {
            const __m256i here = _mm256_load_si256(reinterpret_cast<const __m256i*>(key[k] + t0));
            const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(key[k] + t0 + 1));
            join |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(here, next)))) << t0;
        }
        join &= off[k] >> 1;
        const uint32_t three = join & (join >> 1);
        const uint32_t in_runs = three | (three << 1) | (three << 2);
        single |= static_cast<uint64_t>(off[k] & ~in_runs) << (kStride * k);
        runs |= static_cast<uint64_t>(in_runs) << (kStride * k);
        joins |= static_cast<uint64_t>(join) << (kStride * k);
    }
    for (uint64_t m = single; m; m &= m - 1) {
        const int i = __builtin_ctzll(m), k = i / kStride, t = i % kStride;
        key[k][t] = iq2_snap_off(A, static_cast<uint16_t>(key[k][t]), g.xval + 8 * k, g.waux + 8 * k,
                                 _mm256_mul_ps(_mm256_set1_ps(scale[t]), odd));
    }
    for (uint64_t m = runs; m;) {
        const int i = __builtin_ctzll(m), k = i / kStride, a = i % kStride;
        const int b = a + __builtin_ctzll(~(joins >> i));
        m &= ~((2ull << (kStride * k + b)) - 1);
        const float* x = g.xval + 8 * k;
        const float* w = g.waux + 8 * k;
        const Iq2Bound bound(x, w);  // the error bound's sums of this point
        Iq2RunSnap(A, x, w, bound, scale, key[k], static_cast<uint16_t>(key[k][a])).run(a, b);
    }
    // Per trial: the fit sums (iq_fit_step's products, read from per-element tables of the level
    // values: wx*q and (w*q)*q, each element's table serving every trial vector), then sumq2, sumqx^2
    // (NaN where sumq2 > 0 fails, so that the test below fails), the scale sumqx/sumq2 and
    // best = scale*sumqx, the scalar operations in lanes.
    __m256 sx[nv], s2[nv];
    for (int v = 0; v < nv; ++v) sx[v] = s2[v] = _mm256_setzero_ps();
    for (int k = 0; k < NP; ++k) {
        __m256i kv[nv];
        for (int v = 0; v < nv; ++v) kv[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(key[k] + 8 * v));
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {
            const __m256 tx = _mm256_mul_ps(_mm256_set1_ps(g.wx[8 * k + j]), odd);
            const __m256 t2 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(g.weight[8 * k + j]), odd), odd);
#pragma GCC unroll 4
            for (int v = 0; v < nv; ++v) {
                sx[v] = _mm256_add_ps(sx[v], _mm256_permutevar_ps(tx, kv[v]));
                s2[v] = _mm256_add_ps(s2[v], _mm256_permutevar_ps(t2, kv[v]));
                kv[v] = _mm256_srli_epi32(kv[v], 2);
                __asm__("" : "+x"(sx[v]), "+x"(s2[v]));  // in order, as in iq2_distances
            }
        }
    }
    alignas(32) float q2[8 * nv], qx2[8 * nv], scl[8 * nv], bst[8 * nv];
#pragma GCC unroll 4
    for (int v = 0; v < nv; ++v) iq_accept_inputs(sx[v], s2[v], q2 + 8 * v, qx2 + 8 * v, scl + 8 * v, bst + 8 * v);
    const int tp = iq_accept_chain(q2, qx2, bst, ntr, s.best);
    if (tp >= 0) {
        s.scale = scl[tp];
        for (int k = 0; k < NP; ++k) {
            s.keys[k] = static_cast<uint16_t>(key[k][tp]);
            s.on_grid[k] = !((off[k] >> tp) & 1);
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
    iq2_trials<2, -9, 9>(A, g, max, s);
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
