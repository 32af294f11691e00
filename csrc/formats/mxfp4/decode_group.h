// MXFP4 decode (ggml dequantize_row_mxfp4): value = kvalues_mxfp4[nibble] * (2^(e-127) / 2), the
// kvalues being the e2m1 values doubled. Host+device; see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"
#include "block.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_mxfp4*) { return 16; }
DGK_HD ScaleHead decode_head(const block_mxfp4& b) { return {ref::e8m0_half(b.e)}; }

DGK_HD void decode_run(const block_mxfp4& b, ScaleHead h, int e0, int n, float* y) {
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) y[j] = xmul((float)DGK_TAB(kvalues_mxfp4)[nibble32(b.qs, e0, j)], h.d);
}

}  // namespace dgk
