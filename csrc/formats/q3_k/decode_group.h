// Q3_K decode (ggml dequantize_row_q3_K): 16 sub-blocks of 16 with 6-bit signed scales, value =
// (d*sc) * q, q = low 2 bits from qs minus 4 where the hmask bit is clear. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/block_decode.h"
#include "../common/kquant_scales.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_q3_k*) { return 16; }
DGK_HD ScaleHead decode_head(const block_q3_k& b) { return {fp16_to_f32(b.d)}; }

// Element e = 16s + l: low bits from qs[32*(e/128) + e%32] at bit 2*((e/32)%4), high bit from
// hmask[e%32] at bit e/32.
DGK_HD void decode_run(const block_q3_k& b, ScaleHead h, int e0, int n, float* y) {
    const int s = e0 >> 4;
    const float dl = xmul(h.d, (float)kq::unpack_scale6_q3(b.scales, s));
    const int off = e0 & 31;
    const uint8_t* q = b.qs + 32 * (s >> 3) + off;
    const uint8_t* hm = b.hmask + off;
    const int shift = 2 * ((s & 7) >> 1);
    const unsigned hbit = 1u << (s >> 1);
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) {
        const int v = ((q[j] >> shift) & 3) - ((hm[j] & hbit) ? 0 : 4);
        y[j] = xmul(dl, (float)v);
    }
}

}  // namespace dgk
