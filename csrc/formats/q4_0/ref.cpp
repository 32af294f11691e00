// Q4_0: 32 weights as 4-bit q with one fp16 scale, value = (q - 8) * d.
// Encoders follow ggml's quantize_row_q4_0_ref (no imatrix) and quantize_row_q4_0_impl (imatrix).
#include "../common/legacy_encode.h"
#include "../common/legacy_pack.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_q4_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    encode_rows_symmetric<8>(x, static_cast<block_q4_0*>(dst), n, imatrix,
                             [](const uint8_t* q, block_q4_0& b) { pack_q4(q, b.qs); });
}

}  // namespace dgk::ref
