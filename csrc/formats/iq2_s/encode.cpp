// IQ2_S encode (ggml's quantize_row_iq2_s_impl): per 16 weights, two points of the 1024-entry
// lattice (8 low index bits in qs, 2 high bits in qh), 8 explicit sign bits each, a 4-bit scale.
#include <cmath>
#include <cstring>

#include "../common/iq2_grid_index.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

using iq2::GridIndex;

constexpr float kZeroGroup = 1e-8f;

void encode_superblock(const GridIndex& gi, const float* xbl, const float* qwbl, block_iq2_s* y) {
    std::memset(y, 0, sizeof(*y));
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    uint8_t* signs_out = y->qs + QK_K / 8;
    float scales[QK_K / 16];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        float weight[16], waux[16], xval[16];
        if (qwbl) {
            const float* qw = qwbl + 16 * ib;
            for (int i = 0; i < 16; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        } else {
            for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        for (int i = 0; i < 16; ++i) waux[i] = sqrtf(weight[i]);
        uint8_t signs[2];
        for (int k = 0; k < 2; ++k) signs[k] = iq2::fold_signs(xb + 8 * k, weight + 8 * k, false, xval + 8 * k);

        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = max > xval[i] ? max : xval[i];  // ggml's MAX, operand order kept
        if (max < kZeroGroup) {
            scales[ib] = 0;
            continue;
        }
        int8_t L[16];
        float scale = iq2::iq2_search_group16(gi, xval, weight, waux, max, L);
        if (scale < 0) {  // stored scales are unsigned: flip the signs instead
            scale = -scale;
            for (int k = 0; k < 2; ++k) signs[k] = static_cast<uint8_t>(~signs[k]);
        }
        for (int k = 0; k < 2; ++k) {
            int g = gi.find(iq2::pack_key(L + 8 * k));  // on the grid by construction
            if (g < 0) g = 0;
            const int i8 = 2 * ib + k;
            y->qs[i8] = static_cast<uint8_t>(g & 255);
            y->qh[i8 / 4] |= static_cast<uint8_t>((g >> 8) << (2 * (i8 % 4)));
            signs_out[i8] = signs[k];
        }
        scales[ib] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (!max_scale) return;

    const float d = max_scale / 31;
    y->d = f32_to_fp16(d * 0.9875f);  // ggml's fudge factor on the stored scale only
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 15 ? 15 : l;
        y->scales[ib / 2] |= static_cast<uint8_t>(l << (4 * (ib % 2)));
    }
}

}  // namespace

void encode_iq2_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ2_S);
    auto* y = static_cast<block_iq2_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_superblock(gi, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, y + b);
}

}  // namespace dgk::ref
