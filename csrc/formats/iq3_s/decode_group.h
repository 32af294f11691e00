// IQ3_S decode (ggml dequantize_row_iq3_s). Grid index = qs byte | one high bit from qh (9 bits, always
// inside the 512-entry grid); 8 explicit sign bits per 8 weights; a 4-bit scale per 32 weights, decoded
// as d * (1 + 2s). Host+device; see common/block_decode.h.
#pragma once
#include "../common/iq_decode.h"

namespace dgk {

DGK_HD constexpr int decode_run_len(const block_iq3_s*) { return 8; }
DGK_HD ScaleHead decode_head(const block_iq3_s& b) { return {fp16_to_f32(b.d)}; }

DGK_HD void decode_run(const block_iq3_s& b, ScaleHead h, int e0, int /*n: always 8*/, float* y) {
    const int G = e0 >> 5, l = (e0 >> 3) & 3;
    const unsigned s = (b.scales[G / 2] >> (4 * (G % 2))) & 0xfu;
    const float db = xmul(h.d, (float)(1 + 2 * s));
    const uint8_t* idx = b.qs + 8 * G + 2 * l;
    const unsigned high = (unsigned)b.qh[G] >> (2 * l);  // bit k: 9th index bit of grid point k
    const uint32_t p0 = DGK_TAB(iq3s_grid)[idx[0] | ((high & 1u) << 8)];
    const uint32_t p1 = DGK_TAB(iq3s_grid)[idx[1] | (((high >> 1) & 1u) << 8)];
    signed_grid8(db, (uint64_t)p0 | ((uint64_t)p1 << 32), b.signs[4 * G + l], y);
}

}  // namespace dgk
