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

void encode_q5_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q5_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q5_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
