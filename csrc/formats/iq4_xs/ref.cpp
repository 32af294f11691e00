// IQ4_XS: 256 weights in 8 groups of 32 on the levels kvalues_iq4nl. Each group's scale is a
// signed 6-bit multiple of the fp16 super-block scale d: (ls - 32) * d, ls in 0..63 stored as
// 4 low bits in scales_l (two per byte) and 2 high bits in scales_h.
#include "encode_block.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void encode_iq4_xs(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blk = static_cast<block_iq4_xs*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i)
        encode_iq4_xs_block(x + i * QK_K, imatrix ? imatrix + i * QK_K : nullptr, blk[i]);
}

}  // namespace dgk::ref
