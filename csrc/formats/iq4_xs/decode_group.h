// IQ4_XS decode (ggml dequantize_row_iq4_xs): 8 sub-blocks of 32 laid out as IQ4_NL, each with a 6-bit
// scale (low 4 bits in scales_l, high 2 in scales_h), value = (d * (ls - 32)) * kvalues_iq4nl[nibble].
// Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq4_xs*) { return 16; }
DGK_HD ScaleHead decode_head(const block_iq4_xs& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq4_xs& b, ScaleHead h, int e0, int n, float* y) {
    const int G = e0 >> 5;
    const int ls = ((b.scales_l[G / 2] >> 4 * (G % 2)) & 0x0f) | (((b.scales_h >> 2 * G) & 3) << 4);
    const float dl = xmul(h.d, (float)(ls - 32));
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul(dl, (float)DGK_TAB(kvalues_iq4nl)[nibble32(b.qs + 16 * G, e0 & 31, j)]);
}

}  // namespace dgk
