// Pieces shared by the legacy 32-weight formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): ggml's block
// statistics, its float -> byte conversions as x86-64 executes them, the nibble / 5th-bit layouts,
// and the row statistics of the imatrix encoders. Host+device (DGK_HD): the CUDA module uses them too.
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {
// Internal linkage on purpose: a translation unit built with AVX2 flags that includes this header
// gets its own copy instead of one the linker could substitute for the scalar one.
namespace {

// ggml converts floats with C casts such as `(int8_t)(v + 8.5f)`. GCC on x86-64 emits cvttss2si
// into a 32-bit register (NaN and out-of-range inputs give INT32_MIN) and keeps the low byte.
// That is what happens for blocks whose scale is subnormal (1/d = inf, 0*inf = NaN), so we do the
// same in well-defined integer arithmetic.
DGK_HD int32_t cvtt_i32(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
    return static_cast<int32_t>(v);
}
// `(int8_t)v` for v = cvtt_i32(...): the low byte read as two's complement.
DGK_HD int low_byte_s8(int32_t v) {
    const int b = static_cast<int>(static_cast<uint32_t>(v) & 0xffu);
    return b >= 128 ? b - 256 : b;
}
// `(uint8_t)v`: the low byte.
DGK_HD int low_byte_u8(int32_t v) { return static_cast<int>(static_cast<uint32_t>(v) & 0xffu); }

// ggml's `MIN(hi, (int8_t)v)` stored into a uint8_t local (a negative value wraps to 128..255).
DGK_HD uint8_t clamp_s8_to_u8(float v, int hi) {
    const int s = low_byte_s8(cvtt_i32(v));
    return static_cast<uint8_t>((s < hi ? s : hi) & 0xff);
}

// The signed value of the first element of largest magnitude (strict `<` keeps the first one).
// Starts from +0.0, so an all-zero block yields +0.0 and its scale max/-k becomes -0.0.
DGK_HD float signed_absmax(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; ++j) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

// Sequential min and max from +-FLT_MAX with strict comparisons (first occurrence wins).
DGK_HD void block_min_max(const float* x, float* mn, float* mx) {
    float lo = 3.40282347e+38f, hi = -3.40282347e+38f;
    for (int j = 0; j < QK; ++j) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

// 4-bit layout: byte j holds element j (low nibble) and element j+16 (high nibble). The Q4 encoders
// store the first value unmasked, as ggml does; in range (0..15) that is the same as masking.
DGK_HD void pack_q4(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < QK / 2; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + QK / 2] << 4));
}

// 5-bit layout: low nibbles as Q4, bit 4 of element j goes to bit j of the little-endian qh word.
DGK_HD void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
    uint32_t high = 0;
    for (int j = 0; j < QK / 2; ++j) {
        qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + QK / 2] & 0x0f) << 4));
        high |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
        high |= static_cast<uint32_t>((q[j + QK / 2] >> 4) & 1) << (j + QK / 2);
    }
    for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(high >> (8 * b));
}

// Imatrix encoders: sigma^2 is the mean square of the whole row (sequential fp32 sum, then a
// division by the row length converted to float).
DGK_HD float row_sigma2(const float* x, int64_t n) {
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) sum += x[j] * x[j];
    return sum / static_cast<float>(n);
}

// Per-element weights qw[j] * sqrt(sigma^2 + x[j]^2) of one block.
DGK_HD void imatrix_weights(const float* xb, const float* qw, float sigma2, float* w) {
    for (int j = 0; j < QK; ++j) w[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
}

}  // namespace
}  // namespace dgk::ref
