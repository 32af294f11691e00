// Q2_K: 256 weights in 16 sub-blocks of 16; 2-bit quants with a 4-bit scale and a 4-bit min per
// sub-block, both multiplied by fp16 super-block factors d and dmin.
// Encoders (encode_block.h, shared with the CUDA module) follow ggml's quantize_row_q2_K_ref (no imatrix) and
// quantize_row_q2_K_impl (imatrix).
#include "encode_block.h"

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q2_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q2_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q2_k& b = blocks[ib];
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + ib * 256;
        // Sub-block s covers elements 16s..16s+15: half h = s/8 of the qs bytes, bit pair s%8/2,
        // first or second 16 bytes by s%2.
        for (int s = 0; s < 16; ++s) {
            const float dl = d * (float)(b.scales[s] & 0xF);
            const float ml = dmin * (float)(b.scales[s] >> 4);
            const uint8_t* q = b.qs + 32 * (s >> 3) + 16 * (s & 1);
            const int shift = 2 * ((s & 7) >> 1);
            for (int l = 0; l < 16; ++l) y[16 * s + l] = dl * (float)((q[l] >> shift) & 3) - ml;
        }
    }
}

void encode_q2_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q2_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q2_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
