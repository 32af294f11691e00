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
// Two scans at scales s1, s2 chose neighbours b1, b2 (maybe the same); F = {b1, b2}. With the float
// gaps g_i = min over c not in F of d_c(s_i) - d_b1(s_i), every c outside F has
// D_c - D_b1 >= g_i - 2E(s_i) =: s_i*mu_i at both scales. If min(mu1, mu2) * min(s1, s2) >
// 2 * max(E(s1), E(s2)), then at every s between them D_c(s) - D_b1(s) >= s * min(mu1, mu2) >
// 2E(s) >= (error of d_c) + (error of d_b1): d_c(s) > d_b1(s), so the scan's first strict minimum
// is in F. With b1 = b2 that is b1; else the two float distances at s, computed as the scan
// does, decide (the earlier in the list on a tie). The guard E < 1e20 keeps every distance finite
// (D is convex in s, so at most its value at an end).
//
// Otherwise each trial between is predicted: for s between s1 and s2, lambda = (s - s2)/(s1 - s2),
// D_c(s) - D_r(s) = s * (K_c - K_r) for any c, r, where K_c = (lambda/s1) D_c(s1) +
// ((1 - lambda)/s2) D_c(s2) (linearity again). The float k_c computed from the float distances
// (and float lambda, with its few roundings) is within rho <= (E(s1) + E(s2)-ish)/min(s) of K_c
// (the 2.8 slack of E covers the roundings, each <= a few u times M/min(s)); with
// Em = max(E(s1), E(s2)) and theta = 5 Em / min(s1, s2) >= 2 rho + 2 Em / s, a candidate c* whose
// k is below every other k by more than theta satisfies D_c(s) - D_c*(s) > 2 Em, so it is the
// scan's unique float minimum at s. Predictions that are not that clear (and huge ones, >= 1e30,
// where k may overflow) scan the trial.
#pragma once
#include <immintrin.h>

#include <cfloat>
#include <cstdint>

#include "avx2_iq2search.h"

namespace dgk::avx2 {

// Room for the longest neighbour list, padded (GridIndex checks its lists against it).
constexpr int kIq2MaxNeighbours = iq2::kMaxNeighbours;

// The smallest of p[0..count) and of q[0..count) other than entries i and j, ignoring NaN
// (padding), into *mp and *mq: one loop for both lists (its exit is one data-dependent branch).
static inline void iq2_min_except2(float* p, float* q, int count, int i, int j, float* mp, float* mq) {
    const float pi = p[i], pj = p[j], qi = q[i], qj = q[j];
    p[i] = p[j] = q[i] = q[j] = __builtin_inff();
    __m256 a = _mm256_set1_ps(__builtin_inff()), b = a;
    for (int c = 0; c < count; c += 8) {  // min_ps(v, m) is m when v is NaN
        a = _mm256_min_ps(_mm256_load_ps(p + c), a);
        b = _mm256_min_ps(_mm256_load_ps(q + c), b);
    }
    p[i] = pi;
    p[j] = pj;
    q[i] = qi;
    q[j] = qj;
    *mp = hmin_ps(a);
    *mq = hmin_ps(b);
}

// Per point of a group: the terms of M(s) = 100 s^2 W + 20 s X1 + X2 (header comment). Only a
// bound, so no bits to match: the three sums are taken pairwise in lanes (relative error <= 3u for
// non-negative terms, inside E's slack), and whatever the order, a NaN or overflowing term makes
// E fail the E < 1e20 guard.
struct Iq2Bound {
    float W, X1, X2;
    Iq2Bound() : W(0), X1(0), X2(0) {}
    Iq2Bound(const float* x, const float* w) {
        const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x)), wv = _mm256_loadu_ps(w);
        const __m256 wx = _mm256_mul_ps(wv, ax);
        W = hsum(wv);
        X1 = hsum(wx);
        X2 = hsum(_mm256_mul_ps(wx, ax));
    }
    static float hsum(__m256 v) {
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
    }
    float err(float s) const { return 0x1p-19f * (100 * s * s * W + 20 * s * X1 + X2) + 1e-37f; }
};

// Snaps the trials t in [a, b] of one point (all rounding to `key`, off the grid) at scales s[t]:
// keys[t] receives ggml's neighbour. Scans both ends (keeping every distance); between them, the
// certified winners are filled in, else each trial is predicted or scanned (header comment).
struct Iq2RunSnap {
    struct Scan {
        int pos;      // winner's list position, -1 if none below FLT_MAX
        float err;    // E(s)
        float* d;     // every entry's distance
    };
    const GridArrays& A;
    const float* x;
    const float* w;
    const Iq2Bound& bound;  // the point's (x, w), computed once per point by the caller
    const float* s;
    uint32_t* keys;
    const uint16_t* list;
    int count;
    alignas(32) float dist[2][kIq2MaxNeighbours];  // at the two ends

