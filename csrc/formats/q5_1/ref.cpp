// Q5_1: 32 weights as 5-bit q (4 low bits in qs, 5th bits in qh) with fp16 scale d and offset m,
// value = q * d + m. Encoders follow ggml's quantize_row_q5_1_ref and quantize_row_q5_1_impl.
#include "../common/legacy_encode.h"
#include "../common/legacy_pack.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

// Plain levels: (uint8)v with no clamp (ggml has none here: the top value reaches at most 31).
void encode_q5_1(const float* x, void* dst, int64_t n, const float* imatrix) {
    encode_rows_asymmetric<31>(x, static_cast<block_q5_1*>(dst), n, imatrix,
                               [](const uint8_t* q, block_q5_1& b) { pack_q5(q, b.qs, b.qh); });
}

}  // namespace dgk::ref
