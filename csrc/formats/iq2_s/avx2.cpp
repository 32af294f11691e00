// IQ2_S AVX2 decode: one vector per 8 weights, each lane the scalar decoder's operations.
#include "../common/avx2_iq_decode.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq2_s_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq2_s*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq2_s& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        const uint8_t* sign_bytes = blk.qs + QK_K / 8;
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const __m256 db[2] = {_mm256_set1_ps(d * (0.5f + (float)(blk.scales[g] & 0xf)) * 0.25f),
                                  _mm256_set1_ps(d * (0.5f + (float)(blk.scales[g] >> 4)) * 0.25f)};
            const unsigned high = blk.qh[g];
            for (int l = 0; l < 4; ++l) {
                const unsigned idx = blk.qs[4 * g + l] | (((high >> (2 * l)) & 3u) << 8);  // < 1024
                iq_store_signed8<Store>(dst + 8 * l, db[l / 2], iq2s_grid[idx], sign_bytes[4 * g + l]);
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq2_s)

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq2_s = {FormatId::IQ2_S, avx2::decode_iq2_s, nullptr, nullptr,
                                              avx2::decode_iq2_s_stream};
}
