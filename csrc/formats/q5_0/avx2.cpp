// Q5_0 with AVX2: the bytes of ref.cpp for every input (structure as q4_0/avx2.cpp).
#include "../common/avx2_legacy.h"
#include "../common/avx2_scale_search.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q5_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const __m256i q5 = _mm256_or_si256(unpack_nibbles32(blocks[b].qs), unpack_fifth_bits32(blocks[b].qh));
        store_scaled32(_mm256_sub_epi8(q5, _mm256_set1_epi8(16)), fp16_to_f32(blocks[b].d), dst);
    }
}

// d = max / -16, q = MIN(31, (int8)(x/d + 16.5)) as in ref.cpp.
static void encode_block_plain(const float* x, block_q5_0& out) {
    const Block32 b = load_block32(x);
    const float d = block_signed_absmax(b) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id), bias = _mm256_set1_ps(16.5f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
        q[k] = _mm256_and_si256(_mm256_min_epi32(cvtt_low_s8(_mm256_add_ps(_mm256_mul_ps(b.v[k], vid), bias)),
                                                 _mm256_set1_epi32(31)),
                                _mm256_set1_epi32(0xff));
    pack_q5_block(q, out.qs, out.qh);
}

void encode_q5_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q5_0*>(dst);
    if (!imatrix) {
        for (int64_t b = 0; b < n / QK; ++b) encode_block_plain(x + b * QK, out[b]);
        return;
    }
    encode_block_octets(
        x, imatrix, n, [](const __m256* xt, const __m256* wt, __m256i* Lt, __m256*) { return qx_search8(QK, 16, xt, wt, Lt); },
        [out](int64_t b, const __m256i* q, float d, float) {
            out[b].d = f32_to_fp16(d);
            pack_q5_block(q, out[b].qs, out[b].qh);
        });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q5_0 = {FormatId::Q5_0, avx2::decode_q5_0, avx2::encode_q5_0};
}
