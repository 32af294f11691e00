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

void encode_q4_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q4_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q4_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
