// The Q4_K and Q5_K run decoder, host+device (see block_decode.h): 8 sub-blocks of 32 with a 6-bit
// scale and min each, value = (d*sc) * q - dmin*m; Q5_K adds bit 4 of each level from qh.
#pragma once
#include "block_decode.h"
#include "kquant_scales.h"

namespace dgk {

// Element e = 64c + 32*half + l: nibble `half` of qs[32c + l]; Q5_K's high bit is bit 2c+half of qh[l].
template <bool HighBit, class Block>
DGK_HD void decode_run_q45_k(const Block& b, ScaleMinHead h, int e0, int n, float* y) {
    const int c = e0 >> 6, half = (e0 >> 5) & 1, l0 = e0 & 31;
    uint8_t sc, m;
    kq::unpack_scale_min6(b.scales, 2 * c + half, &sc, &m);
    const float dl = xmul(h.d, (float)sc), ml = xmul(h.m, (float)m);
    const uint8_t* q = b.qs + 32 * c + l0;
    DGK_RUN_LOOP
    for (int j = 0; j < n; ++j) {
        int v = (q[j] >> (4 * half)) & 0xF;
        if constexpr (HighBit) v += (b.qh[l0 + j] & (1u << (2 * c + half))) ? 16 : 0;
        y[j] = xsub(xmul(dl, (float)v), ml);
    }
}

}  // namespace dgk
