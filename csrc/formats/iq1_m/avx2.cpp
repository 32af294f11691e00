// IQ1_M AVX2 decode: one vector per 8 weights, each lane the scalar decoder's
// dl * ((float)v + shift) (the add is exact; one rounding in the multiply).
#include <cstring>

#include "../common/avx2_iq_decode.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq1_m_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq1_m*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq1_m& blk = blocks[b];
        uint16_t sc[4];
        std::memcpy(sc, blk.scales, sizeof(sc));
        // The fp16 block scale is spread over the top nibbles of the four scale words.
        const uint16_t dbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0u) |
                                          ((sc[2] >> 4) & 0x0f00u) | (sc[3] & 0xf000u));
        const float d = fp16_to_f32(dbits);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const unsigned word = sc[g / 2] >> (6 * (g % 2));
            const __m256 dl[2] = {_mm256_set1_ps(d * (float)(2 * (word & 7u) + 1)),
                                  _mm256_set1_ps(d * (float)(2 * ((word >> 3) & 7u) + 1))};
            for (int l = 0; l < 4; ++l) {
                const unsigned nib = (unsigned)blk.qh[2 * g + l / 2] >> (4 * (l % 2));
                const unsigned idx = blk.qs[4 * g + l] | ((nib & 7u) << 8);  // < 2048
                // +-0.125f built from the bit (a data-dependent branch would mispredict half the time).
                const __m256 shift = _mm256_castsi256_ps(_mm256_set1_epi32((int)(0x3e000000u | ((nib & 8u) << 28))));
                Store::put(dst + 8 * l, _mm256_mul_ps(dl[l / 2], _mm256_add_ps(iq_s8x8_ps(iq1s_grid[idx]), shift)));
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq1_m)

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq1_m = {FormatId::IQ1_M, avx2::decode_iq1_m, nullptr, nullptr,
                                              avx2::decode_iq1_m_stream};
}
