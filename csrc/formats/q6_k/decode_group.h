// Q6_K decode (ggml dequantize_row_q6_K): value = (d * sc) * (q - 32), q = 4 low bits from ql and 2
// high bits from qh, an int8 scale per 16 weights. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q6_k*) { return 16; }
DGK_HD ScaleHead decode_head(const block_q6_k& b) { return {fp16_to_f32(b.d)}; }

// Element e = 128h + 32k + l: nibble k/2 of ql[64h + 32(k%2) + l], bits 2k of qh[32h + l], scale
// scales[8h + l/16 + 2k].
DGK_HD void decode_run(const block_q6_k& b, ScaleHead hd, int e0, int n, float* y) {
    const int h = e0 >> 7, k = (e0 >> 5) & 3, l0 = e0 & 31;
    const uint8_t* ql = b.ql + 64 * h + 32 * (k & 1) + l0;
    const uint8_t* qh = b.qh + 32 * h + l0;
    // (d * scale) first, then the quant: the second product can round, keep the order.
    const float ds = xmul(hd.d, (float)b.scales[8 * h + (l0 >> 4) + 2 * k]);
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) {
        const int q = (((ql[j] >> (4 * (k >> 1))) & 0xF) | (((qh[j] >> (2 * k)) & 3) << 4)) - 32;
        y[j] = xmul(ds, (float)q);
    }
}

}  // namespace dgk
