// Q6_K: 256 weights in 16 sub-blocks of 16; 6-bit quants (low nibble in ql, top 2 bits in qh),
// stored with an offset of 32, and a signed 8-bit scale per sub-block times an fp16 d.
// Encoders (encode_block.h, shared with the CUDA module) follow ggml's quantize_row_q6_K_ref (no
// imatrix) and quantize_row_q6_K_impl (imatrix, which weights the search by the raw imatrix values,
// not by sigma^2 terms).
#include "encode_block.h"

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q6_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q6_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q6_k& b = blocks[ib];
        const float d = fp16_to_f32(b.d);
        float* y = dst + ib * 256;
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = b.ql + 64 * h;
            const uint8_t* qh = b.qh + 32 * h;
            const int8_t* sc = b.scales + 8 * h;
            float* yh = y + 128 * h;
            for (int l = 0; l < 32; ++l) {
                const int is = l >> 4;
                const int q0 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q1 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // (d * scale) first, then the quant: the second product can round, keep the order.
                yh[l] = d * (float)sc[is + 0] * (float)q0;
                yh[l + 32] = d * (float)sc[is + 2] * (float)q1;
                yh[l + 64] = d * (float)sc[is + 4] * (float)q2;
                yh[l + 96] = d * (float)sc[is + 6] * (float)q3;
            }
        }
    }
}

void encode_q6_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q6_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q6_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
