// IQ1_S encoding around the split search (ggml's quantize_row_iq1_s_impl), shared by encode.cpp
// (scalar) and avx2_encode.cpp: the group's levels from the chosen split, the grid snapping and
// refit, the super-block weights and the packing of indices, shifts and 3-bit scales. Each file
// supplies only its split search and its neighbour search. Internal linkage throughout (both ISAs
// include this header); host+device (DGK_HD) for the CUDA module, which passes its own grid view.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq1s {
namespace {

using iq2::GridArrays;

constexpr int kGroup = 32;
constexpr float kZeroGroup = 1e-12f;

// Result of the split search: the best split (i1, i2) of the sorted group, its shift (+1 / -1;
// 0 when no split was accepted) and its least-squares scale.
struct Split {
    int i1 = -1, i2 = -1, shift = 0;
    float scale = 0;
};

struct GroupResult {
    float scale = 0;
    int shift = 1;  // +1 / -1: sign of the delta
    uint16_t index[kGroup / 8] = {0, 0, 0, 0};
};

// One 32-weight group: `search(xb, weight, max, order)` sorts the group (ggml's stable order) into
// `order` and returns the best split over every split of both shifts; `snap` is the off-grid
// neighbour search (see iq::iq1_snap_refit).
template <class Grid, class Search, class Snap>
DGK_HD GroupResult encode_group(const Grid& A, const float* xb, const float* weight, Search&& search,
                                Snap&& snap) {
    GroupResult r;
    const float max = iq::max_abs(xb, kGroup);
    if (max < kZeroGroup) return r;
    int order[kGroup];
    const Split s = search(xb, weight, max, order);
    if (s.i1 < 0 || s.i2 < 0 || s.shift == 0) return r;

    int8_t L[kGroup];
    float scale = s.scale;
    int shift = s.shift;
    if (iq::iq1_split_levels(order, kGroup, s.i1, s.i2, &scale, L)) shift = -shift;  // mirrored
    const float* v = iq::iq1_values(shift != 1);
    const float* values[kGroup / 8] = {v, v, v, v};
    r.scale = iq::iq1_snap_refit(A, kGroup / 8, L, xb, weight, scale, values, snap, r.index);
    r.shift = shift;
    return r;
}

// ggml's importance weights of a group (iq::imatrix_weights), the default of encode_superblock.
struct ImatrixWeights {
#if defined(__CUDACC__)
    __host__ __device__
#endif
    void operator()(const float* xb, const float* qw, float sigma2, float* w) const {
        iq::imatrix_weights(xb, qw, sigma2, kGroup, w);
    }
};

// One super-block; `group(xb, weight)` encodes a group (encode_group with the file's searches);
// `weights(xb, qw, sigma2, w)` gives a group's importance weights, exactly as ImatrixWeights.
template <class Group, class Weights = ImatrixWeights>
DGK_HD void encode_superblock(const float* xbl, const float* qwbl, block_iq1_s* y, Group&& group,
                              Weights weights = Weights{}) {
    iq::clear_block(*y);
    const float sigma2 = iq::superblock_sigma2(xbl, 2);

    float scales[QK_K / kGroup];
    int shifts[QK_K / kGroup];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        const float* xb = xbl + kGroup * ib;
        alignas(32) float weight[kGroup];
        weights(xb, qwbl + kGroup * ib, sigma2, weight);
        const GroupResult r = group(xb, static_cast<const float*>(weight));
        uint16_t h = 0;
        for (int k = 0; k < kGroup / 8; ++k) {
            y->qs[(kGroup / 8) * ib + k] = static_cast<uint8_t>(r.index[k] & 255);
            h |= static_cast<uint16_t>((r.index[k] >> 8) << (3 * k));
        }
        y->qh[ib] = h;
        scales[ib] = r.scale;
        shifts[ib] = r.shift;
        max_scale = max_scale > r.scale ? max_scale : r.scale;
    }
    if (!max_scale) return;

    const float d = max_scale / 15;
    y->d = f32_to_fp16(d * 1.125f);  // ggml's fudge factor on the stored scale only
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        int l = iq::scale_code(id, scales[ib], 7);
        if (shifts[ib] == -1) l |= 8;
        y->qh[ib] |= static_cast<uint16_t>(l << 12);
    }
}

}  // namespace
}  // namespace dgk::iq1s
