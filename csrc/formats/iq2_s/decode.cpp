// IQ2_S decode (ggml dequantize_row_iq2_s). Grid index = qs byte | 2 bits from qh (10 bits, so
// always inside the 1024-entry grid); 8 explicit sign bits per 8 weights live at qs[32..63].
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void decode_iq2_s(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq2_s*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq2_s& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        const uint8_t* idx_lo = blk.qs;
        const uint8_t* sign_bytes = blk.qs + QK_K / 8;
        for (int g = 0; g < QK_K / 32; ++g) {
            const float db[2] = {d * (0.5f + (float)(blk.scales[g] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(blk.scales[g] >> 4)) * 0.25f};
            for (int l = 0; l < 4; ++l) {
                const unsigned idx = idx_lo[4 * g + l] | (((unsigned)blk.qh[g] >> (2 * l) & 3u) << 8);
                const uint64_t point = iq2s_grid[idx];
                const uint8_t signs = sign_bytes[4 * g + l];
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
