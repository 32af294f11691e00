// The per-32-weight scale and grid-point search shared by the IQ3_XXS and IQ3_S encoders (the core
// of ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl), host+device (DGK_HD). The grid
// index is read through `Grid`: the CPU passes its Iq3GridIndex, the CUDA module a view of device
// copies with the same member names (level, grid_of_key, nb_begin, nb, nb_value).
//
// Operation order follows ggml exactly (nearest_int(0.5f*(id*x - 1)), (w*x)*q sums in index
// order, strict comparisons): the accepted scale and hence every byte depend on it.
#pragma once
#include <cfloat>
#include <cstdint>

#include "dgk/fp.h"
#include "iq3_grid_index.h"

namespace dgk::ref {

struct Iq3SearchRule {
    int trials;         // scales tried: id = (15 + 0.2*is)/max for is = -trials..trials
    bool requant_all;   // IQ3_S: after the search, requantize every group when any is off-grid
                        // (and a group counts as off-grid until a trial is accepted);
                        // IQ3_XXS: requantize only the off-grid groups.
};

constexpr int kIq3MaxQ = 8;  // levels 0..7, values 1, 3, ..., 15

// Levels of four weights at inverse scale id, packed as a grid key.
DGK_HD int iq3_quad_key(const float* xval, float id, int8_t* lv) {
    int key = 0;
    for (int i = 0; i < 4; ++i) {
        int l = nearest_int(0.5f * (id * xval[i] - 1));
        l = l < 0 ? 0 : (l > kIq3MaxQ - 1 ? kIq3MaxQ - 1 : l);
        lv[i] = (int8_t)l;
        key |= l << (3 * i);
    }
    return key;
}

// The listed neighbour of an off-grid key with the smallest sum waux*(scale*q - x)^2 (first on
// ties). When no distance is below FLT_MAX (inf/NaN weights: x*x overflowing for |x| > ~1.8e19,
// or a negative imatrix) ggml's GGML_ASSERT aborts; we keep the first (nearest) candidate so that
// no finite input can crash the encoder.
template <class Grid>
DGK_HD int iq3_best_neighbour(const Grid& g, int key, const float* xval, const float* waux, float scale) {
    const uint32_t begin = g.nb_begin[key];
    const int n = (int)(g.nb_begin[key + 1] - begin);
    const float* q0 = &g.nb_value[4 * begin];
    const float* q1 = q0 + n;
    const float* q2 = q1 + n;
    const float* q3 = q2 + n;
    const float x0 = xval[0], x1 = xval[1], x2 = xval[2], x3 = xval[3];
    const float w0 = waux[0], w1 = waux[1], w2 = waux[2], w3 = waux[3];
    float d2[Iq3GridIndex::kMaxNeighbours];
    for (int c = 0; c < n; ++c) {  // each candidate's sum in coordinate order, as ggml
        const float e0 = scale * q0[c] - x0, e1 = scale * q1[c] - x1;
        const float e2 = scale * q2[c] - x2, e3 = scale * q3[c] - x3;
        float s = 0;
        s += w0 * e0 * e0;
        s += w1 * e1 * e1;
        s += w2 * e2 * e2;
        s += w3 * e3 * e3;
        d2[c] = s;
    }
    int best = 0;
    float best_d2 = FLT_MAX;
    for (int c = 0; c < n; ++c) {
        if (d2[c] < best_d2) {
            best_d2 = d2[c];
            best = c;
        }
    }
    return g.nb[begin + best];
}

// Snap four weights to the grid at inverse scale id; off-grid points take the best neighbour
// measured at `scale`. Returns whether the rounded point was on the grid.
template <class Grid>
DGK_HD bool iq3_snap_quad(const Grid& g, const float* xval, const float* waux, float id, float scale, int8_t* lv) {
    const int key = iq3_quad_key(xval, id, lv);
    if (g.grid_of_key[key] >= 0) return true;
    const int j = iq3_best_neighbour(g, key, xval, waux, scale);
    for (int i = 0; i < 4; ++i) lv[i] = (int8_t)g.level[4 * j + i];
    return false;
}

// Weighted sums of the least-squares scale for levels lv: sum w*x*q and sum w*q*q, q = 2l+1.
DGK_HD void iq3_fit_sums(const float* xval, const float* weight, const int8_t* lv, float* sumqx, float* sumq2) {
    float sx = 0, s2 = 0;
    for (int i = 0; i < 32; ++i) {
        const float w = weight[i];
        const float q = (float)(2 * lv[i] + 1);
        sx += w * xval[i] * q;
        s2 += w * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}

// xval: |x| of the 32 weights (one may be negated by the IQ3_XXS sign-parity fix), weight and
// waux = sqrtf(weight) their error weights, max the largest xval (> 0). Writes the eight grid
// indices (one per 4 weights) and returns the group scale (may be negative or non-finite, as
// in ggml; the caller handles it).
template <class Grid>
DGK_HD float iq3_search_group(const Grid& g, const Iq3SearchRule& rule, const float* xval, const float* weight,
                              const float* waux, float max, uint16_t grid_index[8]) {
    int8_t best_lv[32] = {0};  // all-zero levels: key 0, a point of both grids
    bool on_grid[8];
    for (int k = 0; k < 8; ++k) on_grid[k] = !rule.requant_all;
    float scale = max / (2 * kIq3MaxQ - 1);
    float best = 0;

    int8_t lv[32];
    bool trial_on_grid[8];
    for (int is = -rule.trials; is <= rule.trials; ++is) {
        const float id = ((float)(2 * kIq3MaxQ - 1) + (float)is * 0.2f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 8; ++k)
            trial_on_grid[k] = iq3_snap_quad(g, xval + 4 * k, waux + 4 * k, id, this_scale, lv + 4 * k);
        float sumqx, sumq2;
        iq3_fit_sums(xval, weight, lv, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < 32; ++i) best_lv[i] = lv[i];
            for (int k = 0; k < 8; ++k) on_grid[k] = trial_on_grid[k];
        }
    }

    bool any_off = false;
    for (int k = 0; k < 8; ++k) any_off |= !on_grid[k];
    if (any_off && scale > 0) {
        // Round again with the fitted scale, then refit it.
        const float id = 1 / scale;
        for (int k = 0; k < 8; ++k) {
            if (on_grid[k] && !rule.requant_all) continue;
            iq3_snap_quad(g, xval + 4 * k, waux + 4 * k, id, scale, best_lv + 4 * k);
        }
        float sumqx, sumq2;
        iq3_fit_sums(xval, weight, best_lv, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }

    for (int k = 0; k < 8; ++k) {
        int key = 0;
        for (int i = 0; i < 4; ++i) key |= best_lv[4 * k + i] << (3 * i);
        const int j = g.grid_of_key[key];
        grid_index[k] = (uint16_t)(j < 0 ? 0 : j);  // always on grid by construction
    }
    return scale;
}

}  // namespace dgk::ref
