// The weighted scale searches of scale_search.cpp for 8 independent groups at once, one group per
// lane. Inputs are transposed: xt[i] / wt[i] hold element i of the 8 groups. Each lane performs the
// scalar search's operations in its order (sequential sums over i, the same strict comparisons,
// the same data dependence between trials), so every lane's result has the scalar bits.
// AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include "avx2_math.h"

namespace dgk::avx2 {

static inline __m256i clamp_epi32(__m256i v, int lo, int hi) {
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

// make_qx_quants(n, nmax, x, L, rmse_type > 0, w) for 8 groups with explicit weights (pass x*x
// for the unweighted rmse_type 1). Lt[i] receives the levels L (signed level + nmax) of element i;
// returns the scales.
static inline __m256 qx_search8(int n, int nmax, const __m256* xt, const __m256* wt, __m256i* Lt) {
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    // signed value of largest magnitude, first one on ties
    __m256 amax = zero, max = zero;
    for (int i = 0; i < n; ++i) {
        const __m256 ax = _mm256_andnot_ps(sign, xt[i]);
        const __m256 gt = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
        amax = _mm256_blendv_ps(amax, ax, gt);
        max = _mm256_blendv_ps(max, xt[i], gt);
    }
    const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);

    // weighted fit of trial scale iscale: sum w*x*l and sum w*l*l, in element order
    auto fit = [&](__m256 iscale, __m256& sumlx, __m256& suml2) {
        sumlx = zero;
        suml2 = zero;
        for (int i = 0; i < n; ++i) {
            const __m256 l = _mm256_cvtepi32_ps(clamp_epi32(nearest_int_ps(_mm256_mul_ps(iscale, xt[i])), -nmax, nmax - 1));
            sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(wt[i], xt[i]), l));
            suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(wt[i], l), l));
        }
    };
    __m256 best_iscale = _mm256_div_ps(_mm256_set1_ps(static_cast<float>(-nmax)), max);
    __m256 sumlx, suml2;
    fit(best_iscale, sumlx, suml2);
    // scale = suml2 ? sumlx/suml2 : 0 (a NaN suml2 counts as nonzero)
    __m256 scale = _mm256_and_ps(_mm256_div_ps(sumlx, suml2), _mm256_cmp_ps(suml2, zero, _CMP_NEQ_UQ));
    __m256 best = _mm256_mul_ps(scale, sumlx);
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-(nmax + 0.1f * step)), max);
        fit(iscale, sumlx, suml2);
        const __m256 better = _mm256_and_ps(
            _mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
            _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        const __m256 s = _mm256_div_ps(sumlx, suml2);
        scale = _mm256_blendv_ps(scale, s, better);
        best = _mm256_blendv_ps(best, _mm256_mul_ps(s, sumlx), better);
        best_iscale = _mm256_blendv_ps(best_iscale, iscale, better);
    }
    // the winner's levels, recomputed exactly as the scalar code stores them; zero groups get L = 0
    const __m256i keep = _mm256_castps_si256(_mm256_andnot_ps(all_zero, _mm256_castsi256_ps(_mm256_set1_epi32(-1))));
    for (int i = 0; i < n; ++i) {
        const __m256i l = clamp_epi32(nearest_int_ps(_mm256_mul_ps(best_iscale, xt[i])), -nmax, nmax - 1);
        Lt[i] = _mm256_and_si256(_mm256_add_epi32(l, _mm256_set1_epi32(nmax)), keep);
    }
    return _mm256_andnot_ps(all_zero, scale);
}

