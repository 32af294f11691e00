// IQ2_XXS decode (ggml dequantize_row_iq2_xxs). Per 32 weights: two little-endian u32 words,
// the first holding four 8-bit grid indices, the second four 7-bit sign codes and a 4-bit scale.
#include <cstring>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq2_xxs(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq2_xxs*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const float d = fp16_to_f32(blocks[b].d);
        for (int g = 0; g < QK_K / 32; ++g) {
            uint32_t words[2];
            std::memcpy(words, blocks[b].qs + 4 * g, sizeof(words));
            // (d * (0.5 + s)) * 0.25: the reference's operation order.
            const float db = d * (0.5f + (float)(words[1] >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l) {
                const uint64_t point = iq2xxs_grid[(words[0] >> (8 * l)) & 0xffu];
                const uint8_t signs = ksigns_iq2xs[(words[1] >> (7 * l)) & 127u];
                for (int j = 0; j < 8; ++j) {
                    const float mag = (float)((point >> (8 * j)) & 0xffu);
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
