// Q5_1: 32 weights as 5-bit q (4 low bits in qs, 5th bits in qh) with fp16 scale d and offset m,
// value = q * d + m. Encoders follow ggml's quantize_row_q5_1_ref and quantize_row_q5_1_impl.
#include "../common/legacy_pack.h"
#include "../common/scale_search.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q5_1(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_1*>(src);
    int q[QK];
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const float d = fp16_to_f32(blocks[b].d);
        const float m = fp16_to_f32(blocks[b].m);
        unpack_q5(blocks[b].qs, blocks[b].qh, q);
        for (int j = 0; j < QK; ++j) {
            // If q*d and m are both NaN, keep the product's NaN (as ggml's build does) rather than
            // whichever operand the compiler happens to put first.
            const float p = static_cast<float>(q[j]) * d;
            dst[j] = p != p ? p : p + m;
        }
    }
}

// d spans [min, max] in 31 steps; q = (uint8)((x - min)/d + 0.5) with no clamp (ggml has none
// here: the top value reaches at most 31).
static void encode_block_plain(const float* x, block_q5_1& out) {
    float mn, mx;
    block_min_max(x, &mn, &mx);
    const float d = (mx - mn) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    out.m = f32_to_fp16(mn);
    uint8_t q[QK];
    for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>(low_byte_u8(cvtt_i32((x[j] - mn) * id + 0.5f)));
    pack_q5(q, out.qs, out.qh);
}

void encode_q5_1(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q5_1*>(dst);
    const int64_t nb = n / QK;
    if (!imatrix) {
        for (int64_t b = 0; b < nb; ++b) encode_block_plain(x + b * QK, out[b]);
        return;
    }
    // Weighted (scale, min) search; make_qkx3_quants reports -min, stored negated back.
    const float sigma2 = row_sigma2(x, n);
    float w[QK];
    uint8_t L[QK], Laux[QK];
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + b * QK;
        imatrix_weights(xb, imatrix + b * QK, sigma2, w);
        float neg_min;
        const float d = make_qkx3_quants(QK, 31, xb, w, L, &neg_min, Laux, -0.9f, 0.05f, 36, false);
        out[b].d = f32_to_fp16(d);
        out[b].m = f32_to_fp16(-neg_min);
        pack_q5(L, out[b].qs, out[b].qh);
    }
}

}  // namespace dgk::ref
