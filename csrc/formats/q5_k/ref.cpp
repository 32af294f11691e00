// Q5_K: Q4_K's layout (8 sub-blocks of 32, 6-bit scale/min pairs, fp16 d and dmin) with 5-bit
// quants: low 4 bits in qs as in Q4_K, 5th bits in qh (sub-block s -> bit s of qh[element%32]).
// Encoders (encode_block.h, shared with the CUDA module) follow ggml's quantize_row_q5_K_ref (no imatrix) and
// quantize_row_q5_K_impl (imatrix).
#include "encode_block.h"

#include "../common/kquant_scales.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q5_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q5_k& b = blocks[ib];
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
            const unsigned u1 = 1u << (2 * c), u2 = 2u << (2 * c);
            for (int l = 0; l < 32; ++l) {
                y[64 * c + l] = d1 * (float)((q[l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                y[64 * c + 32 + l] = d2 * (float)((q[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
            }
        }
    }
}

void encode_q5_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q5_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q5_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