// make_qkx2_quants (qkx3 = false) / make_qkx3_quants (qkx3 = true) for 8 groups with explicit
// weights (pass x*x for qkx3's unweighted form); n <= 256. Lt[i] receives the levels 0..nmax of element i,
// *the_min the (non-negative) -min; returns the scales. Later trials start from the offset of the
// best trial so far, as in ggml, so the trials are run in order, each across the 8 groups.
static inline __m256 qkx_search8(int n, int nmax, const __m256* xt, const __m256* wt, __m256i* Lt,
                                 __m256* the_min, float rmin, float rdelta, int nstep, bool use_mad, bool qkx3) {
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    __m256 min = xt[0], max = xt[0];
    __m256 sum_w = wt[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, xt[0]);
    for (int i = 1; i < n; ++i) {
        min = _mm256_blendv_ps(min, xt[i], _mm256_cmp_ps(xt[i], min, _CMP_LT_OQ));
        max = _mm256_blendv_ps(max, xt[i], _mm256_cmp_ps(xt[i], max, _CMP_GT_OQ));
        sum_w = _mm256_add_ps(sum_w, wt[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(wt[i], xt[i]));
    }
    min = _mm256_blendv_ps(min, zero, _mm256_cmp_ps(min, zero, _CMP_GT_OQ));
    const __m256 flat = _mm256_cmp_ps(max, min, qkx3 ? _CMP_LE_OQ : _CMP_EQ_OQ);
    const __m256 start_min = min;

    // levels of element i for (iscale, offset), as float
    auto level = [&](__m256 iscale, __m256 offset, int i) {
        return _mm256_cvtepi32_ps(clamp_epi32(nearest_int_ps(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], offset))), 0, nmax));
    };
    // weighted error of levels l[] under (scale, offset): sum w*|d| or w*d*d, d = scale*l + offset - x
    auto error = [&](const __m256* l, __m256 scale, __m256 offset) {
        __m256 err = zero;
        for (int i = 0; i < n; ++i) {
            __m256 d = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, l[i]), offset), xt[i]);
            d = use_mad ? _mm256_andnot_ps(sign, d) : _mm256_mul_ps(d, d);
            err = _mm256_add_ps(err, _mm256_mul_ps(wt[i], d));
        }
        return err;
    };

    __m256 laux[256];
    const __m256 range0 = _mm256_sub_ps(max, min);
    __m256 best_iscale = _mm256_div_ps(_mm256_set1_ps(static_cast<float>(nmax)), range0);
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), best_iscale);
    for (int i = 0; i < n; ++i) laux[i] = level(best_iscale, min, i);
    __m256 best_err = error(laux, scale, min);
    __m256 best_offset = min;  // the offset the best levels were computed from
    for (int step = 0; nstep >= 1 && step <= nstep; ++step) {
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps(rmin + rdelta * step + nmax), _mm256_sub_ps(max, min));
        __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < n; ++i) {
            laux[i] = level(iscale, min, i);
            const __m256 wl = _mm256_mul_ps(wt[i], laux[i]);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, laux[i]));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, xt[i]));
        }
        const __m256 det = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        __m256 this_scale = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), det);
        __m256 this_min = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), det);
        const __m256 positive = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);  // the offset may only lower values
        this_min = _mm256_blendv_ps(this_min, zero, positive);
        this_scale = _mm256_blendv_ps(this_scale, _mm256_div_ps(sum_xl, sum_l2), positive);
        const __m256 err = error(laux, this_scale, this_min);
        const __m256 better = _mm256_and_ps(_mm256_cmp_ps(det, zero, _CMP_GT_OQ), _mm256_cmp_ps(err, best_err, _CMP_LT_OQ));
        best_err = _mm256_blendv_ps(best_err, err, better);
        scale = _mm256_blendv_ps(scale, this_scale, better);
        best_iscale = _mm256_blendv_ps(best_iscale, iscale, better);
        best_offset = _mm256_blendv_ps(best_offset, min, better);
        min = _mm256_blendv_ps(min, this_min, better);
    }
    const __m256i keep = _mm256_castps_si256(_mm256_andnot_ps(flat, _mm256_castsi256_ps(_mm256_set1_epi32(-1))));
    for (int i = 0; i < n; ++i)
        Lt[i] = _mm256_and_si256(_mm256_cvttps_epi32(level(best_iscale, best_offset, i)), keep);
    *the_min = _mm256_xor_ps(_mm256_blendv_ps(min, start_min, flat), sign);
    return _mm256_andnot_ps(flat, scale);
}

}  // namespace dgk::avx2
