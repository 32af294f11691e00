// IQ2_XS decode (ggml dequantize_row_iq2_xs). Each 8 weights: a u16 = 9-bit grid index | 7-bit sign
// code << 9; each 16 weights share a 4-bit scale (low nibble first). Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq2_xs*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq2_xs& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq2_xs& b, ScaleHead h, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const float db = xmul(xmul(h.d, 0.5f + (float)((b.scales[G] >> (4 * (l / 2))) & 0xf)), 0.25f);
    const unsigned code = b.qs[4 * G + l];
    // 9 bits: always inside the 512-entry grid; 7 sign bits.
    signed_grid8(db, DGK_TAB(iq2xs_grid)[code & 511u], DGK_TAB(ksigns_iq2xs)[code >> 9], y);
}

}  // namespace dgk
