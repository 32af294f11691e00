// IQ2_XS decode (ggml dequantize_row_iq2_xs). Each 8 weights: a u16 = 9-bit grid index | 7-bit
// sign code << 9; each 16 weights share a 4-bit scale (low nibble first).
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq2_xs(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq2_xs*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq2_xs& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const float db[2] = {d * (0.5f + (float)(blk.scales[g] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(blk.scales[g] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l) {
                const uint16_t code = blk.qs[4 * g + l];
                const uint64_t point = iq2xs_grid[code & 511u];  // 9 bits: always inside the 512-entry grid
                const uint8_t signs = ksigns_iq2xs[code >> 9];    // 7 bits
                for (int j = 0; j < 8; ++j) {
                    const float mag = (float)((point >> (8 * j)) & 0xffu);
                    // ggml's `* (s ? -1.f : 1.f)`, which GCC at -O2 compiles to a sign flip: write the flip, so
                    // NaN lanes (from NaN fp16 scales) carry the same sign at every -O level and on every ISA.
                    const float v = db[l / 2] * mag;
                    *dst++ = ((signs >> j) & 1u) ? -v : v;
                }
            }
        }
    }
}

}  // namespace dgk::ref
