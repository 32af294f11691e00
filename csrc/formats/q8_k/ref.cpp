// Q8_K: 256 int8 quants with an fp32 scale and 16 partial sums (ggml's activation format for
// K-quant dot products). Encoder (encode_block.h, shared with the CUDA module) follows
// quantize_row_q8_K_ref: iscale = -127/max with max the signed value of largest magnitude, so
// q = -127 at that element and the scale d = 1/iscale.
#include "encode_block.h"

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_q8_k(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blocks = static_cast<block_q8_k*>(dst);
    for (int64_t ib = 0; ib < n / QK_K; ++ib) encode_q8_k_block(x + QK_K * ib, blocks[ib]);
}

}  // namespace dgk::ref
