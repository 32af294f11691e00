// Scale searches shared by the legacy, K and IQ encoders, on the CPU and (as __host__ __device__
// functions, DGK_HD) in the CUDA module. Each follows the ggml helper of the same name operation for
// operation (same loop order, same strict comparisons), because the chosen scale decides the encoded
// bytes. Every float expression keeps the operand order of ggml's helpers, e.g. a weighted sum term is
// (w*x)*l, never w*(x*l): with no FMA contraction (-ffp-contract=off, nvcc --fmad=false) that order
// decides the chosen scale. Only device-callable math (fabsf, sqrtf) and plain loops, no std:: calls.
// The helpers are `static` (DGK_HD): each translation unit, AVX2 ones included, keeps its own copy;
// the searches themselves are compiled once on the CPU (see the end of this file).
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/fp.h"

namespace dgk::ref {

DGK_HD int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

constexpr float kGroupMaxEps = 1e-15f;  // below this a group counts as all zero

// Signed value of largest magnitude (the first one on ties) and that magnitude.
DGK_HD void signed_absmax(int n, const float* x, float* max_out, float* amax_out) {
    float max = 0.f, amax = 0.f;
    for (int i = 0; i < n; ++i) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    *max_out = max;
    *amax_out = amax;
}

// Importance weights qw*sqrt(sigma2 + x^2) of the n elements of a sub-block (the K-quant imatrix
// encoders); returns their sum, added in index order after all are computed.
DGK_HD float imatrix_weights_sum(const float* xs, const float* qw, float sigma2, int n, float* w) {
    for (int i = 0; i < n; ++i) w[i] = qw[i] * sqrtf(sigma2 + xs[i] * xs[i]);
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += w[i];
    return s;
}

// The search bodies, host+device.
namespace hd {

// Element weight of make_qx_quants when no explicit weights are given.
DGK_HD float qx_weight(int rmse_type, float x) {
    switch (rmse_type) {
        case 1: return x * x;
        case 2: return 1.0f;
        case 3: return fabsf(x);
        default: return sqrtf(fabsf(x));
    }
}

// Weight of element i in make_qx_quants: the given weights, else the rmse_type's.
DGK_HD float qx_weight_at(const float* qw, int rmse_type, const float* x, int i) {
    return qw ? qw[i] : qx_weight(rmse_type, x[i]);
}

// Weight of element i in make_qkx{2,3}_quants: the given weights, else x^2 (qkx3 without weights).
DGK_HD float given_or_x2(const float* weights, const float* x, int i) { return weights ? weights[i] : x[i] * x[i]; }

// Shared body of make_qkx2_quants and make_qkx3_quants; a null `weights` means x^2 weights (qkx3).
DGK_HD float asymmetric_search(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                               uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad, bool qkx3) {
    float min = x[0], max = x[0];
    float sum_w = given_or_x2(weights, x, 0);
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float w = given_or_x2(weights, x, i);
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    // ggml's qkx2 tests max == min and qkx3 max <= min; for finite input they agree (max >= min).
    if (qkx3 ? (max <= min) : (max == min)) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_err = 0;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(clampi(nearest_int(iscale * (x[i] - min)), 0, nmax));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_err += given_or_x2(weights, x, i) * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int step = 0; step <= nstep; ++step) {
        iscale = (rmin + rdelta * step + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = static_cast<uint8_t>(l);
            const float w = given_or_x2(weights, x, i);
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {  // the offset may only lower values
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; ++i) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            diff = use_mad ? fabsf(diff) : diff * diff;
            err += given_or_x2(weights, x, i) * diff;
        }
        if (err < best_err) {
            for (int i = 0; i < n; ++i) L[i] = Laux[i];
            best_err = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

// Symmetric search: L[i] in [-nmax, nmax-1] stored as L+nmax; returns the scale.
// rmse_type as ggml: 0 plain, 1..4 weightings (negative: return after the first fit); qw optional weights.
DGK_HD float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw) {
    float max, amax;
    signed_absmax(n, x, &max, &amax);
    if (amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    if (rmse_type == 0) {
        for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
        return 1 / iscale;
    }
    const bool return_early = rmse_type < 0;
    if (return_early) rmse_type = -rmse_type;

    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l + nmax);
        const float w = qx_weight_at(qw, rmse_type, x, i);
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    if (return_early) return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0) continue;
        iscale = -(nmax + 0.1f * step) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = qx_weight_at(qw, rmse_type, x, i);
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i)
                L[i] = static_cast<int8_t>(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Q3_K's symmetric search (x^2 weights, refinement passes when do_rmse).
DGK_HD float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse) {
    float max, amax;
    signed_absmax(n, x, &max, &amax);
    if (amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    const float iscale = -nmax / max;
    if (!do_rmse) {
        for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1) + nmax);
        return 1 / iscale;
    }
    // L holds signed levels during the refinement, offset by nmax at the end.
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    // Coordinate descent: move one level at a time while the fit (sumlx^2/suml2) improves.
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            const int new_l = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (new_l == L[i]) continue;
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<int8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric (scale, min) searches: L in [0, nmax]; *the_min receives -min (>= 0).
DGK_HD float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                              float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    return asymmetric_search(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad, false);
}

DGK_HD float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                              float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    return asymmetric_search(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad, true);
}

