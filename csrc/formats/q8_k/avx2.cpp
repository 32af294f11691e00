// Q8_K AVX2 kernels: same arithmetic as ref.cpp (one fp32 multiply per weight on decode).
#include <immintrin.h>

#include "dgk/blocks.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_q8_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_q8_k*>(src);
    for (int64_t i = 0; i < nblocks; ++i) {
        const __m256 d = _mm256_set1_ps(blk[i].d);
        for (int j = 0; j < QK_K; j += 8, dst += 8) {
            const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk[i].qs + j));
            _mm256_storeu_ps(dst, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q8_k = {FormatId::Q8_K, avx2::decode_q8_k, nullptr};
}
