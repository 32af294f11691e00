// Q3_K AVX2 kernels (layout and reference: ref.cpp). Decode: each sub-block's eight possible values
// dl*v (v = -4..3) are computed once, with the scalar operation, and looked up per weight.
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q3_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q3_k*>(src);
    const __m256 neg = _mm256_setr_ps(-4, -3, -2, -1, -4, -3, -2, -1);
    const __m256 pos = _mm256_setr_ps(0, 1, 2, 3, 0, 1, 2, 3);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q3_k& b = blocks[ib];
        const __m256 d_all = _mm256_set1_ps(fp16_to_f32(b.d));
        float* y = dst + ib * 256;
        // Per sub-block, the values dl*v for v = -4..-1 (high bit clear) and 0..3 (set).
        __m256 lo_tab[16], hi_tab[16];
        for (int k = 0; k < 2; ++k) {
            const __m256 dl = _mm256_mul_ps(d_all, _mm256_cvtepi32_ps(kq::scale6_q3_x8(b.scales, k)));
            for (int j = 0; j < 8; ++j) {
                const __m256 f = kq::lane(dl, j);
                lo_tab[8 * k + j] = _mm256_mul_ps(f, neg);
                hi_tab[8 * k + j] = _mm256_mul_ps(f, pos);
            }
        }
        // Element 128h + 32k + l: 2 bits at 2k of qs[32h + l] (permilps reads bits 0-1 only),
        // high bit 4h + k of hmask[l] (moved to the sign bit, which blendv reads).
        for (int g = 0; g < 4; ++g) {
            const __m256i hm = kq::load_u8x8(b.hmask + 8 * g);
            for (int h = 0; h < 2; ++h) {
                const __m256i q = kq::load_u8x8(b.qs + 32 * h + 8 * g);
                for (int k = 0; k < 4; ++k) {
                    const __m256i idx = _mm256_srli_epi32(q, 2 * k);
                    const __m256 high = _mm256_castsi256_ps(_mm256_slli_epi32(hm, 31 - (4 * h + k)));
                    const int s = 8 * h + 2 * k + (g >> 1);
                    const __m256 v = _mm256_blendv_ps(_mm256_permutevar_ps(lo_tab[s], idx),
                                                      _mm256_permutevar_ps(hi_tab[s], idx), high);
                    _mm256_storeu_ps(y + 128 * h + 32 * k + 8 * g, v);
                }
            }
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q3_k = {FormatId::Q3_K, avx2::decode_q3_k, nullptr};
}  // namespace dgk
