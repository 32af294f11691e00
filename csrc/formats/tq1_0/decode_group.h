// TQ1_0 decode (ggml dequantize_row_tq1_0): value = trit * d, 5 trits per byte (4 in qh). Host+device;
// see common/block_decode.h.
#pragma once
#include "../common/block_decode.h"
#include "../common/ternary.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_tq1_0*) { return 8; }
DGK_HD ScaleHead decode_head(const block_tq1_0& b) { return {fp16_to_f32(b.d)}; }

// Trit k of qs[i] is element 32k + i (k < 5); of qs[32 + i], element 160 + 16k + i; of qh[i] (i < 4),
// element 240 + 4k + i: runs of 8 below 240 read one trit of 8 bytes, the last two runs two of 4.
DGK_HD void decode_run(const block_tq1_0& b, ScaleHead h, int e0, int /*n: always 8*/, float* y) {
    for (int j = 0; j < 8; ++j) {
        const int t = e0 < 160   ? ref::unpack_trit(b.qs[(e0 & 31) + j], e0 >> 5)
                      : e0 < 240 ? ref::unpack_trit(b.qs[32 + ((e0 - 160) & 15) + j], (e0 - 160) >> 4)
                                 : ref::unpack_trit(b.qh[j & 3], ((e0 - 240) >> 2) + (j >> 2));
        y[j] = xmul((float)t, h.d);
    }
}

}  // namespace dgk
