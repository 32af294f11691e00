// Q5_K decode (ggml dequantize_row_q5_K), host+device: common/kquant_decode_q45.h with qh's high bits.
#pragma once
#include "../common/kquant_decode_q45.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q5_k*) { return 32; }
DGK_HD ScaleMinHead decode_head(const block_q5_k& b) { return {fp16_to_f32(b.d), fp16_to_f32(b.dmin)}; }

DGK_HD void decode_run(const block_q5_k& b, ScaleMinHead h, int e0, int n, float* y) {
    decode_run_q45_k<true>(b, h, e0, n, y);
}

}  // namespace dgk
