// Q4_0 with AVX2: the bytes of ref.cpp for every input. Decode and the plain encoder work on one
// block's 32 elements at once (elementwise after an exact max); the imatrix encoder runs the
// weighted scale search on 8 blocks at once, one per lane.
#include "../common/avx2_legacy.h"
#include "../common/avx2_scale_search.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q4_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const __m256i q = _mm256_sub_epi8(unpack_nibbles32(blocks[b].qs), _mm256_set1_epi8(8));
        store_scaled32(q, fp16_to_f32(blocks[b].d), dst);
    }
}

// d = max / -8, q = MIN(15, (int8)(x/d + 8.5)) as in ref.cpp.
static void encode_block_plain(const float* x, block_q4_0& out) {
    const Block32 b = load_block32(x);
    const float d = block_signed_absmax(b) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id), bias = _mm256_set1_ps(8.5f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
        q[k] = _mm256_and_si256(_mm256_min_epi32(cvtt_low_s8(_mm256_add_ps(_mm256_mul_ps(b.v[k], vid), bias)),
                                                 _mm256_set1_epi32(15)),
                                _mm256_set1_epi32(0xff));
    pack_q4_block(q, out.qs);
}

void encode_q4_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q4_0*>(dst);
    if (!imatrix) {
        for (int64_t b = 0; b < n / QK; ++b) encode_block_plain(x + b * QK, out[b]);
        return;
    }
    encode_block_octets(
        x, imatrix, n, [](const __m256* xt, const __m256* wt, __m256i* Lt, __m256*) { return qx_search8(QK, 8, xt, wt, Lt); },
        [out](int64_t b, const __m256i* q, float d, float) {
            out[b].d = f32_to_fp16(d);
            pack_q4_block(q, out[b].qs);
        });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q4_0 = {FormatId::Q4_0, avx2::decode_q4_0, avx2::encode_q4_0};
}
