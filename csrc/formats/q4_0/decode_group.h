// Q4_0 decode (ggml dequantize_row_q4_0): value = (q - 8) * d. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q4_0*) { return 16; }
DGK_HD ScaleHead decode_head(const block_q4_0& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_q4_0& b, ScaleHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul((float)(nibble32(b.qs, e0, j) - 8), h.d);
}

}  // namespace dgk
