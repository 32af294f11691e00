// IQ3_XXS encoding around the group search (ggml's quantize_row_iq3_xxs_impl), shared by
// encode.cpp (scalar) and avx2.cpp: the weights, the sign parity, the grid index bytes, the sign
// words and the 4-bit scales. Each file supplies only its iq3_search_group. Internal linkage
// throughout (both ISAs include this header); host+device (DGK_HD) for the CUDA module.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq3xxs {
namespace {

constexpr float kGroupMaxEps = 1e-8f;  // groups whose largest |x| is below this stay zero

// One super-block; `search(xval, weight, waux, max, grid_index)` returns a 32-weight group's
// signed scale and writes its 8 grid indices (iq3_search_group with rule {15, false}). `fold` and
// `weights`: iq::signed_group's fold and the importance weights (an ISA's equals may be passed).
template <class Search, class Fold = iq::FoldGroup, class Weights = iq::WeightsOrX2>
DGK_HD void encode_block(const float* xs, const float* qw, block_iq3_xxs& blk, Search&& search, Fold&& fold = Fold{},
                         Weights&& weights = Weights{}) {
    iq::clear_block(blk);  // also d = fp16(0)
    uint8_t* idx_bytes = blk.qs;
    uint8_t* sign_words = blk.qs + QK_K / 4;
    const float sigma2 = iq::superblock_sigma2(xs, 2);

    float scales[QK_K / 32];
    float max_scale = 0;
    for (int gi = 0; gi < QK_K / 32; ++gi) {
        const float* xb = xs + 32 * gi;
        alignas(32) float weight[32];
        weights(xb, qw ? qw + 32 * gi : nullptr, sigma2, 32, weight);
        uint8_t signs[4];  // 7 bits each: the 8th follows from even parity
        uint16_t grid_index[8];
        float scale;
        if (!iq::signed_group(4, xb, weight, true, kGroupMaxEps, search, &scale, grid_index, signs, fold)) {
            scales[gi] = 0;
            continue;
        }
        for (int k = 0; k < 8; ++k) idx_bytes[8 * gi + k] = static_cast<uint8_t>(grid_index[k]);
        const uint32_t word = static_cast<uint32_t>(signs[0]) | (static_cast<uint32_t>(signs[1]) << 7) |
                              (static_cast<uint32_t>(signs[2]) << 14) | (static_cast<uint32_t>(signs[3]) << 21);
        for (int b = 0; b < 4; ++b) sign_words[4 * gi + b] = static_cast<uint8_t>(word >> (8 * b));
        scales[gi] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }

    if (!max_scale) {
        iq::clear_block(blk);
        return;
    }
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.0125f);  // ggml's fudge factor on the stored scale
    const float id = 1 / d;
    for (int gi = 0; gi < QK_K / 32; ++gi) {  // the scale code: bits 28..31 of the little-endian sign word
        const int code = iq::scale_code(id, scales[gi], 15);
        sign_words[4 * gi + 3] = static_cast<uint8_t>(sign_words[4 * gi + 3] | (code << 4));
    }
}

}  // namespace
}  // namespace dgk::iq3xxs
