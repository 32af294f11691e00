// MXFP4 per-block pieces, host+device: the e8m0 scale both ways and the block encoder (ggml's
// quantize_row_mxfp4_ref). The scalar reference (ref.cpp) and the CUDA module run the same code.
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/tables_hd.h"

namespace dgk::ref {

// 2^(e-127) / 2 as ggml computes it: bit patterns, so e = 0 and 1 give the subnormals 2^-128, 2^-127.
DGK_HD float e8m0_half(uint8_t e) { return bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23); }

// Exponent byte for a block whose largest magnitude is amax > 0: floor(log2(amax)) - 2 + 127.
// ggml converts that float straight to uint8_t; x86 does it through a 32-bit int, so values below
// zero (amax < 2^-125) wrap modulo 256. We reproduce the wrap explicitly (the golden vectors show it).
// The host evaluates log2f (glibc, as ggml); the device evaluates log2 in double rounded to float, which
// equals a correctly rounded log2f: only the floor matters, and both agree at every power-of-two edge.
DGK_HD uint8_t e8m0_for(float amax) {
#if defined(__CUDA_ARCH__)
    const float lg = (float)log2((double)amax);
#else
    const float lg = log2f(amax);
#endif
    const float e = floorf(lg) - 2 + 127;  // integral, in [-24, 253] for finite amax
    return (uint8_t)((int)e & 0xff);
}

// First index whose kvalue*d is nearest to v (strict <, so ties keep the lower index).
DGK_HD uint8_t nearest_kvalue(float v, float d) {
    const int8_t* k = DGK_TAB(kvalues_mxfp4);
    int best = 0;
    float best_err = fabsf(k[0] * d - v);
    for (int i = 1; i < 16; ++i) {
        const float err = fabsf(k[i] * d - v);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return (uint8_t)best;
}

// qs[j]: low nibble = element j, high nibble = element j + 16.
DGK_HD void encode_mxfp4_block(const float* x, block_mxfp4& b) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]);
    const uint8_t e = amax > 0.0f ? e8m0_for(amax) : 0;
    const float d = e8m0_half(e);
    b.e = e;
    for (int j = 0; j < QK / 2; ++j) b.qs[j] = (uint8_t)(nearest_kvalue(x[j], d) | nearest_kvalue(x[j + QK / 2], d) << 4);
}

}  // namespace dgk::ref
