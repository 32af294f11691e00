// Pieces shared by the IQ group decoders (host+device, see block_decode.h).
#pragma once
#include "block_decode.h"

namespace dgk {

// Eight weights from an 8-byte grid point and 8 sign bits: +-(db * magnitude), the sign flipped as a bit
// (xneg_if), so NaN lanes (from NaN fp16 scales) keep their payload and carry the flipped sign at every
// -O level, on every ISA and on the device.
DGK_HD void signed_grid8(float db, uint64_t point, unsigned signs, float* y) {
    for (int j = 0; j < 8; ++j) {
        const float v = xmul(db, (float)((point >> (8 * j)) & 0xffu));
        y[j] = xneg_if(v, (signs >> j) & 1u);
    }
}

// IQ1_S / IQ1_M: an 11-bit index into iq1s_grid (int8 coordinates), value = dl * (coordinate + shift).
DGK_HD void iq1_grid8(float dl, unsigned idx, float shift, float* y) {
    const uint64_t point = DGK_TAB(iq1s_grid)[idx];
    for (int j = 0; j < 8; ++j) y[j] = xmul(dl, (float)(int8_t)(uint8_t)(point >> (8 * j)) + shift);
}

}  // namespace dgk
