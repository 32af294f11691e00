// IQ4_XS AVX2 kernels: same arithmetic as ref.cpp, vectorized over the weights of a group.
#include <immintrin.h>

#include "../common/avx2_iq4.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_iq4_xs(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_iq4_xs*>(src);
    const __m128i levels = iq4_levels_i8();
    for (int64_t i = 0; i < nblocks; ++i) {
        const float d = fp16_to_f32(blk[i].d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const int ls = ((blk[i].scales_l[g / 2] >> 4 * (g % 2)) & 0x0f) | (((blk[i].scales_h >> 2 * g) & 3) << 4);
            // (d * l) first, then times the level: the scalar decoder's two roundings.
            iq4_decode_group(blk[i].qs + 16 * g, _mm256_set1_ps(d * (ls - 32)), levels, dst);
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq4_xs = {FormatId::IQ4_XS, avx2::decode_iq4_xs, nullptr};
}
