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

void encode_q3_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q3_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q3_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
