// IQ2_XXS decode (ggml dequantize_row_iq2_xxs). Per 32 weights: two little-endian u32 words, the first
// holding four 8-bit grid indices, the second four 7-bit sign codes and a 4-bit scale. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq2_xxs*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq2_xxs& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq2_xxs& b, ScaleHead h, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const uint8_t* w = (const uint8_t*)(b.qs + 4 * G);
    const uint32_t w0 = load_u32(w), w1 = load_u32(w + 4);
    // (d * (0.5 + s)) * 0.25: the reference's operation order.
    const float db = xmul(xmul(h.d, 0.5f + (float)(w1 >> 28)), 0.25f);
    signed_grid8(db, DGK_TAB(iq2xxs_grid)[(w0 >> (8 * l)) & 0xffu], DGK_TAB(ksigns_iq2xs)[(w1 >> (7 * l)) & 127u], y);
}

}  // namespace dgk
