// Q4_1: 32 weights as 4-bit q with fp16 scale d and offset m, value = q * d + m.
// Encoders follow ggml's quantize_row_q4_1_ref (min/max) and quantize_row_q4_1_impl (imatrix).
#include "../common/legacy_encode.h"
#include "../common/legacy_pack.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_q4_1(const float* x, void* dst, int64_t n, const float* imatrix) {
    encode_rows_asymmetric<15>(x, static_cast<block_q4_1*>(dst), n, imatrix,
                               [](const uint8_t* q, block_q4_1& b) { pack_q4(q, b.qs); });
}

}  // namespace dgk::ref
