// Q4_0: 32 weights as 4-bit q with one fp16 scale, value = (q - 8) * d.
// Encoders follow ggml's quantize_row_q4_0_ref (no imatrix) and quantize_row_q4_0_impl (imatrix).
#include "../common/legacy_pack.h"
#include "../common/scale_search.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q4_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_0*>(src);
    int q[QK];
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const float d = fp16_to_f32(blocks[b].d);
        unpack_q4(blocks[b].qs, q);
        for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(q[j] - 8) * d;
    }
}

// d = max / -8 with max the signed extreme, so the extreme maps to q = 0 and the other side gets
// the spare level; q = MIN(15, (int8)(x/d + 8.5)) truncates, which rounds half up.
static void encode_block_plain(const float* x, block_q4_0& out) {
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    uint8_t q[QK];
    for (int j = 0; j < QK; ++j) q[j] = clamp_s8_to_u8(x[j] * id + 8.5f, 15);
    pack_q4(q, out.qs);
}

void encode_q4_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q4_0*>(dst);
    const int64_t nb = n / QK;
    if (!imatrix) {
        for (int64_t b = 0; b < nb; ++b) encode_block_plain(x + b * QK, out[b]);
        return;
    }
    // Weighted symmetric search over 16 levels (L in 0..15 = signed level + 8).
    const float sigma2 = row_sigma2(x, n);
    float w[QK];
    int8_t L[QK];
    uint8_t q[QK];
    for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + b * QK;
        imatrix_weights(xb, imatrix + b * QK, sigma2, w);
        const float d = make_qx_quants(QK, 8, xb, L, 1, w);
        out[b].d = f32_to_fp16(d);
        for (int j = 0; j < QK; ++j) q[j] = static_cast<uint8_t>(L[j]);
        pack_q4(q, out[b].qs);
    }
}

}  // namespace dgk::ref
