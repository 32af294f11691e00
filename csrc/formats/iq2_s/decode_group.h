// IQ2_S decode (ggml dequantize_row_iq2_s). Grid index = qs byte | 2 bits from qh (10 bits, so always
// inside the 1024-entry grid); 8 explicit sign bits per 8 weights live at qs[32..63]. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq2_s*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq2_s& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq2_s& b, ScaleHead h, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const float db = xmul(xmul(h.d, 0.5f + (float)((b.scales[G] >> (4 * (l / 2))) & 0xf)), 0.25f);
    const unsigned idx = b.qs[4 * G + l] | ((((unsigned)b.qh[G] >> (2 * l)) & 3u) << 8);
    signed_grid8(db, DGK_TAB(iq2s_grid)[idx], b.qs[QK_K / 8 + 4 * G + l], y);
}

}  // namespace dgk
