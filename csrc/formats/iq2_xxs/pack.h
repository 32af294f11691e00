// IQ2_XXS encoding around the scale search (ggml's quantize_row_iq2_xxs_impl), shared by
// encode.cpp (scalar) and avx2_encode.cpp: the group's magnitudes and sign parity, the index and
// sign words, the super-block weights and the 4-bit scales. Each file supplies only its search.
// Internal linkage throughout (both ISAs include this header); host+device (DGK_HD) for the
// CUDA module.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq2xxs {
namespace {

constexpr int kMaxQ = 3;  // levels 0..2 -> odd values 1, 3, 5
constexpr float kZeroGroup = 1e-15f;

// A group's importance weights, magnitudes, sign bits (parity: 7 per point) and sqrt weights;
// returns the largest magnitude.
// The AVX2 encoders pass their own form (common/avx2_iq2_prep.h), same bits.
struct ScalarPrep {
    DGK_HD_MEMBER float operator()(const float* xb, const float* qw, float sigma2, float* weight, float* xval,
                                   float* waux, uint8_t* signs) const {
        iq::imatrix_weights(xb, qw, sigma2, 32, weight);
        return iq::fold_group(4, xb, weight, true, xval, waux, signs);
    }
};

// One 32-weight group: `prep` as above, then `search(xval, weight, waux, max, scale, points)` finds
// the signed scale and the 4 grid points of the magnitudes xval (max > 0), returning false for a
// group it cannot encode. Returns the unsigned scale and writes the 4 grid indices and 28 sign
// bits, or returns 0 (and leaves the words alone) for a group too small to encode.
template <class Search, class Prep>
DGK_HD float encode_group(const float* xb, const float* qw, float sigma2, Search&& search, const Prep& prep,
                          uint32_t* idx_word, uint32_t* sign_word) {
    alignas(32) float weight[32], xval[32], waux[32];
    uint8_t signs[4];
    const float max = prep(xb, qw, sigma2, weight, xval, waux, signs);
    if (max < kZeroGroup) return 0;
    float scale;
    int points[4];
    if (!search(static_cast<const float*>(xval), static_cast<const float*>(weight), static_cast<const float*>(waux),
                max, &scale, points))
        return 0;
    scale = iq::unsign_scale(4, scale, 127, signs);
    uint32_t iw = 0, sw = 0;
    for (int k = 0; k < 4; ++k) {
        iw |= static_cast<uint32_t>(points[k]) << (8 * k);
        sw |= static_cast<uint32_t>(signs[k]) << (7 * k);
    }
    *idx_word = iw;
    *sign_word = sw;
    return scale;
}

// One super-block; `search` and `prep` as for encode_group.
template <class Search, class Prep = ScalarPrep>
DGK_HD void encode_superblock(const float* xbl, const float* qwbl, block_iq2_xxs* y, Search&& search,
                              Prep prep = Prep{}) {
    const float sigma2 = iq::superblock_sigma2(xbl, 1);
    uint32_t words[2 * (QK_K / 32)] = {0};  // per group: grid indices, then signs | scale << 28
    float scales[QK_K / 32];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        scales[ib] = encode_group(xbl + 32 * ib, qwbl + 32 * ib, sigma2, search, prep, &words[2 * ib],
                                  &words[2 * ib + 1]);
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
    }

    y->d = f32_to_fp16(0.f);
    if (!max_scale) {
        for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = 0;
        return;
    }
    const float d = max_scale / 31;
    y->d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib)
        words[2 * ib + 1] |= static_cast<uint32_t>(iq::scale_code(id, scales[ib], 15)) << 28;
    for (int i = 0; i < QK_K / 16; ++i) {  // each word as two little-endian halves
        y->qs[2 * i] = static_cast<uint16_t>(words[i]);
        y->qs[2 * i + 1] = static_cast<uint16_t>(words[i] >> 16);
    }
}

}  // namespace
}  // namespace dgk::iq2xxs
