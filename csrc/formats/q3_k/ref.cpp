// Q3_K: 256 weights in 16 sub-blocks of 16; 3-bit quants (2 low bits in qs, the high bit in
// hmask) with a signed 6-bit scale per sub-block times an fp16 super-block scale d.
// Encoders (encode_block.h, shared with the CUDA module) follow ggml's quantize_row_q3_K_ref (no imatrix) and
// quantize_row_q3_K_impl (imatrix).
#include "encode_block.h"

#include "../common/kquant_scales.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q3_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q3_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q3_k& b = blocks[ib];
        const float d_all = fp16_to_f32(b.d);
        float* y = dst + ib * 256;
        // Element e = 16s + l: low bits from qs[32*(e/128) + e%32] at bit 2*((e/32)%4),
        // high bit from hmask[e%32] at bit e/32; a clear high bit means -4.
        for (int s = 0; s < 16; ++s) {
            const float dl = d_all * (float)kq::unpack_scale6_q3(b.scales, s);
            const int off = 16 * (s & 1);
            const uint8_t* q = b.qs + 32 * (s >> 3) + off;
            const uint8_t* hm = b.hmask + off;
            const int shift = 2 * ((s & 7) >> 1);
            const unsigned hbit = 1u << (s >> 1);
            for (int l = 0; l < 16; ++l) {
                const int v = ((q[l] >> shift) & 3) - ((hm[l] & hbit) ? 0 : 4);
                y[16 * s + l] = dl * (float)v;
            }
        }
    }
}

void encode_q3_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q3_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q3_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
