// Q4_1 decode (ggml dequantize_row_q4_1): value = q * d + m. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q4_1*) { return 16; }
DGK_HD ScaleMinHead decode_head(const block_q4_1& b) { return {fp16_to_f32(b.d), fp16_to_f32(b.m)}; }

DGK_HD void decode_run(const block_q4_1& b, ScaleMinHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = scaled_plus_min((float)nibble32(b.qs, e0, j), h);
}

}  // namespace dgk
