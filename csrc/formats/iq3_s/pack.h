// IQ3_S encoding around the group search (ggml's quantize_row_iq3_s_impl), shared by encode.cpp
// (scalar) and avx2.cpp: the weights, the explicit signs, the 9-bit grid indices split over qs and
// qh, and the 4-bit scales. Each file supplies only its iq3_search_group. Internal linkage
// throughout (both ISAs include this header); host+device (DGK_HD) for the CUDA module.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq3s {
namespace {

// One super-block; `search(xval, weight, waux, max, grid_index)` returns a 32-weight group's
// signed scale and writes its 8 grid indices (iq3_search_group with rule {9, true}). `fold` and
// `weights`: iq::signed_group's fold and the importance weights (an ISA's equals may be passed).
template <class Search, class Fold = iq::FoldGroup, class Weights = iq::WeightsOrX2>
DGK_HD void encode_block(const float* xs, const float* qw, block_iq3_s& blk, Search&& search, Fold&& fold = Fold{},
                         Weights&& weights = Weights{}) {
    iq::clear_block(blk);  // also d = fp16(0)
    const float sigma2 = iq::superblock_sigma2(xs, 2);

    float scales[QK_K / 32];
    float max_scale = 0;
    // ggml advances its qs/signs write positions only for groups it does not skip as all-zero,
    // so a later group's indices and signs land in the skipped group's slots (qh and scales
    // stay at the true group position). Reproduced because it decides the bytes.
    int qs_pos = 0, signs_pos = 0;
    for (int gi = 0; gi < QK_K / 32; ++gi) {
        const float* xb = xs + 32 * gi;
        alignas(32) float weight[32];
        weights(xb, qw ? qw + 32 * gi : nullptr, sigma2, 32, weight);
        uint8_t signs[4];
        uint16_t grid_index[8];
        float scale;
        // ggml skips only all-zero groups (zero = 0).
        if (!iq::signed_group(4, xb, weight, false, 0.0f, search, &scale, grid_index, signs, fold)) {
            scales[gi] = 0;
            continue;
        }
        for (int k = 0; k < 8; ++k) {
            blk.qs[qs_pos + k] = static_cast<uint8_t>(grid_index[k] & 255u);
            blk.qh[gi] |= static_cast<uint8_t>((grid_index[k] >> 8) << k);
        }
        qs_pos += 8;
        for (int k = 0; k < 4; ++k) blk.signs[signs_pos + k] = signs[k];
        signs_pos += 4;
        scales[gi] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }

    if (!max_scale) return;
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.033f);  // ggml's fudge factor on the stored scale
    const float id = 1 / d;
    for (int gi = 0; gi < QK_K / 32; gi += 2)
        blk.scales[gi / 2] = static_cast<uint8_t>(iq::scale_code(id, scales[gi], 15) |
                                                  (iq::scale_code(id, scales[gi + 1], 15) << 4));
}

}  // namespace
}  // namespace dgk::iq3s
