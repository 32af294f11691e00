// Q2_K AVX2 kernels (layout and reference: ref.cpp). Decode: each sub-block's four possible values
// dl*q - ml (q = 0..3) are computed once, with the scalar operations, and looked up per weight.
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q2_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q2_k*>(src);
    const __m256 q0123 = _mm256_setr_ps(0, 1, 2, 3, 0, 1, 2, 3);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q2_k& b = blocks[ib];
        const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
        const __m256 dmin = _mm256_set1_ps(fp16_to_f32(b.dmin));
        float* y = dst + ib * 256;
        // table[s] lane k (and k+4) = dl*k - ml of sub-block s
        __m256 table[16];
        for (int half = 0; half < 2; ++half) {
            const __m256i sc = kq::load_u8x8(b.scales + 8 * half);
            const __m256 dl = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(sc, _mm256_set1_epi32(0xF))));
            const __m256 ml = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_srli_epi32(sc, 4)));
            for (int s = 0; s < 8; ++s) {
                const __m256i lane = _mm256_set1_epi32(s);
                table[8 * half + s] = _mm256_sub_ps(_mm256_mul_ps(_mm256_permutevar8x32_ps(dl, lane), q0123),
                                                    _mm256_permutevar8x32_ps(ml, lane));
            }
        }
        // qs byte 32h + l holds elements 128h + 32k + l at bits 2k; permutevar reads bits 0-1 only.
        for (int h = 0; h < 2; ++h) {
            for (int g = 0; g < 4; ++g) {
                const __m256i q = kq::load_u8x8(b.qs + 32 * h + 8 * g);
                for (int k = 0; k < 4; ++k) {
                    const __m256i idx = _mm256_srli_epi32(q, 2 * k);
                    const __m256 t = table[8 * h + 2 * k + (g >> 1)];
                    _mm256_storeu_ps(y + 128 * h + 32 * k + 8 * g, _mm256_permutevar_ps(t, idx));
                }
            }
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q2_k = {FormatId::Q2_K, avx2::decode_q2_k, nullptr};
}  // namespace dgk
