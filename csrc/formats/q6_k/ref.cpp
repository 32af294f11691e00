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

void encode_q6_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q6_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib)
        encode_q6_k_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
}

}  // namespace dgk::ref
