// IQ1_S decode (ggml dequantize_row_iq1_s). Per 32 weights a u16 qh holds, from bit 0: four 3-bit high
// parts of the 11-bit grid indices, a 3-bit scale, and the sign of the +-0.125 shift. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq1_s*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq1_s& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq1_s& b, ScaleHead hd, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const unsigned h = b.qh[G];
    const float dl = xmul(hd.d, (float)(2 * ((h >> 12) & 7u) + 1));
    const float shift = (h & 0x8000u) ? -0.125f : 0.125f;
    iq1_grid8(dl, b.qs[4 * G + l] | (((h >> (3 * l)) & 7u) << 8), shift, y);
}

}  // namespace dgk
