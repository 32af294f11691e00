// Q8_0: 32 weights as int8 q with one fp16 scale, value = q * d. The encoder is ggml's
// quantize_row_q8_0_ref; ggml ignores the importance matrix for this format, so do we.
#include "../common/legacy_pack.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q8_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q8_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const float d = fp16_to_f32(blocks[b].d);
        for (int j = 0; j < QK; ++j) dst[j] = static_cast<float>(blocks[b].qs[j]) * d;
    }
}

// d = amax/127 and q = roundf(x * (1/d)): the reference multiplies by the reciprocal and rounds
// half away from zero (ggml's AVX2 from_float does neither, which is why it is not the reference).
static void encode_block(const float* x, block_q8_0& out) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) {
        const float a = std::fabs(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    for (int j = 0; j < QK; ++j) out.qs[j] = static_cast<int8_t>(low_byte_s8(cvtt_i32(std::round(x[j] * id))));
}

void encode_q8_0(const float* x, void* dst, int64_t n, const float*) {
    auto* out = static_cast<block_q8_0*>(dst);
    for (int64_t b = 0; b < n / QK; ++b) encode_block(x + b * QK, out[b]);
}

}  // namespace dgk::ref
