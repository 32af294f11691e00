// IQ2_XXS AVX2 decode: one vector per 8 weights, each lane the scalar decoder's operations.
#include <cstring>

#include "../common/avx2_iq_decode.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq2_xxs_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq2_xxs*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const float d = fp16_to_f32(blocks[b].d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            uint32_t words[2];
            std::memcpy(words, blocks[b].qs + 4 * g, sizeof(words));
            const __m256 db = _mm256_set1_ps(d * (0.5f + (float)(words[1] >> 28)) * 0.25f);
            for (int l = 0; l < 4; ++l)
                iq_store_signed8<Store>(dst + 8 * l, db, iq2xxs_grid[(words[0] >> (8 * l)) & 0xffu],
                                 ksigns_iq2xs[(words[1] >> (7 * l)) & 127u]);
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq2_xxs)

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq2_xxs = {FormatId::IQ2_XXS, avx2::decode_iq2_xxs, nullptr, nullptr,
                                                avx2::decode_iq2_xxs_stream};
}
