// TQ1_0: ternary weights, five trits per byte (base 3, first trit most significant), 256 per block.
// A byte stores ceil(t * 256 / 243) for the 5-trit number t, so that trit k is recovered as the
// top "digit" of (byte * 3^k mod 256) * 3 / 256 without a division.
// Layout: qs[0..31] elements b + 32k (k = 0..4), qs[32..47] elements 160 + b + 16k,
// qh[0..3] elements 240 + b + 4k (k = 0..3; a fifth zero trit pads each of these bytes).
#include "../common/ternary.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_tq1_0(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_tq1_0*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i) encode_tq1_0_block(x + i * QK_K, blk[i]);
}

}  // namespace dgk::ref
