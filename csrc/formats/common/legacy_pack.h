// Pieces shared by the legacy 32-weight formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): ggml's block
// statistics, its float -> byte conversions as x86-64 executes them, the nibble / 5th-bit layouts,
// and the row statistics of the imatrix encoders.
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "scale_search.h"

namespace dgk::ref {
// Internal linkage on purpose: a translation unit built with AVX2 flags that includes this header
// gets its own copy instead of one the linker could substitute for the scalar one.
namespace {

// ggml converts floats with C casts such as `(int8_t)(v + 8.5f)`. GCC on x86-64 emits cvttss2si
// into a 32-bit register (NaN and out-of-range inputs give INT32_MIN) and keeps the low byte.
// That is what happens for blocks whose scale is subnormal (1/d = inf, 0*inf = NaN), so we do the
// same in well-defined integer arithmetic.
inline int32_t cvtt_i32(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
    return static_cast<int32_t>(v);
}
// `(int8_t)v` for v = cvtt_i32(...): the low byte read as two's complement.
inline int low_byte_s8(int32_t v) {
    const int b = static_cast<int>(static_cast<uint32_t>(v) & 0xffu);
    return b >= 128 ? b - 256 : b;
}
// `(uint8_t)v`: the low byte.
inline int low_byte_u8(int32_t v) { return static_cast<int>(static_cast<uint32_t>(v) & 0xffu); }

// ggml's `MIN(hi, (int8_t)v)` stored into a uint8_t local (a negative value wraps to 128..255).
inline uint8_t clamp_s8_to_u8(float v, int hi) {
    const int s = low_byte_s8(cvtt_i32(v));
    return static_cast<uint8_t>((s < hi ? s : hi) & 0xff);
}

// The signed value of the first element of largest magnitude (strict `<` keeps the first one).
// Starts from +0.0, so an all-zero block yields +0.0 and its scale max/-k becomes -0.0.
inline float signed_absmax(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

// Sequential min and max from +-FLT_MAX with strict comparisons (first occurrence wins).
inline void block_min_max(const float* x, float* mn, float* mx) {
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
inline void pack_q4(const uint8_t* q, uint8_t* qs) {
    for (int j = 0; j < QK / 2; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + QK / 2] << 4));
}

// 5-bit layout: low nibbles as Q4, bit 4 of element j goes to bit j of the little-endian qh word.
inline void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
    uint32_t high = 0;
    for (int j = 0; j < QK / 2; ++j) {
        qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + QK / 2] & 0x0f) << 4));
        high |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
        high |= static_cast<uint32_t>((q[j + QK / 2] >> 4) & 1) << (j + QK / 2);
    }
    for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(high >> (8 * b));
}

inline void unpack_q4(const uint8_t* qs, int* q) {
    for (int j = 0; j < QK / 2; ++j) {
        q[j] = qs[j] & 0x0f;
        q[j + QK / 2] = qs[j] >> 4;
    }
}

inline void unpack_q5(const uint8_t* qs, const uint8_t* qh, int* q) {
    const uint32_t high = static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
                          static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
    for (int j = 0; j < QK; ++j) {
        const int nib = (j < QK / 2) ? (qs[j] & 0x0f) : (qs[j - QK / 2] >> 4);
        q[j] = nib | static_cast<int>(((high >> j) & 1u) << 4);
    }
}

// Imatrix encoders: sigma^2 is the mean square of the whole row (sequential fp32 sum, then a
// division by the row length converted to float).
inline float row_sigma2(const float* x, int64_t n) {
    float sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) sum += x[j] * x[j];
    return sum / static_cast<float>(n);
}

// Per-element weights qw[j] * sqrt(sigma^2 + x[j]^2) of one block.
inline void imatrix_weights(const float* xb, const float* qw, float sigma2, float* w) {
    for (int j = 0; j < QK; ++j) w[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// The scalar encoders of Q4_0 (nmax 8) and Q5_0 (nmax 16): without imatrix ggml's
// quantize_row_q{4,5}_0_ref (d = signed extreme / -nmax, so the extreme maps to q = 0 and the other
// side gets the spare level; q = MIN(2nmax-1, (int8)(x/d + nmax + 0.5)), truncating, i.e. rounding
// half up), with one quantize_row_q{4,5}_0_impl (weighted symmetric search, L = level + nmax).
// pack(q, block) stores the 32 levels.
template <class Block, class Pack>
inline void encode_symmetric(const float* x, Block* out, int64_t n, const float* imatrix, int nmax, Pack&& pack) {
    const int64_t nb = n / QK;
    uint8_t q[QK];
    if (!imatrix) {
        for (int64_t b = 0; b < nb; ++b) {
            const float* xb = x + b * QK;
            const float d = signed_absmax(xb) / -nmax;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            out[b].d = f32_to_fp16(d);
            for (int j = 0; j < QK; ++j) q[j] = clamp_s8_to_u8(xb[j] * id + (nmax + 0.5f), 2 * nmax - 1);
            pack(q, out[b]);
        }
        return;
    }
    const float sigma2 = row_sigma2(x, n);
    float w[QK];
    int8_t L[QK];
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + b * QK;
        imatrix_weights(xb, imatrix + b * QK, sigma2, w);
        out[b].d = f32_to_fp16(make_qx_quants(QK, nmax, xb, L, 1, w));
        for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>(L[j]);
        pack(q, out[b]);
    }
}

// The scalar encoders of Q4_1 (nmax 15) and Q5_1 (nmax 31): without imatrix ggml's
// quantize_row_q{4,5}_1_ref (d spans [min, max] in nmax steps, q = level((x - min)/d + 0.5), the
// byte conversion differing per format), with one quantize_row_q{4,5}_1_impl (weighted (scale, min)
// search; make_qkx3_quants reports -min, stored negated back). pack(q, block) stores the levels.
template <class Block, class Level, class Pack>
inline void encode_asymmetric(const float* x, Block* out, int64_t n, const float* imatrix, int nmax, Level&& level,
                              Pack&& pack) {
    const int64_t nb = n / QK;
    uint8_t q[QK];
    if (!imatrix) {
        for (int64_t b = 0; b < nb; ++b) {
            const float* xb = x + b * QK;
            float mn, mx;
            block_min_max(xb, &mn, &mx);
            const float d = (mx - mn) / nmax;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            out[b].d = f32_to_fp16(d);
            out[b].m = f32_to_fp16(mn);
            for (int j = 0; j < QK; ++j) q[j] = level((xb[j] - mn) * id + 0.5f);
            pack(q, out[b]);
        }
        return;
    }
    const float sigma2 = row_sigma2(x, n);
    float w[QK];
    uint8_t Laux[QK];
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + b * QK;
        imatrix_weights(xb, imatrix + b * QK, sigma2, w);
        float neg_min;
        const float d = make_qkx3_quants(QK, nmax, xb, w, q, &neg_min, Laux, -0.9f, 0.05f, 36, false);
        out[b].d = f32_to_fp16(d);
        out[b].m = f32_to_fp16(-neg_min);
        pack(q, out[b]);
    }
}

}  // namespace
}  // namespace dgk::ref
