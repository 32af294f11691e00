// Q5_0: 32 weights as 5-bit q (4 low bits in qs, 5th bits in qh) with one fp16 scale,
// value = (q - 16) * d. Encoders follow ggml's quantize_row_q5_0_ref and quantize_row_q5_0_impl.
#include "../common/legacy_encode.h"
#include "../common/legacy_pack.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_q5_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    encode_rows_symmetric<16>(x, static_cast<block_q5_0*>(dst), n, imatrix,
                              [](const uint8_t* q, block_q5_0& b) { pack_q5(q, b.qs, b.qh); });
}

}  // namespace dgk::ref
