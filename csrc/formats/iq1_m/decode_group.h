// IQ1_M decode (ggml dequantize_row_iq1_m). The fp16 super-block scale is scattered over the top nibbles
// of the four u16 scale words; the low 12 bits of each word hold four 3-bit sub-scales (one per 16
// weights). qh nibbles carry 3 high index bits and the shift sign per 8 weights. Host+device; see
// common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq1_m*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq1_m& b) {
    uint32_t sc[4];
    for (int i = 0; i < 4; ++i) sc[i] = load_u16(b.scales + 2 * i);
    return {fp16_to_f32((uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0u) | ((sc[2] >> 4) & 0x0f00u) |
                                   (sc[3] & 0xf000u)))};
}

DGK_HD void decode_run(const block_iq1_m& b, ScaleHead hd, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const unsigned sub = (load_u16(b.scales + 2 * (G / 2)) >> (6 * (G % 2) + 3 * (l / 2))) & 7u;
    const float dl = xmul(hd.d, (float)(2 * sub + 1));
    const unsigned nib = (unsigned)b.qh[2 * G + l / 2] >> (4 * (l % 2));
    iq1_grid8(dl, b.qs[4 * G + l] | ((nib & 7u) << 8), (nib & 8u) ? -0.125f : 0.125f, y);
}

}  // namespace dgk
