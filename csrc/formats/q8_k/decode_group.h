// Q8_K decode (ggml dequantize_row_q8_K): value = d * q with an fp32 d. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q8_k*) { return QK_K; }
DGK_HD ScaleHead decode_head(const block_q8_k& b) { return {b.d}; }

DGK_HD void decode_run(const block_q8_k& b, ScaleHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul(h.d, (float)b.qs[e0 + j]);
}

}  // namespace dgk
