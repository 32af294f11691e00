// The scalar scale search of an IQ2_XXS group (ggml's quantize_row_iq2_xxs_impl), host+device: the CPU
// reference (encode.cpp, over iq2::GridIndex) and the CUDA module (over its lattice view) run it; the
// AVX2 encoder has its own (avx2_encode.cpp).
#pragma once
#include <cstdint>

#include "../common/iq2_grid_index.h"
#include "../common/scale_search.h"
#include "pack.h"

namespace dgk::iq2xxs {
namespace {

// The scale search of one group's magnitudes xval (max > 0): the positive-quant starting scale,
// trial inverse scales around it, then every point requantized at the best scale and the scale
// refitted. Writes the 4 grid points; false when the starting scale is unusable.
template <class Grid>
DGK_HD bool search_group(const Grid& g, const float* xval, const float* weight, const float* waux, float max,
                         float* scale_out, int* points) {
    (void)max;  // make_qp_quants finds it again
    int8_t L[32], Laux[32];
    // Starting scale from the positive-quant search (L in 0..4 here is only a scratch result).
    float scale = ref::make_qp_quants(32, kMaxQ + 1, xval, reinterpret_cast<uint8_t*>(L), weight);
    const float eff_max = scale * kMaxQ;
    if (eff_max <= 0) return false;

    // Trial inverse scales around 5/eff_max; off-grid points take their best neighbour.
    float best = 0;
    for (int is = -6; is <= 6; ++is) {
        const float id = (2 * kMaxQ - 1 + is * 0.1f) / eff_max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 4; ++k) iq2::iq2_snap(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
        float sumqx, sumq2;
        iq2::iq2_fit_sums(32, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < 32; ++i) L[i] = Laux[i];
        }
    }
    // Requantize every point at the chosen scale, then refit the scale.
    if (scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 4; ++k) iq2::iq2_snap(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
        float sumqx, sumq2;
        iq2::iq2_fit_sums(32, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    for (int k = 0; k < 4; ++k) points[k] = iq2::iq2_point(g, L + 8 * k);
    *scale_out = scale;
    return true;
}

}  // namespace
}  // namespace dgk::iq2xxs
