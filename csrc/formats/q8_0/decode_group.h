// Q8_0 decode (ggml dequantize_row_q8_0): value = q * d. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q8_0*) { return QK; }
DGK_HD ScaleHead decode_head(const block_q8_0& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_q8_0& b, ScaleHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul((float)b.qs[e0 + j], h.d);
}

}  // namespace dgk
