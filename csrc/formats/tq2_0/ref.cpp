// TQ2_0: ternary weights {-1, 0, 1} as 2-bit codes 0..2, 256 per block, one fp16 scale d = amax.
// Byte b of 32-byte chunk c holds elements 128c + b + 32k in bits 2k..2k+1 (k = 0..3).
#include <cmath>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "../common/ternary.h"

namespace dgk::ref {

void decode_tq2_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_tq2_0*>(src);
    for (int64_t i = 0; i < nblocks; ++i) {
        const float d = fp16_to_f32(blk[i].d);
        for (int c = 0; c < 2; ++c) {
            const uint8_t* qs = blk[i].qs + 32 * c;
            for (int k = 0; k < 4; ++k)
                for (int b = 0; b < 32; ++b) {
                    // code 3 never comes from the encoder; it decodes to 2*d like ggml
                    const int code = (qs[b] >> (2 * k)) & 3;
                    *dst++ = (float)(code - 1) * d;
                }
        }
    }
}

void encode_tq2_0(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_tq2_0*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i) encode_tq2_0_block(x + i * QK_K, blk[i]);
}

}  // namespace dgk::ref
