// The scale searches of scale_search.cpp for 8 sub-blocks at once, one sub-block per lane.
// Inputs are "lane-major": xt[i] / wt[i] hold element i of the 8 sub-blocks (see load_lanes).
// Each lane performs its scalar search's float operations in the same order (sums over i in index
// order, (w*l)*x products, the same strict comparisons), and the branches of the scalar code become
// per-lane masks, so every lane ends with the scalar result bits. Levels are returned as floats
// (small integers, exact). AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include "avx2_kquant.h"

namespace dgk::avx2::kq {

// Asymmetric (scale, min) search: make_qkx2_quants (degenerate when max == min) or
// make_qkx3_quants (max <= min), L in [0, nmax]. Requires nstep >= 1 (every K-quant caller).
// Writes the levels to L, -min to *the_min, returns the scale.
template <int N>
static inline __m256 asym_search(const __m256* x, const __m256* w, int nmax, float rmin, float rdelta, int nstep,
                                 bool use_mad, bool qkx3, __m256* L, __m256* the_min) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 min = x[0], max = x[0];
    __m256 sum_w = w[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, x[0]);
    for (int i = 1; i < N; ++i) {
        min = _mm256_min_ps(x[i], min);  // x < min ? x : min, as the scalar update
        max = _mm256_max_ps(x[i], max);
        sum_w = _mm256_add_ps(sum_w, w[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(w[i], x[i]));
    }
    min = _mm256_min_ps(zero, min);  // min > 0 ? 0 : min
    const __m256 degenerate = _mm256_cmp_ps(max, min, qkx3 ? _CMP_LE_OQ : _CMP_EQ_OQ);

    auto error_term = [&](__m256 scale, __m256 mn, __m256 l, int i) {
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, l), mn), x[i]);
        diff = use_mad ? abs8(diff) : _mm256_mul_ps(diff, diff);
        return _mm256_mul_ps(w[i], diff);
    };

    const __m256 iscale0 = _mm256_div_ps(_mm256_set1_ps((float)nmax), _mm256_sub_ps(max, min));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale0);
    __m256 best_err = zero;
    for (int i = 0; i < N; ++i) {
        L[i] = level8(_mm256_mul_ps(iscale0, _mm256_sub_ps(x[i], min)), 0, nmax);
        best_err = _mm256_add_ps(best_err, error_term(scale, min, L[i], i));
    }

    __m256 Laux[N];
    for (int step = 0; step <= nstep; ++step) {
        // min is the best fit so far: an accepted trial moves the grid of the next ones
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(rmin + rdelta * (float)step + (float)nmax), _mm256_sub_ps(max, min));
        __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < N; ++i) {
            const __m256 l = level8(_mm256_mul_ps(iscale, _mm256_sub_ps(x[i], min)), 0, nmax);
            Laux[i] = l;
            const __m256 wl = _mm256_mul_ps(w[i], l);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, l));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, x[i]));
        }
        const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        const __m256 valid = _mm256_cmp_ps(det, zero, _CMP_GT_OQ);
        if (_mm256_movemask_ps(valid) == 0) continue;
        __m256 this_scale = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), det);
        __m256 this_min = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), det);
        const __m256 positive = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
        this_min = _mm256_andnot_ps(positive, this_min);
        this_scale = pick(this_scale, _mm256_div_ps(sum_xl, sum_l2), positive);
        __m256 err = zero;
        for (int i = 0; i < N; ++i) err = _mm256_add_ps(err, error_term(this_scale, this_min, Laux[i], i));
        // degenerate lanes have already returned in the scalar code
        const __m256 better = _mm256_andnot_ps(degenerate, _mm256_and_ps(valid, _mm256_cmp_ps(err, best_err, _CMP_LT_OQ)));
        if (_mm256_movemask_ps(better) == 0) continue;
        for (int i = 0; i < N; ++i) L[i] = pick(L[i], Laux[i], better);
        best_err = pick(best_err, err, better);
        scale = pick(scale, this_scale, better);
        min = pick(min, this_min, better);
    }
    // Degenerate lanes: L = 0, scale 0, the clamped min (never replaced above).
    for (int i = 0; i < N; ++i) L[i] = _mm256_andnot_ps(degenerate, L[i]);
    *the_min = _mm256_xor_ps(min, _mm256_set1_ps(-0.0f));
    return _mm256_andnot_ps(degenerate, scale);
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

