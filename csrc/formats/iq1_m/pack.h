// IQ1_M encoding around the split search (ggml's quantize_row_iq1_m_impl), shared by encode.cpp
// (scalar) and avx2_encode.cpp: the group's levels from the chosen split, the grid snapping and
// refit, the super-block weights, the packing of indices and shift bits, and the refit of the
// fp16 super-block scale over the 3-bit group scales. Each file supplies only its split search and
// its neighbour search. Internal linkage throughout (both ISAs include this header); host+device
// (DGK_HD) for the CUDA module, which passes its own grid view.
#pragma once
#include <cstdint>

#include "../common/iq_pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::iq1m {
namespace {

using iq2::GridArrays;

constexpr int kGroup = 16;
constexpr float kZeroGroup = 1e-7f;
// Shift combination c (0..3) of the two 8-weight halves: bit 1 = first half negative, bit 0 = second;
// stored as bit 3 (first half) and bit 7 (second half) of the group's qh byte.
DGK_HD uint8_t shift_bits(int combo) {
    return static_cast<uint8_t>(((combo & 2) ? 0x08 : 0) | ((combo & 1) ? 0x80 : 0));
}

DGK_HD const float* half_values(int combo, int half) {
    const bool negative = half == 0 ? combo >= 2 : (combo & 1) != 0;
    return iq::iq1_values(negative);
}

// Result of the split search: the best split (i1, i2) of the sorted group, its shift combination
// (-1 when no split was accepted) and its least-squares scale.
struct Split {
    int i1 = -1, i2 = -1, combo = -1;
    float scale = 0;
};

struct GroupResult {
    float scale = 0;
    int combo = 0;
    uint16_t index[2] = {0, 0};
};

// One 16-weight group: `search(xb, weight, max, order)` sorts the group (ggml's stable order) into
// `order` and returns the best split over every split and shift combination; `snap` is the
// off-grid neighbour search (see iq::iq1_snap_refit).
template <class Grid, class Search, class Snap>
DGK_HD GroupResult encode_group(const Grid& A, const float* xb, const float* weight, Search&& search,
                                Snap&& snap) {
    GroupResult r;
    const float max = iq::max_abs(xb, kGroup);
    if (max < kZeroGroup) return r;
    int order[kGroup];
    const Split s = search(xb, weight, max, order);
    if (s.i1 < 0 || s.i2 < 0 || s.combo < 0) return r;

    int8_t L[kGroup];
    float scale = s.scale;
    int combo = s.combo;
    if (iq::iq1_split_levels(order, kGroup, s.i1, s.i2, &scale, L)) combo = 3 - combo;  // both shifts mirrored
    const float* values[2] = {half_values(combo, 0), half_values(combo, 1)};
    r.scale = iq::iq1_snap_refit(A, 2, L, xb, weight, scale, values, snap, r.index);
    r.combo = combo;
    return r;
}

// One super-block; `group(xb, weight)` encodes a group (encode_group with the file's searches).
template <class Grid, class Group>
DGK_HD void encode_superblock(const Grid& A, const float* xbl, const float* qwbl, block_iq1_m* y, Group&& group) {
    iq::clear_block(*y);
    const float sigma2 = iq::superblock_sigma2(xbl, 2);
    alignas(32) float weight[QK_K];
    iq::weights_or_x2(xbl, qwbl, sigma2, QK_K, weight);

    float scales[QK_K / kGroup];
    int combos[QK_K / kGroup];
    uint16_t index[QK_K / kGroup][2];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        const GroupResult r = group(xbl + kGroup * ib, static_cast<const float*>(weight + kGroup * ib));
        y->qs[2 * ib + 0] = static_cast<uint8_t>(r.index[0] & 255);
        y->qs[2 * ib + 1] = static_cast<uint8_t>(r.index[1] & 255);
        y->qh[ib] = static_cast<uint8_t>((r.index[0] >> 8) | ((r.index[1] >> 8) << 4));
        index[ib][0] = r.index[0];
        index[ib][1] = r.index[1];
        scales[ib] = r.scale;
        combos[ib] = r.combo;
        max_scale = max_scale > r.scale ? max_scale : r.scale;
    }
    if (!max_scale) return;

    // 3-bit group scales, then refit the super-block scale d to the quantized values
    // (d * (2l+1) * value) by weighted least squares over all 256 weights.
    uint16_t sc[4] = {0, 0, 0, 0};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        const int l = iq::scale_code(id, scales[ib], 7);
        sc[ib / 4] |= static_cast<uint16_t>(l << (3 * (ib % 4)));
        y->qh[ib] |= shift_bits(combos[ib]);
        const float* xb = xbl + kGroup * ib;
        const float* w = weight + kGroup * ib;
        for (int k = 0; k < 2; ++k) {
            const float* v = half_values(combos[ib], k);
            const uint16_t key = A.grid_keys[index[ib][k]];
            for (int j = 0; j < 8; ++j) {
                const float q = v[(key >> (2 * j)) & 3] * static_cast<float>(2 * l + 1);
                sumqx += w[8 * k + j] * q * xb[8 * k + j];
                sumq2 += w[8 * k + j] * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t h = f32_to_fp16(d * 1.1125f);  // ggml's fudge factor on the stored scale only
    sc[0] |= static_cast<uint16_t>((h & 0x000f) << 12);
    sc[1] |= static_cast<uint16_t>((h & 0x00f0) << 8);
    sc[2] |= static_cast<uint16_t>((h & 0x0f00) << 4);
    sc[3] |= static_cast<uint16_t>(h & 0xf000);
    for (int i = 0; i < 4; ++i) {  // little-endian words, as ggml's uint16_t view of scales
        y->scales[2 * i] = static_cast<uint8_t>(sc[i] & 0xff);
        y->scales[2 * i + 1] = static_cast<uint8_t>(sc[i] >> 8);
    }
}

}  // namespace
}  // namespace dgk::iq1m
