// Q8_0: 32 weights as int8 q with one fp16 scale, value = q * d. The encoder is ggml's
// quantize_row_q8_0_ref (legacy_encode.h); ggml ignores the importance matrix for this format, so do we.
#include "../common/legacy_encode.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_q8_0(const float* x, void* dst, int64_t n, const float*) {
    auto* out = static_cast<block_q8_0*>(dst);
    for (int64_t b = 0; b < n / QK; ++b) encode_q8_0_block(x + b * QK, out[b]);
}

}  // namespace dgk::ref