// Positive-only quantization of scales/mins with weights (K-quants with an imatrix, IQ2_XXS start).
DGK_HD float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
    float max = 0;
    for (int i = 0; i < n; ++i) max = max > x[i] ? max : x[i];
    if (max < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    // Pick the best of 9 trial scales by weighted squared error. The first trial's levels are the
    // uint8-wrapped values ggml stores, so negative inputs are scored exactly as it scores them.
    float iscale = nmax / max;
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; ++i) {
        const uint8_t l = static_cast<uint8_t>(nearest_int(iscale * x[i]));
        const float diff = x[i] - scale * l;
        best_mse += quant_weights[i] * diff * diff;
    }
    for (int step = -4; step <= 4; ++step) {
        if (step == 0) continue;
        const float iscale_t = (0.1f * step + nmax) / max;
        const float scale_t = 1 / iscale_t;
        float mse = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale_t * x[i]);
            if (l > nmax) l = nmax;
            const float diff = x[i] - scale_t * l;
            mse += quant_weights[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_t;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        if (l > nmax) l = nmax;
        L[i] = static_cast<uint8_t>(l);
        const float w = quant_weights[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = quant_weights[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (!(slx > 0 && sl2 > 0)) continue;
            int new_l = nearest_int(x[i] * sl2 / slx);
            if (new_l > nmax) new_l = nmax;
            if (new_l == L[i]) continue;
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<uint8_t>(new_l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (!changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// The 8 sub-block (scale, min) searches of a Q4_K / Q5_K super-block, levels 0..nmax into L[256]
// (ggml's quantize_row_q{4,5}_K_ref): weights rms + |x| per 32 weights, make_qkx2_quants with
// (rmin, rdelta, nstep).
DGK_HD void search_scale_min_plain(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                                   float* scales, float* mins) {
    uint8_t Laux[32];
    float w[32];
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        // Weights: the sub-block's rms plus |x|, so large values matter more but none is ignored.
        float sum_x2 = 0.0f;
        for (int i = 0; i < 32; ++i) sum_x2 += xs[i] * xs[i];
        const float av_x = sqrtf(sum_x2 / 32.f);
        for (int i = 0; i < 32; ++i) w[i] = av_x + fabsf(xs[i]);
        scales[j] = make_qkx2_quants(32, nmax, xs, w, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
    }
}

// The same with an importance matrix (quantize_row_q{4,5}_K_impl): weights qw * sqrt(sigma2 + x^2),
// make_qkx3_quants(-0.9, 0.05, 36); sw[j] receives sub-block j's weight sum.
DGK_HD void search_scale_min_imatrix(const float* x, const float* qw, int nmax, uint8_t* L, float* scales,
                                     float* mins, float* sw) {
    uint8_t Laux[32];
    float w[32];
    float sum_x2 = 0.0f;
    for (int i = 0; i < 256; ++i) sum_x2 += x[i] * x[i];
    const float sigma2 = 2 * sum_x2 / 256.f;
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        sw[j] = imatrix_weights_sum(xs, qw + 32 * j, sigma2, 32, w);
        scales[j] = make_qkx3_quants(32, nmax, xs, w, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
}

}  // namespace hd

// The bodies above, under their public names. The CUDA module calls them directly (inlined into its
// per-block functions); on the CPU each is compiled once, out of line, in scale_search.cpp: the long
// search loops compile better there than inlined into every caller (measured: the legacy imatrix
// encoders ran ~25% slower inlined), and the AVX2 files link to that scalar copy as before.
#if defined(__CUDACC__)
using hd::make_q3_quants;
using hd::make_qkx2_quants;
using hd::make_qkx3_quants;
using hd::make_qp_quants;
using hd::make_qx_quants;
using hd::search_scale_min_imatrix;
using hd::search_scale_min_plain;
#else
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);
void search_scale_min_plain(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                            float* scales, float* mins);
void search_scale_min_imatrix(const float* x, const float* qw, int nmax, uint8_t* L, float* scales, float* mins,
                              float* sw);
#endif

}  // namespace dgk::ref
