// Q8_0 with AVX2: the bytes of ref.cpp for every input, one block's 32 elements at once.
// The imatrix is ignored, as by ggml.
#include "../common/avx2_legacy.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q8_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q8_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK)
        store_scaled32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs)), fp16_to_f32(blocks[b].d), dst);
}

// d = amax / 127, q = roundf(x * (1/d)) (half away from zero), as in ref.cpp.
static void encode_block(const float* x, block_q8_0& out) {
    const Block32 b = load_block32(x);
    const float d = block_absmax(b) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = cvtt_low_s8(round_away_ps(_mm256_mul_ps(b.v[k], vid)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.qs), pack_s8x32(q[0], q[1], q[2], q[3]));
}

void encode_q8_0(const float* x, void* dst, int64_t n, const float*) {
    auto* out = static_cast<block_q8_0*>(dst);
    for (int64_t b = 0; b < n / QK; ++b) encode_block(x + b * QK, out[b]);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q8_0 = {FormatId::Q8_0, avx2::decode_q8_0, avx2::encode_q8_0};
}
