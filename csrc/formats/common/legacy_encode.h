// The block encoders of the legacy formats, host+device (DGK_HD): the scalar reference loops them over
// a row (encode_rows_* below) and the CUDA module runs them one block per thread, so both encode with
// the same code. A block encoder writes the fp16 factors and the 32 levels; packing them is the
// format's (legacy_pack.h's pack_q4 / pack_q5).
#pragma once
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "legacy_pack.h"
#include "scale_search.h"

namespace dgk::ref {
namespace {

// Q4_0 (NMAX 8) and Q5_0 (NMAX 16): without imatrix ggml's quantize_row_q{4,5}_0_ref (d = signed
// extreme / -NMAX, so the extreme maps to q = 0 and the other side gets the spare level;
// q = MIN(2NMAX-1, (int8)(x/d + NMAX + 0.5)), truncating, i.e. rounding half up), with one
// quantize_row_q{4,5}_0_impl (weighted symmetric search, L = level + NMAX). qw: the block's slice of
// the importance matrix or null; sigma2: row_sigma2 of the row (read only with qw).
template <int NMAX>
DGK_HD void encode_symmetric_block(const float* xb, const float* qw, float sigma2, uint16_t* d_out, uint8_t* q) {
    if (!qw) {
        const float d = signed_absmax(xb) / -NMAX;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        *d_out = f32_to_fp16(d);
        for (int j = 0; j < QK; ++j) q[j] = clamp_s8_to_u8(xb[j] * id + (NMAX + 0.5f), 2 * NMAX - 1);
        return;
    }
    float w[QK];
    int8_t L[QK];
    imatrix_weights(xb, qw, sigma2, w);
    *d_out = f32_to_fp16(make_qx_quants(QK, NMAX, xb, L, 1, w));
    for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>(L[j]);
}

// Q4_1 (NMAX 15) and Q5_1 (NMAX 31): without imatrix ggml's quantize_row_q{4,5}_1_ref (d spans
// [min, max] in NMAX steps, q = level((x - min)/d + 0.5): MIN(15, (int8)v) for Q4_1, (uint8)v for
// Q5_1), with one quantize_row_q{4,5}_1_impl (weighted (scale, min) search; make_qkx3_quants reports
// -min, stored negated back).
template <int NMAX>
DGK_HD void encode_asymmetric_block(const float* xb, const float* qw, float sigma2, uint16_t* d_out,
                                    uint16_t* m_out, uint8_t* q) {
    if (!qw) {
        float mn, mx;
        block_min_max(xb, &mn, &mx);
        const float d = (mx - mn) / NMAX;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        *d_out = f32_to_fp16(d);
        *m_out = f32_to_fp16(mn);
        for (int j = 0; j < QK; ++j) {
            const float v = (xb[j] - mn) * id + 0.5f;
            q[j] = NMAX == 15 ? clamp_s8_to_u8(v, 15) : static_cast<uint8_t>(low_byte_u8(cvtt_i32(v)));
        }
        return;
    }
    float w[QK];
    uint8_t Laux[QK];
    imatrix_weights(xb, qw, sigma2, w);
    float neg_min;
    const float d = make_qkx3_quants(QK, NMAX, xb, w, q, &neg_min, Laux, -0.9f, 0.05f, 36, false);
    *d_out = f32_to_fp16(d);
    *m_out = f32_to_fp16(-neg_min);
}

// Q8_0 (quantize_row_q8_0_ref): d = amax/127 and q = roundf(x * (1/d)): the reference multiplies by
// the reciprocal and rounds half away from zero (ggml's AVX2 from_float does neither, which is why it
// is not the reference). ggml ignores the importance matrix for this format.
DGK_HD void encode_q8_0_block(const float* xb, block_q8_0& out) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) {
        const float a = fabsf(xb[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    for (int j = 0; j < QK; ++j) out.qs[j] = static_cast<int8_t>(low_byte_s8(cvtt_i32(roundf(xb[j] * id))));
}

// Row loops of the scalar reference; pack(q, block) stores the 32 levels.
template <int NMAX, class Block, class Pack>
inline void encode_rows_symmetric(const float* x, Block* out, int64_t n, const float* imatrix, Pack&& pack) {
    const float sigma2 = imatrix ? row_sigma2(x, n) : 0.0f;
    uint8_t q[QK];
    for (int64_t b = 0; b < n / QK; ++b) {
        encode_symmetric_block<NMAX>(x + b * QK, imatrix ? imatrix + b * QK : nullptr, sigma2, &out[b].d, q);
        pack(q, out[b]);
    }
}

template <int NMAX, class Block, class Pack>
inline void encode_rows_asymmetric(const float* x, Block* out, int64_t n, const float* imatrix, Pack&& pack) {
    const float sigma2 = imatrix ? row_sigma2(x, n) : 0.0f;
    uint8_t q[QK];
    for (int64_t b = 0; b < n / QK; ++b) {
        encode_asymmetric_block<NMAX>(x + b * QK, imatrix ? imatrix + b * QK : nullptr, sigma2, &out[b].d,
                                      &out[b].m, q);
        pack(q, out[b]);
    }
}

}  // namespace
}  // namespace dgk::ref
