// IQ3_S decode (ggml dequantize_row_iq3_s). Grid index = qs byte | one high bit from qh (9 bits,
// always inside the 512-entry grid); 8 explicit sign bits per 8 weights; a 4-bit scale per 32
// weights, decoded as d * (1 + 2s).
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq3_s(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq3_s*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq3_s& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            const unsigned s = (blk.scales[g / 2] >> (4 * (g % 2))) & 0xfu;
            const float db = d * (float)(1 + 2 * s);
            const uint8_t* idx = blk.qs + 8 * g;
            const unsigned high = blk.qh[g];  // bit k: 9th index bit of grid point k of this group
            for (int l = 0; l < 4; ++l) {
                const uint32_t p0 = iq3s_grid[idx[2 * l] | (((high >> (2 * l)) & 1u) << 8)];
                const uint32_t p1 = iq3s_grid[idx[2 * l + 1] | (((high >> (2 * l + 1)) & 1u) << 8)];
                const uint64_t pair = (uint64_t)p0 | ((uint64_t)p1 << 32);
                const uint8_t signs = blk.signs[4 * g + l];
                for (int j = 0; j < 8; ++j) {
                    const float mag = (float)((pair >> (8 * j)) & 0xffu);
                    // ggml's `* (s ? -1.f : 1.f)`, which GCC at -O2 compiles to a sign flip: write the flip, so
                    // NaN lanes (from NaN fp16 scales) carry the same sign at every -O level and on every ISA.
                    const float v = db * mag;
                    *dst++ = ((signs >> j) & 1u) ? -v : v;
                }
            }
        }
    }
}

}  // namespace dgk::ref
