// Q4_K decode (ggml dequantize_row_q4_K), host+device: common/kquant_decode_q45.h without high bits.
#pragma once
#include "../common/kquant_decode_q45.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q4_k*) { return 32; }
DGK_HD ScaleMinHead decode_head(const block_q4_k& b) { return {fp16_to_f32(b.d), fp16_to_f32(b.dmin)}; }

DGK_HD void decode_run(const block_q4_k& b, ScaleMinHead h, int e0, int n, float* y) {
    decode_run_q45_k<false>(b, h, e0, n, y);
}

}  // namespace dgk
