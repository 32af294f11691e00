// The scale searches of scale_search.cpp for sets of 8 sub-blocks, one sub-block per lane.
// Inputs are lane-major: x[i] / w[i] hold element i of the set's 8 sub-blocks (see load_lanes).
// Each lane performs its scalar search's float operations in the same order (sums over i in index
// order, the same operand order in products, the same strict comparisons), and the branches of the
// scalar code become per-lane masks, so every lane ends with the scalar result bits. Levels are
// returned as floats (small integers, exact). make_q3_quants: avx2_search_q3.h.
// AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include "avx2_kquant.h"

namespace dgk::avx2::kq {

// Parameters of make_qkx2_quants / make_qkx3_quants. The two differ only in the degenerate test
// (qkx2: max == min, qkx3: max <= min) and in who supplies the weights (here: always the caller).
struct AsymSearch {
    int nmax;
    float rmin, rdelta;
    int nstep;  // >= 1 (every K-quant caller)
    bool use_mad;
    bool qkx3;
};

// Asymmetric (scale, min) search, L in [0, nmax], for NB independent sets of 8 sub-blocks whose
// steps are interleaved (each trial depends on the previous one's outcome, so one set alone
// leaves the core waiting on latencies). Set b uses x[b*N + i], w[b*N + i] and writes
// L[b*N + i], scale[b] and the_min[b] (= -min).
template <int N, int NB>
static inline void asym_search(const __m256* x, const __m256* w, const AsymSearch& p, __m256* L, __m256* scale,
                               __m256* the_min) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 min[NB], max[NB], sum_w[NB], sum_x[NB], degenerate[NB], best_err[NB];
    for (int b = 0; b < NB; ++b) {
        const __m256* xb = x + b * N;
        const __m256* wb = w + b * N;
        min[b] = max[b] = xb[0];
        sum_w[b] = wb[0];
        sum_x[b] = _mm256_mul_ps(wb[0], xb[0]);
        for (int i = 1; i < N; ++i) {
            min[b] = _mm256_min_ps(xb[i], min[b]);  // x < min ? x : min, as the scalar update
            max[b] = _mm256_max_ps(xb[i], max[b]);
            sum_w[b] = _mm256_add_ps(sum_w[b], wb[i]);
            sum_x[b] = _mm256_add_ps(sum_x[b], _mm256_mul_ps(wb[i], xb[i]));
        }
        min[b] = _mm256_min_ps(zero, min[b]);  // min > 0 ? 0 : min
        degenerate[b] = p.qkx3 ? _mm256_cmp_ps(max[b], min[b], _CMP_LE_OQ) : _mm256_cmp_ps(max[b], min[b], _CMP_EQ_OQ);
    }

