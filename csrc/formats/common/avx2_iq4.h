// AVX2 helpers shared by the IQ4_NL and IQ4_XS kernels (static inline only: this header is
// compiled with AVX2 flags, and an ODR-merged copy must never reach scalar code).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "dgk/tables.h"

namespace dgk::avx2 {

// kvalues_iq4nl as 16 int8 in an xmm register, for pshufb lookups of 4-bit indices.
static inline __m128i iq4_levels_i8() {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(kvalues_iq4nl));
}

// Writes 32 decoded weights of one packed group: dst[j] = scale * k[lo nibble of qs[j]],
// dst[j + 16] = scale * k[hi nibble]. One multiply per weight, as the scalar decoder.
static inline void iq4_decode_group(const uint8_t* qs, __m256 scale, __m128i levels, float* dst) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i nib = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_shuffle_epi8(levels, _mm_and_si128(q, nib));
    const __m128i hi = _mm_shuffle_epi8(levels, _mm_and_si128(_mm_srli_epi16(q, 4), nib));
    const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int p = 0; p < 4; ++p)
        _mm256_storeu_ps(dst + 8 * p, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[p]))));
}

}  // namespace dgk::avx2
