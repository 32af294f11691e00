// IQ4_XS: 256 weights in 8 groups of 32 on the levels kvalues_iq4nl. Each group's scale is a
// signed 6-bit multiple of the fp16 super-block scale d: (ls - 32) * d, ls in 0..63 stored as
// 4 low bits in scales_l (two per byte) and 2 high bits in scales_h.
#include "../common/iq4_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"
#include <cmath>

namespace dgk::ref {

namespace {
constexpr int kGroups = QK_K / kIq4Group;
}

void decode_iq4_xs(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_iq4_xs*>(src);
    for (int64_t i = 0; i < nblocks; ++i) {
        const float d = fp16_to_f32(blk[i].d);
        const uint8_t* qs = blk[i].qs;
        for (int g = 0; g < kGroups; ++g, qs += 16, dst += 32) {
            const int ls = ((blk[i].scales_l[g / 2] >> 4 * (g % 2)) & 0x0f) | (((blk[i].scales_h >> 2 * g) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                dst[j] = dl * kvalues_iq4nl[qs[j] & 0x0f];
                dst[j + 16] = dl * kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}

void encode_iq4_xs(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blk = static_cast<block_iq4_xs*>(dst);
    float w[kIq4Group];
    float scales[kGroups];
    uint8_t L[kIq4Group];
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        const float* qwb = imatrix ? imatrix + i * QK_K : nullptr;
        const float sigma2 = iq4_sigma2(x, QK_K);
        // The group scale of largest magnitude (first one on ties) sets the super-block scale.
        float max_scale = 0, amax_scale = 0;
        for (int g = 0; g < kGroups; ++g) {
            iq4_group_weights(x + g * kIq4Group, qwb ? qwb + g * kIq4Group : nullptr, sigma2, w);
            scales[g] = iq4_group_scale(x + g * kIq4Group, w);
            const float a = std::fabs(scales[g]);
            if (a > amax_scale) {
                amax_scale = a;
                max_scale = scales[g];
            }
        }
        // d < 0 when the largest scale is positive, so that scale lands on l = -32 (ls = 0).
        const float d = -max_scale / 32;
        blk[i].d = f32_to_fp16(d);
        const float id = d ? 1 / d : 0.f;  // the unrounded d, as ggml
        blk[i].scales_h = 0;
        for (int g = 0; g < kGroups; ++g) {
            int l = nearest_int(id * scales[g]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            const float dl = d * l;
            iq4_levels(x + g * kIq4Group, dl ? 1 / dl : 0.f, L);
            iq4_pack(L, blk[i].qs + 16 * g);
            const int ls = l + 32;
            if (g % 2 == 0) blk[i].scales_l[g / 2] = (uint8_t)(ls & 0x0f);
            else blk[i].scales_l[g / 2] |= (uint8_t)((ls & 0x0f) << 4);
            blk[i].scales_h |= (uint16_t)((ls >> 4) << 2 * g);
        }
    }
}

}  // namespace dgk::ref
