// IQ4_XS AVX2 kernels: same arithmetic as ref.cpp, vectorized over the weights of a group
// (decode) and over the 16 candidate scales of each group's search (encode, see avx2_iq4.h).
#include <immintrin.h>

#include <cmath>

#include "../common/avx2_iq4.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {
constexpr int kGroups = QK_K / 32;
}

template <class Store>
static void decode_iq4_xs_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_iq4_xs*>(src);
    const __m128i levels = iq4_levels_i8();
    for (int64_t i = 0; i < nblocks; ++i) {
        const float d = fp16_to_f32(blk[i].d);
        for (int g = 0; g < kGroups; ++g, dst += 32) {
            const int ls = ((blk[i].scales_l[g / 2] >> 4 * (g % 2)) & 0x0f) | (((blk[i].scales_h >> 2 * g) & 3) << 4);
            // (d * l) first, then times the level: the scalar decoder's two roundings.
            iq4_decode_group<Store>(blk[i].qs + 16 * g, _mm256_set1_ps(d * (ls - 32)), levels, dst);
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq4_xs)

void encode_iq4_xs(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blk = static_cast<block_iq4_xs*>(dst);
    const Iq4Tables t = Iq4Tables::make();
    alignas(32) float w[32];
    float scales[kGroups];
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        const float* qwb = imatrix ? imatrix + i * QK_K : nullptr;
        const float sigma2 = qwb ? iq4_sigma2(x, QK_K) : 0.f;
        float max_scale = 0, amax_scale = 0;
        for (int g = 0; g < kGroups; ++g) {
            group_weights32(x + 32 * g, qwb ? qwb + 32 * g : nullptr, sigma2, w);
            scales[g] = iq4_group_scale(x + 32 * g, w, t);
            const float a = std::fabs(scales[g]);
            if (a > amax_scale) {
                amax_scale = a;
                max_scale = scales[g];
            }
        }
        const float d = -max_scale / 32;
        blk[i].d = f32_to_fp16(d);
        const float id = d ? 1 / d : 0.f;
        uint16_t scales_h = 0;
        for (int g = 0; g < kGroups; ++g) {
            int l = nearest_int(id * scales[g]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            const float dl = d * l;
            iq4_levels_pack(x + 32 * g, dl ? 1 / dl : 0.f, t, blk[i].qs + 16 * g);
            const int ls = l + 32;
            if (g % 2 == 0) blk[i].scales_l[g / 2] = (uint8_t)(ls & 0x0f);
            else blk[i].scales_l[g / 2] |= (uint8_t)((ls & 0x0f) << 4);
            scales_h |= (uint16_t)((ls >> 4) << 2 * g);
        }
        blk[i].scales_h = scales_h;
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq4_xs = {FormatId::IQ4_XS, avx2::decode_iq4_xs, avx2::encode_iq4_xs, nullptr,
                                               avx2::decode_iq4_xs_stream};
}
