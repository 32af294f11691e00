// MXFP4: 32 e2m1 values sharing one e8m0 exponent byte. kvalues_mxfp4 holds the e2m1 values
// doubled (integers), so the decoded scale is half the e8m0 power of two.
// qs[j]: low nibble = element j, high nibble = element j + 16.
#include "block.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/tables.h"

namespace dgk::ref {

void encode_mxfp4(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_mxfp4*>(dst);
    for (int64_t i = 0; i < n / QK; ++i) encode_mxfp4_block(x + i * QK, blk[i]);
}

}  // namespace dgk::ref