    Iq2RunSnap(const GridArrays& A_, const float* x_, const float* w_, const Iq2Bound& bound_, const float* s_,
               uint32_t* keys_, uint16_t key)
        : A(A_), x(x_), w(w_), bound(bound_), s(s_), keys(keys_), list(A_.nb_keys + A_.nb_offset[key] + 1),
          count(A_.nb_keys[A_.nb_offset[key]]) {}

    Scan scan(int t, const __m256 T[8], float* d) {
        Scan r{iq2_distances(list, count, T, d), bound.err(s[t]), d};
        keys[t] = list[r.pos < 0 ? 0 : r.pos];
        return r;
    }
    bool certified(int a, const Scan& ra, int b, const Scan& rb) const {
        const float e = ra.err > rb.err ? ra.err : rb.err;
        if (ra.pos < 0 || rb.pos < 0 || !(e < 1e20f) || !(s[a] > 0) || !(s[b] > 0)) return false;
        float ma, mb;
        iq2_min_except2(ra.d, rb.d, count, ra.pos, rb.pos, &ma, &mb);
        const float ga = ma - ra.d[ra.pos], gb = mb - rb.d[ra.pos];
        const float mua = (ga * 0.999999f - 2 * ra.err) / s[a], mub = (gb * 0.999999f - 2 * rb.err) / s[b];
        const float mu = mua < mub ? mua : mub;
        return mu > 0 && mu * (s[a] < s[b] ? s[a] : s[b]) * 0.999999f > 2 * e;
    }
    // Trial t's winner among list positions i < j, by their distances as the scan computes them.
    uint16_t pick(int t, int i, int j) const {
        __m256 T[8];
        iq2_terms(x, w, _mm256_mul_ps(_mm256_set1_ps(s[t]), iq2_odd4()), T);
        __m256i k = _mm256_setr_epi32(list[i], list[j], 0, 0, 0, 0, 0, 0);
        __m256 v = _mm256_permutevar_ps(T[0], k);
#pragma GCC unroll 8
        for (int l = 1; l < 8; ++l) {
            k = _mm256_srli_epi32(k, 2);
            v = _mm256_add_ps(v, _mm256_permutevar_ps(T[l], k));
        }
        alignas(32) float d[8];
        _mm256_store_ps(d, v);
        return d[1] < d[0] ? list[j] : list[i];
    }
    void between(int a, const Scan& ra, int b, const Scan& rb) {
        if (b - a < 2) return;
        // Comparing two candidates per trial beats predicting only for long lists.
        if ((ra.pos == rb.pos || count > 32) && certified(a, ra, b, rb)) {
            const int i = ra.pos < rb.pos ? ra.pos : rb.pos, j = ra.pos < rb.pos ? rb.pos : ra.pos;
            for (int t = a + 1; t < b; ++t) keys[t] = i == j ? list[i] : pick(t, i, j);
            return;
        }
        if (count <= 16) {  // short lists: one lane per trial (measured with callgrind)
            for (int t = a + 1; t < b; t += 8) predict8(t, b - t < 8 ? b - t : 8, a, ra, b, rb);
        } else {
            for (int t = a + 1; t < b; ++t) keys[t] = predict(t, a, ra, b, rb);
        }
    }
    // predict for the n <= 8 trials from t on, one per lane (s has 8 entries past the last trial).
    void predict8(int t, int n, int a, const Scan& ra, int b, const Scan& rb) const {
        const float e = ra.err > rb.err ? ra.err : rb.err, smin = s[a] < s[b] ? s[a] : s[b];
        unsigned clear = 0;
        __m256i pos = _mm256_setzero_si256();
        if (ra.pos >= 0 && rb.pos >= 0 && e < 1e20f && smin > 0 && s[a] != s[b]) {
            const __m256 lambda = _mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(s + t), _mm256_set1_ps(s[b])),
                                                _mm256_set1_ps(s[a] - s[b]));
            const __m256 alpha = _mm256_div_ps(lambda, _mm256_set1_ps(s[a]));
            const __m256 beta = _mm256_div_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), lambda), _mm256_set1_ps(s[b]));
            __m256 best = _mm256_set1_ps(FLT_MAX), second = best;
            // Whole vectors of the padded list (fewer loop branches): a padding entry's k is inf or
            // NaN (alpha, beta >= 0), which changes neither best nor second.
            for (int c0 = 0; c0 < count; c0 += 8) {
#pragma GCC unroll 8
                for (int c = c0; c < c0 + 8; ++c) {
                    const __m256 k = _mm256_fmadd_ps(alpha, _mm256_set1_ps(ra.d[c]), _mm256_mul_ps(beta, _mm256_set1_ps(rb.d[c])));
                    const __m256 lt = _mm256_cmp_ps(k, best, _CMP_LT_OQ);
                    second = _mm256_min_ps(_mm256_max_ps(best, k), second);  // a NaN k: max gives it, min second
                    best = _mm256_min_ps(k, best);
                    pos = _mm256_blendv_epi8(pos, _mm256_set1_epi32(c), _mm256_castps_si256(lt));
                }
            }
            const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(best, _mm256_set1_ps(1e30f), _CMP_LT_OQ),
                                            _mm256_cmp_ps(_mm256_sub_ps(second, best), _mm256_set1_ps(5 * e / smin), _CMP_GT_OQ));
            clear = static_cast<unsigned>(_mm256_movemask_ps(ok));
        }
        // Every lane's list[pos] (the 32 bits at list[pos - 1], whose high half it is: list[-1] is the
        // count, so no read leaves the list), stored for the n trials without a branch per trial;
        // the unclear ones (rare) are then scanned.
        const __m256i got = _mm256_srli_epi32(_mm256_i32gather_epi32(reinterpret_cast<const int*>(list - 1), pos, 2), 16);
        const unsigned live = (1u << n) - 1;
        _mm256_maskstore_epi32(reinterpret_cast<int*>(keys + t), iq_lane_mask(live), got);
        for (unsigned m = live & ~clear; m; m &= m - 1) keys[t + __builtin_ctz(m)] = scan_key(t + __builtin_ctz(m));
    }
    // Trial t's winner predicted from the distances at a and b (header comment), else scanned.
    uint16_t predict(int t, int a, const Scan& ra, int b, const Scan& rb) const {
        const float e = ra.err > rb.err ? ra.err : rb.err, smin = s[a] < s[b] ? s[a] : s[b];
        if (ra.pos >= 0 && rb.pos >= 0 && e < 1e20f && smin > 0) {
            const float lambda = (s[t] - s[b]) / (s[a] - s[b]);
            const __m256 alpha = _mm256_set1_ps(lambda / s[a]), beta = _mm256_set1_ps((1 - lambda) / s[b]);
            __m256 best = _mm256_set1_ps(FLT_MAX), second = best;
            __m256i pos = _mm256_set1_epi32(-1), at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            for (int c = 0; c < count; c += 8, at = _mm256_add_epi32(at, _mm256_set1_epi32(8))) {
                const __m256 k = _mm256_fmadd_ps(alpha, _mm256_load_ps(ra.d + c), _mm256_mul_ps(beta, _mm256_load_ps(rb.d + c)));
                const __m256 lt = _mm256_cmp_ps(k, best, _CMP_LT_OQ);
                second = _mm256_blendv_ps(_mm256_min_ps(k, second), best, lt);  // a NaN k leaves it alone
                best = _mm256_blendv_ps(best, k, lt);
                pos = _mm256_blendv_epi8(pos, at, _mm256_castps_si256(lt));
            }
            const float m = hmin_ps(best);
            const unsigned lanes = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(best, _mm256_set1_ps(m), _CMP_EQ_OQ)));
            if (m < 1e30f && (lanes & (lanes - 1)) == 0) {
                const int lw = __builtin_ctz(lanes);
                const float next = hmin_ps(_mm256_blendv_ps(best, second, _mm256_castsi256_ps(iq_lane_mask(1u << lw))));
                if (next - m > 5 * e / smin) {
                    alignas(32) int p[8];
                    _mm256_store_si256(reinterpret_cast<__m256i*>(p), pos);
                    return list[p[lw]];
                }
            }
        }
        return scan_key(t);
    }
    // The plain scan at trial t (iq2_snap_off).
    uint16_t scan_key(int t) const {
        __m256 T[8];
        iq2_terms(x, w, _mm256_mul_ps(_mm256_set1_ps(s[t]), iq2_odd4()), T);
        alignas(32) float d[kIq2MaxNeighbours];
        const int p = iq2_distances(list, count, T, d);
        return list[p < 0 ? 0 : p];
    }
    void run(int a, int b) {  // b >= a + 2
        __m256 Ta[8], Tb[8];
        iq2_terms2(x, w, s[a], s[b], Ta, Tb);
        const Scan ra = scan(a, Ta, dist[0]);
        between(a, ra, b, scan(b, Tb, dist[1]));
    }
};

}  // namespace dgk::avx2