    // w * diff with diff = (scale*l + mn) - x, squared or absolute
    auto error_term = [&](__m256 sc, __m256 mn, __m256 l, int k) {
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(sc, l), mn), x[k]);
        diff = p.use_mad ? abs8(diff) : _mm256_mul_ps(diff, diff);
        return _mm256_mul_ps(w[k], diff);
    };

    for (int b = 0; b < NB; ++b) {
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)p.nmax), _mm256_sub_ps(max[b], min[b]));
        scale[b] = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
        best_err[b] = zero;
        for (int i = 0; i < N; ++i) {
            const int k = b * N + i;
            L[k] = level8(_mm256_mul_ps(iscale, _mm256_sub_ps(x[k], min[b])), 0, p.nmax);
            best_err[b] = _mm256_add_ps(best_err[b], error_term(scale[b], min[b], L[k], k));
        }
    }

    __m256 Laux[NB * N];
    for (int step = 0; step <= p.nstep; ++step) {
        const __m256 num = _mm256_set1_ps(p.rmin + p.rdelta * (float)step + (float)p.nmax);
        __m256 iscale[NB], sum_l[NB], sum_l2[NB], sum_xl[NB];
        for (int b = 0; b < NB; ++b) {
            // min is the best fit so far: an accepted trial moves the grid of the next ones
            iscale[b] = _mm256_div_ps(num, _mm256_sub_ps(max[b], min[b]));
            sum_l[b] = sum_l2[b] = sum_xl[b] = zero;
        }
        for (int i = 0; i < N; ++i) {
            for (int b = 0; b < NB; ++b) {
                const int k = b * N + i;
                const __m256 l = level8(_mm256_mul_ps(iscale[b], _mm256_sub_ps(x[k], min[b])), 0, p.nmax);
                Laux[k] = l;
                const __m256 wl = _mm256_mul_ps(w[k], l);
                sum_l[b] = _mm256_add_ps(sum_l[b], wl);
                sum_l2[b] = _mm256_add_ps(sum_l2[b], _mm256_mul_ps(wl, l));
                sum_xl[b] = _mm256_add_ps(sum_xl[b], _mm256_mul_ps(wl, x[k]));
            }
        }
        __m256 valid[NB], this_scale[NB], this_min[NB], err[NB];
        for (int b = 0; b < NB; ++b) {
            const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sum_w[b], sum_l2[b]), _mm256_mul_ps(sum_l[b], sum_l[b]));
            valid[b] = _mm256_cmp_ps(det, zero, _CMP_GT_OQ);
            this_scale[b] = _mm256_div_ps(
                _mm256_sub_ps(_mm256_mul_ps(sum_w[b], sum_xl[b]), _mm256_mul_ps(sum_x[b], sum_l[b])), det);
            this_min[b] = _mm256_div_ps(
                _mm256_sub_ps(_mm256_mul_ps(sum_l2[b], sum_x[b]), _mm256_mul_ps(sum_l[b], sum_xl[b])), det);
            // the offset may only lower values: refit the scale alone
            const __m256 positive = _mm256_cmp_ps(this_min[b], zero, _CMP_GT_OQ);
            this_min[b] = _mm256_andnot_ps(positive, this_min[b]);
            this_scale[b] = pick(this_scale[b], _mm256_div_ps(sum_xl[b], sum_l2[b]), positive);
            err[b] = zero;
        }
        for (int i = 0; i < N; ++i) {
            for (int b = 0; b < NB; ++b) {
                const int k = b * N + i;
                err[b] = _mm256_add_ps(err[b], error_term(this_scale[b], this_min[b], Laux[k], k));
            }
        }
        for (int b = 0; b < NB; ++b) {
            // degenerate lanes have already returned in the scalar code
            const __m256 better = _mm256_andnot_ps(
                degenerate[b], _mm256_and_ps(valid[b], _mm256_cmp_ps(err[b], best_err[b], _CMP_LT_OQ)));
            if (_mm256_movemask_ps(better) == 0) continue;
            for (int i = 0; i < N; ++i) L[b * N + i] = pick(L[b * N + i], Laux[b * N + i], better);
            best_err[b] = pick(best_err[b], err[b], better);
            scale[b] = pick(scale[b], this_scale[b], better);
            min[b] = pick(min[b], this_min[b], better);
        }
    }
    // Degenerate lanes: L = 0, scale 0, the clamped min (never replaced above).
    for (int b = 0; b < NB; ++b) {
        for (int i = 0; i < N; ++i) L[b * N + i] = _mm256_andnot_ps(degenerate[b], L[b * N + i]);
        the_min[b] = _mm256_xor_ps(min[b], _mm256_set1_ps(-0.0f));
        scale[b] = _mm256_andnot_ps(degenerate[b], scale[b]);
    }
}

// Signed value of largest magnitude per lane (the first one on ties) and that magnitude.
template <int N>
static inline void signed_absmax(const __m256* x, __m256* max_out, __m256* amax_out) {
    __m256 amax = _mm256_setzero_ps(), max = _mm256_setzero_ps();
    for (int i = 0; i < N; ++i) {
        const __m256 ax = abs8(x[i]);
        const __m256 larger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
        amax = pick(amax, ax, larger);
        max = pick(max, x[i], larger);
    }
    *max_out = max;
    *amax_out = amax;
}

