// IQ3_XXS decode (ggml dequantize_row_iq3_xxs). qs[0..63]: one 8-bit grid index per 4 weights;
// qs[64..95]: per 32 weights a little-endian u32 of four 7-bit sign codes and a 4-bit scale.
#include <cstring>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq3_xxs(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq3_xxs*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq3_xxs& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g) {
            uint32_t aux;
            std::memcpy(&aux, blk.qs + QK_K / 4 + 4 * g, sizeof(aux));
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            const uint8_t* idx = blk.qs + 8 * g;
            for (int l = 0; l < 4; ++l) {
                const uint8_t signs = ksigns_iq2xs[(aux >> (7 * l)) & 127u];
                // Eight weights = two 4-weight grid points; byte j of a point is weight j.
                const uint64_t pair = (uint64_t)iq3xxs_grid[idx[2 * l]] | ((uint64_t)iq3xxs_grid[idx[2 * l + 1]] << 32);
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
