// Q2_K decode (ggml dequantize_row_q2_K): 16 sub-blocks of 16, value = (d*sc) * q - dmin*m with a
// 4-bit scale and min per sub-block. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q2_k*) { return 16; }
DGK_HD ScaleMinHead decode_head(const block_q2_k& b) { return {fp16_to_f32(b.d), fp16_to_f32(b.dmin)}; }

// Sub-block s = e/16 covers elements 16s..16s+15: half s/8 of the qs bytes, bit pair (s%8)/2, first or
// second 16 bytes by s%2.
DGK_HD void decode_run(const block_q2_k& b, ScaleMinHead h, int e0, int n, float* y) {
    const int s = e0 >> 4;
    const float dl = xmul(h.d, (float)(b.scales[s] & 0xF));
    const float ml = xmul(h.m, (float)(b.scales[s] >> 4));
    const uint8_t* q = b.qs + 32 * (s >> 3) + 16 * (s & 1) + (e0 & 15);
    const int shift = 2 * ((s & 7) >> 1);
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xsub(xmul(dl, (float)((q[j] >> shift) & 3)), ml);
}

}  // namespace dgk
