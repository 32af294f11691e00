// Q5_0: 32 weights as 5-bit q (4 low bits in qs, 5th bits in qh) with one fp16 scale,
// value = (q - 16) * d. Encoders follow ggml's quantize_row_q5_0_ref and quantize_row_q5_0_impl.
#include "../common/legacy_pack.h"
#include "../common/scale_search.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q5_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_0*>(src);
    int q[QK];
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const float d = fp16_to_f32(blocks[b].d);
        unpack_q5(blocks[b].qs, blocks[b].qh, q);
        for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(q[j] - 16) * d;
    }
}

// As Q4_0 with 32 levels: d = max / -16, q = MIN(31, (int8)(x/d + 16.5)).
static void encode_block_plain(const float* x, block_q5_0& out) {
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    uint8_t q[QK];
    for (int j = 0; j < QK; ++j) q[j] = clamp_s8_to_u8(x[j] * id + 16.5f, 31);
    pack_q5(q, out.qs, out.qh);
}

void encode_q5_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q5_0*>(dst);
    const int64_t nb = n / QK;
    if (!imatrix) {
        for (int64_t b = 0; b < nb; ++b) encode_block_plain(x + b * QK, out[b]);
        return;
    }
    // Weighted symmetric search over 32 levels (L in 0..31 = signed level + 16).
    const float sigma2 = row_sigma2(x, n);
    float w[QK];
    int8_t L[QK];
    uint8_t q[QK];
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + b * QK;
        imatrix_weights(xb, imatrix + b * QK, sigma2, w);
        const float d = make_qx_quants(QK, 16, xb, L, 1, w);
        out[b].d = f32_to_fp16(d);
        for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>(L[j]);
        pack_q5(q, out[b].qs, out[b].qh);
    }
}

}  // namespace dgk::ref
