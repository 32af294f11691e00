// IQ2_S encoding around the scale search (ggml's quantize_row_iq2_s_impl), shared by encode.cpp
// (scalar) and avx2_encode.cpp: the super-block weights (with or without an importance matrix),
// the groups' explicit signs, the 10-bit indices split over qs and qh, and the 4-bit scales. Each
// file supplies only its search (iq2_search_group16). Internal linkage throughout (both ISAs
// include this header); host+device (DGK_HD) for the CUDA module.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq2s {
namespace {

constexpr float kZeroGroup = 1e-8f;

// A group's weights (importance weights, or 0.25*sigma2 + x^2 without qw), magnitudes, sign bits
// and sqrt weights; returns the largest magnitude.
// The AVX2 encoders pass their own form (common/avx2_iq2_prep.h), same bits.
struct ScalarPrep {
    DGK_HD_MEMBER float operator()(const float* xb, const float* qw, float sigma2, float* weight, float* xval,
                                   float* waux, uint8_t* signs) const {
        if (qw) {
            iq::imatrix_weights(xb, qw, sigma2, 16, weight);
        } else {
            for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        return iq::fold_group(2, xb, weight, false, xval, waux, signs);
    }
};

// One super-block; `search(xval, weight, waux, max, points)` returns a 16-weight group's signed
// scale and writes its two grid points.
template <class Search, class Prep = ScalarPrep>
DGK_HD void encode_superblock(const float* xbl, const float* qwbl, block_iq2_s* y, Search&& search,
                              Prep prep = Prep{}) {
    iq::clear_block(*y);
    const float sigma2 = iq::superblock_sigma2(xbl, 2);
    uint8_t* signs_out = y->qs + QK_K / 8;
    float scales[QK_K / 16];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        alignas(32) float weight[16], xval[16], waux[16];
        uint8_t signs[2];
        const float max = prep(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, weight, xval, waux, signs);
        scales[ib] = 0;
        if (max < kZeroGroup || max == 0) continue;  // iq::signed_group's test
        int points[2];
        const float scale = iq::unsign_scale(
            2, search(static_cast<const float*>(xval), static_cast<const float*>(weight),
                      static_cast<const float*>(waux), max, points), 255, signs);
        scales[ib] = scale;
        for (int k = 0; k < 2; ++k) {
            const int i8 = 2 * ib + k;
            y->qs[i8] = static_cast<uint8_t>(points[k] & 255);
            y->qh[i8 / 4] |= static_cast<uint8_t>((points[k] >> 8) << (2 * (i8 % 4)));
            signs_out[i8] = signs[k];
        }
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (!max_scale) return;

    const float d = max_scale / 31;
    y->d = f32_to_fp16(d * 0.9875f);  // ggml's fudge factor on the stored scale only
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib)
        y->scales[ib / 2] |= static_cast<uint8_t>(iq::scale_code(id, scales[ib], 15) << (4 * (ib % 2)));
}

}  // namespace
}  // namespace dgk::iq2s
