// IQ2_XXS encode (ggml's quantize_row_iq2_xxs_impl): per 32 weights, four 8-element points of the
// 256-entry lattice, 4x7 sign bits and a 4-bit scale; an importance matrix is required.
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

using iq2::GridIndex;

constexpr int kMaxQ = 3;            // levels 0..2 -> odd values 1, 3, 5
constexpr float kZeroGroup = 1e-15f;

// Scale of one 32-weight group; writes the 4 grid indices and the 28 sign bits, or returns 0
// (and leaves them zero) for a group too small to encode.
float encode_group(const GridIndex& gi, const float* xb, const float* weight, uint32_t* idx_word,
                   uint32_t* sign_word) {
    float xval[32], waux[32];
    int8_t L[32], Laux[32];
    uint8_t signs[4];
    for (int i = 0; i < 32; ++i) waux[i] = sqrtf(weight[i]);
    for (int k = 0; k < 4; ++k) signs[k] = iq2::fold_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);

    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];  // ggml's MAX, operand order kept
    if (max < kZeroGroup) return 0;

    // Starting scale from the positive-quant search (L in 0..4 here is only a scratch result).
    float scale = make_qp_quants(32, kMaxQ + 1, xval, reinterpret_cast<uint8_t*>(L), weight);
    const float eff_max = scale * kMaxQ;
    if (eff_max <= 0) return 0;

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
    if (scale < 0) {  // stored scales are unsigned: flip the signs instead
        scale = -scale;
        for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
    }
    uint32_t iw = 0, sw = 0;
    for (int k = 0; k < 4; ++k) {
        const int g = gi.find(iq2::pack_key(L + 8 * k));
        // Every L here came from a grid point; the guard only keeps a broken invariant in bounds.
        iw |= static_cast<uint32_t>(g < 0 ? 0 : g) << (8 * k);
        sw |= static_cast<uint32_t>(signs[k]) << (7 * k);
    }
    *idx_word = iw;
    *sign_word = sw;
    return scale;
}

void encode_superblock(const GridIndex& gi, const float* xbl, const float* qwbl, block_iq2_xxs* y) {
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = sumx2 / QK_K;

    uint32_t words[2 * (QK_K / 32)] = {0};  // per group: grid indices, then signs | scale << 28
    float scales[QK_K / 32];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float* xb = xbl + 32 * ib;
        const float* qw = qwbl + 32 * ib;
        float weight[32];
        for (int i = 0; i < 32; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        scales[ib] = encode_group(gi, xb, weight, &words[2 * ib], &words[2 * ib + 1]);
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
    }

    y->d = f32_to_fp16(0.f);
    if (!max_scale) {
        std::memset(y->qs, 0, sizeof(y->qs));
        return;
    }
    const float d = max_scale / 31;
    y->d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 15 ? 15 : l;
        words[2 * ib + 1] |= static_cast<uint32_t>(l) << 28;
    }
    std::memcpy(y->qs, words, sizeof(y->qs));
}

}  // namespace

void encode_iq2_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XXS cannot be encoded without an importance matrix");
    const GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ2_XXS);
    auto* y = static_cast<block_iq2_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) encode_superblock(gi, x + b * QK_K, imatrix + b * QK_K, y + b);
}

}  // namespace dgk::ref
