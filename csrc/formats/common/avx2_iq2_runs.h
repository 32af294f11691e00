// Exact reuse of an IQ2 neighbour search across the trial scales at which a point rounds to the
// same off-grid key. For AVX2-compiled files only.
//
// The searches snap a key at trial scale s to the first strict minimum of the float distances
// d_c(s) = sum_j fl(w_j * e_j) * e_j, e_j = fl(fl(s*q_cj) - x_j), over the key's neighbours c. In
// real arithmetic D_c(s) = sum_j w_j (s*q_cj - x_j)^2, and for two neighbours c, b the difference
// D_c(s) - D_b(s) = s * (s*(A_c - A_b) - 2*(B_c - B_b)) (A = sum w q^2, B = sum w x q): divided by
// s > 0 it is linear in s. So if b beats every c by at least s*mu in real distance at two scales,
// it does so at every scale between them.
//
// Rounding: with u = 2^-24 and w_j >= 0, |d_c(s) - D_c(s)| <= 11.2u * M(s) + 1e-42, where
// M(s) = sum_j w_j (|x_j| + 10 s)^2 bounds sum_j w_j (|e_j| + s*q_cj)^2 (q <= 5): each term is off
// by <= 4.1u w (|e| + sq)^2 (s*q, the subtraction, two products) and the in-order sum of 8
// non-negative terms by <= 7.1u times their sum; 1e-42 covers subnormal results. We use
// E(s) = 2^-19 * M(s) + 1e-37 (2.8 times that, covering the few roundings of E, the gap and mu
// themselves), and shrink measured gaps by 1e-6 (17u) for the same reason.
//
// At a scanned scale with winner b and float gap g = (second smallest d) - d_b, every other c has
// D_c - D_b >= g - 2E(s) =: s*mu. If two scanned scales s1, s2 chose the same b and
// min(mu1, mu2) * min(s1, s2) > 2 * max(E(s1), E(s2)), then at every s between them
// D_c(s) - D_b(s) >= s * min(mu1, mu2) > 2E(s) >= (error of d_c) + (error of d_b): b is the
// unique float minimum there, and below FLT_MAX (the guard E < 1e20 keeps every distance finite;
// D_b is convex in s, so at most its value at an end). Anything else is scanned.
#pragma once
#include <immintrin.h>

#include <cfloat>
#include <cstdint>

#include "avx2_iq2search.h"

namespace dgk::avx2 {

// iq2_best_position that also returns the gap between the winner's distance and the smallest
// other one (FLT_MAX - min when there is no other finite one); the winner is the same.
static inline int iq2_best_position_gap(const uint16_t* keys, int count, const __m256 T[8], float* gap) {
    __m256 best = _mm256_set1_ps(FLT_MAX), second = best;
    __m256i pos = _mm256_set1_epi32(-1);
    __m256i at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c = 0; c < count; c += 8, at = _mm256_add_epi32(at, _mm256_set1_epi32(8))) {
        __m256i k = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(keys + c)));
        __m256 d = _mm256_permutevar_ps(T[0], k);
#pragma GCC unroll 8
        for (int j = 1; j < 8; ++j) {
            k = _mm256_srli_epi32(k, 2);
            d = _mm256_add_ps(d, _mm256_permutevar_ps(T[j], k));
        }
        const __m256 lt = _mm256_cmp_ps(d, best, _CMP_LT_OQ);
        second = _mm256_blendv_ps(_mm256_min_ps(d, second), best, lt);  // a NaN d leaves it alone
        best = _mm256_blendv_ps(best, d, lt);
        pos = _mm256_blendv_epi8(pos, at, _mm256_castps_si256(lt));
    }
    const float m = hmin_ps(best);
    *gap = -1;
    if (!(m < FLT_MAX)) return -1;
    unsigned lanes = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(best, _mm256_set1_ps(m), _CMP_EQ_OQ)));
    alignas(32) int p[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(p), pos);
    int lw = __builtin_ctz(lanes);
    for (lanes &= lanes - 1; lanes; lanes &= lanes - 1)
        if (p[__builtin_ctz(lanes)] < p[lw]) lw = __builtin_ctz(lanes);
    // The winner's lane offers its runner-up, every other lane its minimum.
    *gap = hmin_ps(_mm256_blendv_ps(best, second, _mm256_castsi256_ps(iq_lane_mask(1u << lw)))) - m;
    return p[lw];
}

// Per point of a group: the terms of M(s) = 100 s^2 W + 20 s X1 + X2 (header comment).
struct Iq2Bound {
    float W, X1, X2;
    Iq2Bound(const float* x, const float* w) : W(0), X1(0), X2(0) {
        for (int j = 0; j < 8; ++j) {
            const float ax = x[j] < 0 ? -x[j] : x[j];
            W += w[j];
            X1 += w[j] * ax;
            X2 += w[j] * ax * ax;
        }
    }
    float err(float s) const { return 0x1p-19f * (100 * s * s * W + 20 * s * X1 + X2) + 1e-37f; }
};

// One scan at a trial scale: the winner's key, E(s), and mu (negative when nothing is certified).
struct Iq2Scan {
    uint16_t key;
    float mu, err;
};

static inline Iq2Scan iq2_scan_certified(const GridArrays& A, uint16_t key, const float* x, const float* w,
                                         const Iq2Bound& bound, float s) {
    __m256 T[8];
    iq2_terms(x, w, _mm256_mul_ps(_mm256_set1_ps(s), iq2_odd4()), T);
    const uint32_t first = A.nb_offset[key] + 1;
    float gap;
    const int p = iq2_best_position_gap(A.nb_keys + first, A.nb_keys[first - 1], T, &gap);
    Iq2Scan r{A.nb_keys[first + (p < 0 ? 0 : p)], -1, bound.err(s)};
    if (p >= 0 && r.err < 1e20f && s > 0) r.mu = (gap * 0.999999f - 2 * r.err) / s;
    return r;
}

// Whether the winner common to two scans wins at every scale between theirs.
static inline bool iq2_certified_between(const Iq2Scan& a, float sa, const Iq2Scan& b, float sb) {
    const float mu = a.mu < b.mu ? a.mu : b.mu;
    const float s = sa < sb ? sa : sb;
    const float e = a.err > b.err ? a.err : b.err;
    return a.key == b.key && mu > 0 && mu * s * 0.999999f > 2 * e;
}

// Snaps the trials t in [a, b] of one point (all rounding to `key`, off the grid) at scales s[t]:
// keys[t] receives ggml's neighbour. Scans both ends, and between them fills in the common winner
// when certified, else splits at the middle.
struct Iq2RunSnap {
    const GridArrays& A;
    const float* x;
    const float* w;
    Iq2Bound bound;
    const float* s;
    uint32_t* keys;
    uint16_t key;

    Iq2Scan scan(int t) {
        const Iq2Scan r = iq2_scan_certified(A, key, x, w, bound, s[t]);
        keys[t] = r.key;
        return r;
    }
    void between(int a, const Iq2Scan& ra, int b, const Iq2Scan& rb) {
        if (b - a < 2) return;
        if (iq2_certified_between(ra, s[a], rb, s[b])) {
            for (int t = a + 1; t < b; ++t) keys[t] = ra.key;
            return;
        }
        const int m = (a + b) / 2;
        const Iq2Scan rm = scan(m);
        between(a, ra, m, rm);
        between(m, rm, b, rb);
    }
    void run(int a, int b) {
        const Iq2Scan ra = scan(a);
        if (b == a) return;
        between(a, ra, b, scan(b));
    }
};

}  // namespace dgk::avx2
