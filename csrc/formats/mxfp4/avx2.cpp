// MXFP4 AVX2 kernels: same arithmetic as ref.cpp (level times the block's power of two).
#include <immintrin.h>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

namespace {
// Same bit construction as the scalar e8m0_half (2^(e-128); e = 0, 1 are subnormal).
inline float e8m0_half(uint8_t e) {
    return bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}
}  // namespace

void decode_mxfp4(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_mxfp4*>(src);
    const __m128i levels = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_mxfp4));
    const __m128i nib = _mm_set1_epi8(0x0f);
    for (int64_t i = 0; i < nblocks; ++i, dst += QK) {
        const __m256 d = _mm256_set1_ps(e8m0_half(blk[i].e));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk[i].qs));
        const __m128i lo = _mm_shuffle_epi8(levels, _mm_and_si128(q, nib));
        const __m128i hi = _mm_shuffle_epi8(levels, _mm_and_si128(_mm_srli_epi16(q, 4), nib));
        const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int p = 0; p < 4; ++p)
            _mm256_storeu_ps(dst + 8 * p, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[p])), d));
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_mxfp4 = {FormatId::MXFP4, avx2::decode_mxfp4, nullptr};
}
