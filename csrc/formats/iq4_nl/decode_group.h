// IQ4_NL decode (ggml dequantize_row_iq4_nl): value = d * kvalues_iq4nl[nibble]. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq4_nl*) { return 16; }
DGK_HD ScaleHead decode_head(const block_iq4_nl& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq4_nl& b, ScaleHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul(h.d, (float)DGK_TAB(kvalues_iq4nl)[nibble32(b.qs, e0, j)]);
}

}  // namespace dgk
