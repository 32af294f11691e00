// Helpers shared by the ternary formats TQ1_0 and TQ2_0 (ggml's quantize_row_tq{1,2}_0_ref and the
// TQ1_0 trit layout). Host+device (DGK_HD: `static`, so a file built with AVX2 flags that includes
// this gets its own copy, and __host__ __device__ under nvcc for the CUDA module).
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {

// Largest |x| of one 256-weight block (ggml's MAX(amax, fabsf(v)) scan; the scale itself).
DGK_HD float ternary_amax(const float* x) {
    float amax = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

// Trit code 0, 1, 2 for -1, 0, +1: lroundf(v) + 1 (ties away from zero, as roundf).
// v = x/amax lies in [-1, 1] up to one rounding, except when 1/amax overflows (amax subnormal):
// then v is +-inf or NaN, for which x86 lroundf returns LONG_MIN, whose low 32 bits give code 1.
DGK_HD int ternary_digit(float v) {
    if (!(fabsf(v) <= 2.0f)) return 1;
    const int r = (int)roundf(v);
    return r < -1 ? 0 : r > 1 ? 2 : r + 1;
}

// TQ1_0 packs 5 trits per byte as the fraction t/243 scaled to 256 (rounded up), most significant
// trit first. Packs `count` trit codes taken from x at stride `stride` (scaled by id), padded to 5.
DGK_HD uint8_t pack_trits(const float* x, int stride, int count, float id) {
    unsigned t = 0;
    for (int k = 0; k < count; ++k) t = t * 3 + (unsigned)ternary_digit(x[k * stride] * id);
    for (int k = count; k < 5; ++k) t *= 3;
    return (uint8_t)((t * 256 + 242) / 243);
}

// Trit k (0 = most significant) of a packed byte, as -1, 0 or 1.
DGK_HD int unpack_trit(uint8_t byte, int k) {
    const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t shifted = (uint8_t)(byte * pow3[k]);  // wraps mod 256 on purpose
    return ((int)shifted * 3 >> 8) - 1;
}

// TQ1_0 block encoder: qs[b] holds elements b + 32k (k < 5), qs[32 + b] elements 160 + b + 16k,
// qh[b] elements 240 + b + 4k (k < 4).
DGK_HD void encode_tq1_0_block(const float* x, block_tq1_0& b) {
    const float d = ternary_amax(x);
    const float id = d ? 1.0f / d : 0.0f;
    b.d = f32_to_fp16(d);
    for (int i = 0; i < 32; ++i) b.qs[i] = pack_trits(x + i, 32, 5, id);
    for (int i = 0; i < 16; ++i) b.qs[32 + i] = pack_trits(x + 160 + i, 16, 5, id);
    for (int i = 0; i < 4; ++i) b.qh[i] = pack_trits(x + 240 + i, 4, 4, id);
}

// TQ2_0 block encoder: byte i of 32-byte chunk c holds elements 128c + i + 32k in bits 2k..2k+1.
DGK_HD void encode_tq2_0_block(const float* x, block_tq2_0& b) {
    const float d = ternary_amax(x);
    const float id = d ? 1.0f / d : 0.0f;
    b.d = f32_to_fp16(d);
    for (int c = 0; c < 2; ++c) {
        const float* xc = x + 128 * c;
        for (int i = 0; i < 32; ++i) {
            uint8_t byte = 0;
            for (int k = 0; k < 4; ++k) byte |= (uint8_t)(ternary_digit(xc[i + 32 * k] * id) << (2 * k));
            b.qs[32 * c + i] = byte;
        }
    }
}

}  // namespace dgk::ref
