// IQ1_M decode (ggml dequantize_row_iq1_m). The fp16 super-block scale is scattered over the top
// nibbles of the four u16 scale words; the low 12 bits of each word hold four 3-bit sub-scales
// (one per 16 weights). qh nibbles carry 3 high index bits and the shift sign per 8 weights.
#include <cstring>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq1_m(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq1_m*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq1_m& blk = blocks[b];
        uint16_t sc[4];
        std::memcpy(sc, blk.scales, sizeof(sc));
        const uint16_t dbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0u) |
                                          ((sc[2] >> 4) & 0x0f00u) | (sc[3] & 0xf000u));
        const float d = fp16_to_f32(dbits);
        for (int g = 0; g < QK_K / 32; ++g) {
            const unsigned word = sc[g / 2] >> (6 * (g % 2));
            const float dl[2] = {d * (float)(2 * (word & 7u) + 1), d * (float)(2 * ((word >> 3) & 7u) + 1)};
            for (int l = 0; l < 4; ++l) {
                const unsigned nib = (unsigned)blk.qh[2 * g + l / 2] >> (4 * (l % 2));
                const unsigned idx = blk.qs[4 * g + l] | ((nib & 7u) << 8);  // < 2048
                const float shift = (nib & 8u) ? -0.125f : 0.125f;
                const uint64_t point = iq1s_grid[idx];
                for (int j = 0; j < 8; ++j) {
                    const int v = (int8_t)(uint8_t)(point >> (8 * j));
                    *dst++ = dl[l / 2] * ((float)v + shift);
                }
            }
        }
    }
}

}  // namespace dgk::ref
