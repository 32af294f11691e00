// IQ2_XS AVX2 decode: one vector per 8 weights, each lane the scalar decoder's operations.
#include "../common/avx2_iq_decode.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq2_xs_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq2_xs*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq2_xs& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const __m256 db[2] = {_mm256_set1_ps(d * (0.5f + (float)(blk.scales[g] & 0xf)) * 0.25f),
                                  _mm256_set1_ps(d * (0.5f + (float)(blk.scales[g] >> 4)) * 0.25f)};
            for (int l = 0; l < 4; ++l) {
                const unsigned code = blk.qs[4 * g + l];
                iq_store_signed8<Store>(dst + 8 * l, db[l / 2], iq2xs_grid[code & 511u], ksigns_iq2xs[code >> 9]);
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq2_xs)

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq2_xs = {FormatId::IQ2_XS, avx2::decode_iq2_xs, nullptr, nullptr,
                                               avx2::decode_iq2_xs_stream};
}