// make_qx_quants(N, nmax, x, L, 1, w) with explicit weights (x*x for the unweighted rmse_type 1):
// L in [0, 2*nmax-1] (signed level + nmax); returns the scale.
template <int N>
static inline __m256 qx_search(const __m256* x, const __m256* w, int nmax, __m256* L) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 max, amax;
    signed_absmax<N>(x, &max, &amax);
    const __m256 empty = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);

    auto fit = [&](__m256 iscale, __m256* sumlx, __m256* suml2) {
        __m256 slx = zero, sl2 = zero;
        for (int i = 0; i < N; ++i) {
            const __m256 l = level8(_mm256_mul_ps(iscale, x[i]), -nmax, nmax - 1);
            slx = _mm256_add_ps(slx, _mm256_mul_ps(_mm256_mul_ps(w[i], x[i]), l));
            sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(w[i], l), l));
        }
        *sumlx = slx;
        *suml2 = sl2;
    };

    __m256 best_iscale = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max);
    __m256 sumlx, suml2;
    fit(best_iscale, &sumlx, &suml2);
    // `suml2 ? sumlx/suml2 : 0`: a NaN suml2 counts as true
    __m256 scale = _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_NEQ_UQ), _mm256_div_ps(sumlx, suml2));
    __m256 best = _mm256_mul_ps(scale, sumlx);
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-((float)nmax + 0.1f * (float)step)), max);
        fit(iscale, &sumlx, &suml2);
        const __m256 better = _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
                                            _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        if (_mm256_movemask_ps(better) == 0) continue;
        const __m256 s = _mm256_div_ps(sumlx, suml2);
        scale = pick(scale, s, better);
        best = pick(best, _mm256_mul_ps(s, sumlx), better);
        best_iscale = pick(best_iscale, iscale, better);
    }
    // The scalar code stores the levels of each accepted trial; recomputing them once from the
    // winning iscale gives the same levels.
    const __m256i offset = _mm256_set1_epi32(nmax);
    for (int i = 0; i < N; ++i) {
        const __m256i l = _mm256_add_epi32(clamp8(nearest_int8(_mm256_mul_ps(best_iscale, x[i])), -nmax, nmax - 1), offset);
        L[i] = _mm256_andnot_ps(empty, _mm256_cvtepi32_ps(l));
    }
    return _mm256_andnot_ps(empty, scale);
}

// make_q3_quants(N, nmax, x, L, do_rmse = true): x*x weights, then coordinate descent that moves
// one level at a time while sumlx^2/suml2 grows. L in [0, 2*nmax-1]; returns the scale.
template <int N>
static inline __m256 q3_search(const __m256* x, int nmax, __m256* L) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 max, amax;
    signed_absmax<N>(x, &max, &amax);
    const __m256 empty = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);
    const __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max);

    __m256 w[N], wx[N];
    __m256 sumlx = zero, suml2 = zero;
    for (int i = 0; i < N; ++i) {
        L[i] = level8(_mm256_mul_ps(iscale, x[i]), -nmax, nmax - 1);  // signed while refining
        w[i] = _mm256_mul_ps(x[i], x[i]);
        wx[i] = _mm256_mul_ps(w[i], x[i]);
        sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(wx[i], L[i]));
        suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], L[i]), L[i]));
    }
    // A lane without a change in a pass would change nothing in later passes either, so running
    // the passes while any lane changes ends every lane where its scalar loop ends.
    for (int pass = 0; pass < 5; ++pass) {
        __m256 changed = zero;
        for (int i = 0; i < N; ++i) {
            __m256 slx = _mm256_sub_ps(sumlx, _mm256_mul_ps(wx[i], L[i]));
            __m256 ok = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);
            __m256 sl2 = _mm256_sub_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], L[i]), L[i]));
            const __m256 new_l = level8(_mm256_div_ps(_mm256_mul_ps(x[i], sl2), slx), -nmax, nmax - 1);
            ok = _mm256_and_ps(ok, _mm256_cmp_ps(new_l, L[i], _CMP_NEQ_UQ));
            slx = _mm256_add_ps(slx, _mm256_mul_ps(wx[i], new_l));
            sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(w[i], new_l), new_l));
            const __m256 gain = _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2),
                                              _mm256_mul_ps(_mm256_mul_ps(sumlx, sumlx), sl2), _CMP_GT_OQ);
            ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(sl2, zero, _CMP_GT_OQ), gain));
            L[i] = pick(L[i], new_l, ok);
            sumlx = pick(sumlx, slx, ok);
            suml2 = pick(suml2, sl2, ok);
            changed = _mm256_or_ps(changed, ok);
        }
        if (_mm256_movemask_ps(changed) == 0) break;
    }
    const __m256 offset = _mm256_set1_ps((float)nmax);
    for (int i = 0; i < N; ++i) L[i] = _mm256_andnot_ps(empty, _mm256_add_ps(L[i], offset));
    const __m256 scale = _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ), _mm256_div_ps(sumlx, suml2));
    return _mm256_andnot_ps(empty, scale);
}

}  // namespace dgk::avx2::kq
