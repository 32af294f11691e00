// IQ2_XS encoding around the scale search (ggml's quantize_row_iq2_xs_impl), shared by encode.cpp
// (scalar) and avx2_encode.cpp: the super-block weights, the groups' signs, the 9-bit index |
// 7 sign bits words and the 4-bit scales. Each file supplies only its search (iq2_search_group16).
// Internal linkage throughout (both ISAs include this header); host+device (DGK_HD) for the
// CUDA module.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq2xs {
namespace {

constexpr float kZeroGroup = 1e-15f;

// A group's importance weights, magnitudes, sign bits and sqrt weights; returns the largest
// magnitude.
// The AVX2 encoders pass their own form (common/avx2_iq2_prep.h), same bits.
struct ScalarPrep {
    DGK_HD_MEMBER float operator()(const float* xb, const float* qw, float sigma2, float* weight, float* xval,
                                   float* waux, uint8_t* signs) const {
        iq::imatrix_weights(xb, qw, sigma2, 16, weight);
        return iq::fold_group(2, xb, weight, true, xval, waux, signs);
    }
};

// One super-block; `search(xval, weight, waux, max, points)` returns a 16-weight group's signed
// scale and writes its two grid points.
template <class Search, class Prep = ScalarPrep>
DGK_HD void encode_superblock(const float* xbl, const float* qwbl, block_iq2_xs* y, Search&& search,
                              Prep prep = Prep{}) {
    const float sigma2 = iq::superblock_sigma2(xbl, 1);
    uint16_t q2[QK_K / 8] = {0};
    float scales[QK_K / 16];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        alignas(32) float weight[16], xval[16], waux[16];
        uint8_t signs[2];
        const float max = prep(xb, qwbl + 16 * ib, sigma2, weight, xval, waux, signs);
        scales[ib] = 0;
        if (max < kZeroGroup || max == 0) continue;  // iq::signed_group's test
        int points[2];
        const float scale = iq::unsign_scale(
            2, search(static_cast<const float*>(xval), static_cast<const float*>(weight),
                      static_cast<const float*>(waux), max, points), 127, signs);
        scales[ib] = scale;
        for (int k = 0; k < 2; ++k) q2[2 * ib + k] = static_cast<uint16_t>(points[k] | (signs[k] << 9));
        max_scale = max_scale > scale ? max_scale : scale;
    }

    y->d = f32_to_fp16(0.f);
    for (int i = 0; i < QK_K / 32; ++i) y->scales[i] = 0;
    if (!max_scale) {
        for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = 0;
        return;
    }
    const float d = max_scale / 31;
    y->d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib)
        y->scales[ib / 2] |= static_cast<uint8_t>(iq::scale_code(id, scales[ib], 15) << (4 * (ib % 2)));
    for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = q2[i];
}

}  // namespace
}  // namespace dgk::iq2xs
