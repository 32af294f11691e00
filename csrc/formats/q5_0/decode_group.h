// Q5_0 decode (ggml dequantize_row_q5_0): 4 low bits in qs, the 5th bits in the u32 qh,
// value = (q - 16) * d. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

// Level of element e0+j of a Q5_0/Q5_1 block.
DGK_HD int q5_level(const uint8_t* qs, const uint8_t* qh, int e0, int j) {
    return nibble32(qs, e0, j) | (int)(((load_u32(qh) >> (e0 + j)) & 1u) << 4);
}

DGK_HD constexpr int decode_run_len(const block_q5_0*) { return 16; }
DGK_HD ScaleHead decode_head(const block_q5_0& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_q5_0& b, ScaleHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul((float)(q5_level(b.qs, b.qh, e0, j) - 16), h.d);
}

}  // namespace dgk
