// Q4_K: 256 weights in 8 sub-blocks of 32; 4-bit quants with a 6-bit scale and a 6-bit min per
// sub-block (packed in 12 bytes), times fp16 super-block factors d and dmin.
// Encoders (encode_block.h, shared with the CUDA module) follow ggml's quantize_row_q4_K_ref (no imatrix) and
// quantize_row_q4_K_impl (imatrix).
#include "encode_block.h"

#include "../common/kquant_scales.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q4_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q4_k& b = blocks[ib];
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + ib * 256;
        for (int c = 0; c < 4; ++c) {
            uint8_t sc, m;
            kq::unpack_scale_min6(b.scales, 2 * c, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            kq::unpack_scale_min6(b.scales, 2 * c + 1, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t* q = b.qs + 32 * c;
            for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void encode_q4_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q4_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q4_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
