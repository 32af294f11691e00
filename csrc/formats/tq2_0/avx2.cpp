// TQ2_0 AVX2 kernels: same arithmetic as ref.cpp, 32 bytes (one 2-bit plane) at a time.
#include <immintrin.h>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_tq2_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_tq2_0*>(src);
    const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t i = 0; i < nblocks; ++i) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(blk[i].d));
        for (int c = 0; c < 2; ++c) {
            const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk[i].qs + 32 * c));
            for (int k = 0; k < 4; ++k) {
                // Codes 0..3 minus 1, as int8 in byte order (the shift only moves bits within
                // 16-bit lanes, and the mask drops what crossed a byte boundary).
                const __m256i t = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(qs, 2 * k), three), one);
                const __m128i h[2] = {_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1)};
                for (int p = 0; p < 4; ++p, dst += 8) {
                    const __m128i part = p % 2 ? _mm_srli_si128(h[p / 2], 8) : h[p / 2];
                    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part)), d));
                }
            }
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_tq2_0 = {FormatId::TQ2_0, avx2::decode_tq2_0, nullptr};
}
