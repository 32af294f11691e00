// IQ1_S decode (ggml dequantize_row_iq1_s). Per 32 weights a u16 qh holds, from bit 0: four 3-bit
// high parts of the 11-bit grid indices, a 3-bit scale, and the sign of the +-0.125 shift.
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq1_s(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq1_s*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq1_s& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const unsigned h = blk.qh[g];
            const float dl = d * (float)(2 * ((h >> 12) & 7u) + 1);
            const float shift = (h & 0x8000u) ? -0.125f : 0.125f;
            for (int l = 0; l < 4; ++l) {
                const unsigned idx = blk.qs[4 * g + l] | (((h >> (3 * l)) & 7u) << 8);  // < 2048
                const uint64_t point = iq1s_grid[idx];
                for (int j = 0; j < 8; ++j) {
                    const int v = (int8_t)(uint8_t)(point >> (8 * j));
                    *dst++ = dl * ((float)v + shift);
                }
            }
        }
    }
}

}  // namespace dgk::ref
