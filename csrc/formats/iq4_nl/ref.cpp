// IQ4_NL: 32 weights on the 16 non-linear levels kvalues_iq4nl, one fp16 scale per block.
// The encoder is ggml_quantize_chunk's (quantize_iq4_nl): scale search over the block, then the
// levels are re-chosen with the unrounded scale (not the CPU backend's single-pass from_float).
#include "encode_block.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void encode_iq4_nl(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blk = static_cast<block_iq4_nl*>(dst);
    for (int64_t i = 0; i < n / QK; ++i) encode_iq4_nl_block(x + i * QK, imatrix ? imatrix + i * QK : nullptr, blk[i]);
}

}  // namespace dgk::ref
