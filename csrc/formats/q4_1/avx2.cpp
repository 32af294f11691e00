// Q4_1 with AVX2: the bytes of ref.cpp for every input. Decode and the min/max encoder work on one
// block's 32 elements at once; the imatrix encoder runs the (scale, min) search on 8 blocks at once.
#include "../common/avx2_legacy.h"
#include "../common/avx2_scale_search.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q4_1(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_1*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK)
        store_scaled_offset32(unpack_nibbles32(blocks[b].qs), fp16_to_f32(blocks[b].d), fp16_to_f32(blocks[b].m), dst);
}

// d = (max - min) / 15, q = MIN(15, (int8)((x - min)/d + 0.5)) as in ref.cpp.
static void encode_block_plain(const float* x, block_q4_1& out) {
    const Block32 b = load_block32(x);
    float mn, mx;
    block_min_max(b, &mn, &mx);
    const float d = (mx - mn) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    out.d = f32_to_fp16(d);
    out.m = f32_to_fp16(mn);
    const __m256 vmn = _mm256_set1_ps(mn), vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
        q[k] = _mm256_and_si256(
            _mm256_min_epi32(cvtt_low_s8(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(b.v[k], vmn), vid), half)),
                             _mm256_set1_epi32(15)),
            _mm256_set1_epi32(0xff));
    pack_q4_block(q, out.qs);
}

void encode_q4_1(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q4_1*>(dst);
    if (!imatrix) {
        for (int64_t b = 0; b < n / QK; ++b) encode_block_plain(x + b * QK, out[b]);
        return;
    }
    encode_block_octets(
        x, imatrix, n,
        [](const __m256* xt, const __m256* wt, __m256i* Lt, __m256* neg_min) {
            return qkx_search8(QK, 15, xt, wt, Lt, neg_min, -0.9f, 0.05f, 36, false, true);
        },
        [out](int64_t b, const __m256i* q, float d, float neg_min) {
            out[b].d = f32_to_fp16(d);
            out[b].m = f32_to_fp16(-neg_min);
            pack_q4_block(q, out[b].qs);
        });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q4_1 = {FormatId::Q4_1, avx2::decode_q4_1, avx2::encode_q4_1};
}
