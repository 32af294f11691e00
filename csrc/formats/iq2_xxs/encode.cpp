// IQ2_XXS encode (ggml's quantize_row_iq2_xxs_impl): per 32 weights, four 8-element points of the
// 256-entry lattice, 4x7 sign bits and a 4-bit scale; an importance matrix is required.
#include <cstring>
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "../common/scale_search.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

using iq2::GridIndex;
using iq2xxs::kMaxQ;

// The scale search of one group's magnitudes xval (max > 0): the positive-quant starting scale,
// trial inverse scales around it, then every point requantized at the best scale and the scale
// refitted. Writes the 4 grid points; false when the starting scale is unusable.
bool search_group(const GridIndex& gi, const float* xval, const float* weight, const float* waux, float max,
                  float* scale_out, int* points) {
    (void)max;  // make_qp_quants finds it again
    int8_t L[32], Laux[32];
    // Starting scale from the positive-quant search (L in 0..4 here is only a scratch result).
    float scale = make_qp_quants(32, kMaxQ + 1, xval, reinterpret_cast<uint8_t*>(L), weight);
    const float eff_max = scale * kMaxQ;
    if (eff_max <= 0) return false;

    // Trial inverse scales around 5/eff_max; off-grid points take their best neighbour.
    float best = 0;
    for (int is = -6; is <= 6; ++is) {
        const float id = (2 * kMaxQ - 1 + is * 0.1f) / eff_max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 4; ++k) {
            iq2::iq2_levels(xval + 8 * k, id, Laux + 8 * k);
            const uint16_t key = iq2::pack_key(Laux + 8 * k);
            if (gi.find(key) < 0)
                iq2::iq2_best_neighbour(gi, key, xval + 8 * k, waux + 8 * k, this_scale, Laux + 8 * k);
        }
        float sumqx, sumq2;
        iq2::iq2_fit_sums(32, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::memcpy(L, Laux, 32);
        }
    }
    // Requantize every point at the chosen scale, then refit the scale.
    if (scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 4; ++k) {
            int8_t* Lk = L + 8 * k;
            iq2::iq2_levels(xval + 8 * k, id, Lk);
            const uint16_t key = iq2::pack_key(Lk);
            if (gi.find(key) < 0) iq2::iq2_best_neighbour(gi, key, xval + 8 * k, waux + 8 * k, scale, Lk);
        }
        float sumqx, sumq2;
        iq2::iq2_fit_sums(32, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    for (int k = 0; k < 4; ++k) {
        const int g = gi.find(iq2::pack_key(L + 8 * k));
        // Every L here came from a grid point; the guard only keeps a broken invariant in bounds.
        points[k] = g < 0 ? 0 : g;
    }
    *scale_out = scale;
    return true;
}

}  // namespace

void encode_iq2_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XXS cannot be encoded without an importance matrix");
    const GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ2_XXS);
    auto search = [&gi](const float* xval, const float* w, const float* waux, float max, float* scale, int* points) {
        return search_group(gi, xval, w, waux, max, scale, points);
    };
    auto* y = static_cast<block_iq2_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) iq2xxs::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, search);
}

}  // namespace dgk::ref
