// AVX2 building blocks of the IQ decoders: eight weights of a grid point as floats in one vector.
// For AVX2-compiled files only; `static` so no AVX2 copy can be merged into scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_stream.h"

namespace dgk::avx2 {

// Lane j = sign bit set iff bit j of `bits` (bits < 256): shift bit j into the sign position.
static inline __m256 iq_sign_mask(unsigned bits) {
    const __m256i at_sign = _mm256_sllv_epi32(_mm256_set1_epi32((int)bits), _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24));
    return _mm256_castsi256_ps(_mm256_and_si256(at_sign, _mm256_set1_epi32((int)0x80000000u)));
}

// Bytes j of `p` as unsigned / signed integers converted to float (exact), lane j.
static inline __m256 iq_u8x8_ps(uint64_t p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)p)));
}
static inline __m256 iq_s8x8_ps(uint64_t p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128((long long)p)));
}

// The scalar decoders' `db * mag * (+-1)`. GCC compiles the scalar `* (s ? -1.f : 1.f)` as a
// negation (the same in ggml built with GCC: libgguf's NaN lanes carry the flipped sign), so the
// sign is applied by flipping the sign bit: identical to *-1 for every non-NaN value.
template <class Store>
static inline void iq_store_signed8(float* dst, __m256 db, uint64_t mags, unsigned signs) {
    Store::put(dst, _mm256_xor_ps(_mm256_mul_ps(db, iq_u8x8_ps(mags)), iq_sign_mask(signs)));
}

}  // namespace dgk::avx2
