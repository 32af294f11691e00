// MXFP4: 32 e2m1 values sharing one e8m0 exponent byte. kvalues_mxfp4 holds the e2m1 values
// doubled (integers), so the decoded scale is half the e8m0 power of two.
// qs[j]: low nibble = element j, high nibble = element j + 16.
#include <cmath>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

namespace {

// 2^(e-127) / 2 as ggml computes it: bit patterns, so e = 0 and 1 give the subnormals 2^-128, 2^-127.
inline float e8m0_half(uint8_t e) {
    return bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

// Exponent byte for a block whose largest magnitude is amax > 0: floor(log2(amax)) - 2 + 127.
// ggml converts that float straight to uint8_t; x86 does it through a 32-bit int, so values below
// zero (amax < 2^-125) wrap modulo 256. We reproduce the wrap explicitly (the golden vectors show it).
inline uint8_t e8m0_for(float amax) {
    const float e = floorf(log2f(amax)) - 2 + 127;  // integral, in [-24, 253] for finite amax
    return (uint8_t)((int)e & 0xff);
}

// First index whose kvalue*d is nearest to v (strict <, so ties keep the lower index).
inline uint8_t nearest_kvalue(float v, float d) {
    int best = 0;
    float best_err = std::fabs(kvalues_mxfp4[0] * d - v);
    for (int i = 1; i < 16; ++i) {
        const float err = std::fabs(kvalues_mxfp4[i] * d - v);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return (uint8_t)best;
}

}  // namespace

void decode_mxfp4(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_mxfp4*>(src);
    for (int64_t i = 0; i < nblocks; ++i, dst += QK) {
        const float d = e8m0_half(blk[i].e);
        for (int j = 0; j < QK / 2; ++j) {
            dst[j] = kvalues_mxfp4[blk[i].qs[j] & 0x0f] * d;
            dst[j + QK / 2] = kvalues_mxfp4[blk[i].qs[j] >> 4] * d;
        }
    }
}

void encode_mxfp4(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_mxfp4*>(dst);
    for (int64_t i = 0; i < n / QK; ++i, x += QK) {
        float amax = 0.0f;
        for (int j = 0; j < QK; ++j)
            if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
        const uint8_t e = amax > 0.0f ? e8m0_for(amax) : 0;
        const float d = e8m0_half(e);
        blk[i].e = e;
        for (int j = 0; j < QK / 2; ++j)
            blk[i].qs[j] = (uint8_t)(nearest_kvalue(x[j], d) | nearest_kvalue(x[j + QK / 2], d) << 4);
    }
}

}  // namespace dgk::ref
