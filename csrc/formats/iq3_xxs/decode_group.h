// IQ3_XXS decode (ggml dequantize_row_iq3_xxs). qs[0..63]: one 8-bit grid index per 4 weights;
// qs[64..95]: per 32 weights a little-endian u32 of four 7-bit sign codes and a 4-bit scale.
// Host+device; see common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq3_xxs*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq3_xxs& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq3_xxs& b, ScaleHead h, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const uint32_t aux = load_u32(b.qs + QK_K / 4 + 4 * G);
    const float db = xmul(xmul(h.d, 0.5f + (float)(aux >> 28)), 0.5f);
    // Eight weights = two 4-weight grid points; byte j of a point is weight j.
    const uint8_t* idx = b.qs + 8 * G + 2 * l;
    const uint64_t pair = (uint64_t)DGK_TAB(iq3xxs_grid)[idx[0]] | ((uint64_t)DGK_TAB(iq3xxs_grid)[idx[1]] << 32);
    signed_grid8(db, pair, DGK_TAB(ksigns_iq2xs)[(aux >> (7 * l)) & 127u], y);
}

}  // namespace dgk
