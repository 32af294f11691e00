// TQ2_0 decode (ggml dequantize_row_tq2_0): value = (code - 1) * d with 2-bit codes (code 3 never comes
// from the encoder; it decodes to 2*d like ggml). Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_tq2_0*) { return 32; }
DGK_HD ScaleHead decode_head(const block_tq2_0& b) { return {fp16_to_f32(b.d)}; }

// Element 128c + 32k + i: bits 2k of qs[32c + i].
DGK_HD void decode_run(const block_tq2_0& b, ScaleHead h, int e0, int n, float* y) {
    const uint8_t* q = b.qs + 32 * (e0 >> 7) + (e0 & 31);
    const int shift = 2 * ((e0 >> 5) & 3);
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul((float)(((q[j] >> shift) & 3) - 1), h.d);
}

}  // namespace dgk