// make_qx_quants(N, nmax, x, L, 1, w) with explicit weights (x*x for the unweighted rmse_type 1),
// L in [0, 2*nmax-1] (signed level + nmax), for NB interleaved sets of 8 groups: set b uses
// x[b*N + i], w[b*N + i] and writes L[b*N + i] and scale[b].
template <int N, int NB>
static inline void qx_search(const __m256* x, const __m256* w, int nmax, __m256* L, __m256* scale) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 max[NB], empty[NB], wx[NB * N];
    for (int b = 0; b < NB; ++b) {
        __m256 amax;
        signed_absmax<N>(x + b * N, &max[b], &amax);
        empty[b] = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);
    }
    for (int k = 0; k < NB * N; ++k) wx[k] = _mm256_mul_ps(w[k], x[k]);  // the scalar's (w*x)*l

    // sum w*x*l and sum w*l*l of the levels of trial iscale[b], in element order
    __m256 sumlx[NB], suml2[NB];
    auto fit = [&](const __m256* iscale) {
        for (int b = 0; b < NB; ++b) sumlx[b] = suml2[b] = zero;
        for (int i = 0; i < N; ++i) {
            for (int b = 0; b < NB; ++b) {
                const int k = b * N + i;
                const __m256 l = level8(_mm256_mul_ps(iscale[b], x[k]), -nmax, nmax - 1);
                sumlx[b] = _mm256_add_ps(sumlx[b], _mm256_mul_ps(wx[k], l));
                suml2[b] = _mm256_add_ps(suml2[b], _mm256_mul_ps(_mm256_mul_ps(w[k], l), l));
            }
        }
    };

    __m256 best_iscale[NB], best[NB];
    for (int b = 0; b < NB; ++b) best_iscale[b] = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max[b]);
    fit(best_iscale);
    for (int b = 0; b < NB; ++b) {
        // `suml2 ? sumlx/suml2 : 0`: a NaN suml2 counts as true
        scale[b] = _mm256_and_ps(_mm256_cmp_ps(suml2[b], zero, _CMP_NEQ_UQ), _mm256_div_ps(sumlx[b], suml2[b]));
        best[b] = _mm256_mul_ps(scale[b], sumlx[b]);
    }
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        const __m256 num = _mm256_set1_ps(-((float)nmax + 0.1f * (float)step));
        __m256 iscale[NB];
        for (int b = 0; b < NB; ++b) iscale[b] = _mm256_div_ps(num, max[b]);
        fit(iscale);
        for (int b = 0; b < NB; ++b) {
            // branch-free: which lanes win is data, a branch on it would mispredict
            const __m256 gain =
                _mm256_cmp_ps(_mm256_mul_ps(sumlx[b], sumlx[b]), _mm256_mul_ps(best[b], suml2[b]), _CMP_GT_OQ);
            const __m256 better = _mm256_and_ps(_mm256_cmp_ps(suml2[b], zero, _CMP_GT_OQ), gain);
            const __m256 sc = _mm256_div_ps(sumlx[b], suml2[b]);
            scale[b] = pick(scale[b], sc, better);
            best[b] = pick(best[b], _mm256_mul_ps(sc, sumlx[b]), better);
            best_iscale[b] = pick(best_iscale[b], iscale[b], better);
        }
    }
    // The scalar code stores the levels of each accepted trial; recomputing them once from the
    // winning iscale gives the same levels.
    const __m256i offset = _mm256_set1_epi32(nmax);
    for (int b = 0; b < NB; ++b) {
        for (int i = 0; i < N; ++i) {
            const int k = b * N + i;
            const __m256i l = clamp8(nearest_int_ps(_mm256_mul_ps(best_iscale[b], x[k])), -nmax, nmax - 1);
            L[k] = _mm256_andnot_ps(empty[b], _mm256_cvtepi32_ps(_mm256_add_epi32(l, offset)));
        }
        scale[b] = _mm256_andnot_ps(empty[b], scale[b]);
    }
}

}  // namespace dgk::avx2::kq
