// TQ2_0: ternary weights {-1, 0, 1} as 2-bit codes 0..2, 256 per block, one fp16 scale d = amax.
// Byte b of 32-byte chunk c holds elements 128c + b + 32k in bits 2k..2k+1 (k = 0..3).
#include <cmath>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "../common/ternary.h"

namespace dgk::ref {

void encode_tq2_0(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_tq2_0*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i) encode_tq2_0_block(x + i * QK_K, blk[i]);
}

}  // namespace dgk::ref
