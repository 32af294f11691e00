// IQ4_XS block encoder (ggml's quantize_row_iq4_nl_impl with super-blocks), host+device: the scalar
// reference (ref.cpp) loops it over rows, the CUDA module runs it one super-block per thread.
#pragma once
#include <cmath>

#include "../common/iq4_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {

// qw: the super-block's slice of the importance matrix, or null.
DGK_HD void encode_iq4_xs_block(const float* x, const float* qw, block_iq4_xs& b) {
    constexpr int kGroups = QK_K / kIq4Group;
    float w[kIq4Group], scales[kGroups];
    const float sigma2 = iq4_sigma2(x, QK_K);
    // The group scale of largest magnitude (first one on ties) sets the super-block scale.
    float max_scale = 0, amax_scale = 0;
    for (int g = 0; g < kGroups; ++g) {
        iq4_group_weights(x + g * kIq4Group, qw ? qw + g * kIq4Group : nullptr, sigma2, w);
        scales[g] = iq4_group_scale(x + g * kIq4Group, w);
        const float a = fabsf(scales[g]);
        if (a > amax_scale) {
            amax_scale = a;
            max_scale = scales[g];
        }
    }
    // d < 0 when the largest scale is positive, so that scale lands on l = -32 (ls = 0).
    const float d = -max_scale / 32;
    b.d = f32_to_fp16(d);
    const float id = d ? 1 / d : 0.f;  // the unrounded d, as ggml
    b.scales_h = 0;
    for (int g = 0; g < kGroups; ++g) {
        const int l = clampi(nearest_int(id * scales[g]), -32, 31);
        const float dl = d * l;
        iq4_levels_pack(x + g * kIq4Group, dl ? 1 / dl : 0.f, b.qs + 16 * g);
        const int ls = l + 32;
        if (g % 2 == 0) b.scales_l[g / 2] = (uint8_t)(ls & 0x0f);
        else b.scales_l[g / 2] |= (uint8_t)((ls & 0x0f) << 4);
        b.scales_h |= (uint16_t)((ls >> 4) << 2 * g);
    }
}

}  // namespace dgk::ref
