// AVX2/F16C f32 -> f16/bf16 conversion for decode output. Compiled with AVX2 flags (this file
// only); must give exactly the scalar helpers' bits, NaN conventions included.
#include <immintrin.h>

#include <cstdint>

#include "dgk/dispatch.h"
#include "dgk/fp.h"

namespace dgk::avx2 {

namespace {

// Eight converted values at p: a plain store, or a streaming one (p 16-byte aligned) for outputs
// past the last-level cache.
template <bool Stream>
inline void put8(uint16_t* p, __m128i v) {
    if constexpr (Stream) _mm_stream_si128(reinterpret_cast<__m128i*>(p), v);
    else _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
}

template <bool Stream>
void convert_with(const float* src, uint16_t* d, OutType out, int64_t n) {
    int64_t i = 0;
    if constexpr (Stream) {  // scalar up to the first 16-byte boundary
        for (; i < n && (reinterpret_cast<uintptr_t>(d + i) & 15); ++i)
            d[i] = out == OutType::F16 ? f32_to_fp16(src[i]) : f32_to_bf16(src[i]);
    }
    // 16 values per step: half the loop overhead, and bf16 packs two vectors with one pack+permute
    if (out == OutType::F16) {
        const __m256 quiet = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000));
        const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(0x80000000u)));
        auto half8 = [&](int64_t j) {
            __m256 v = _mm256_loadu_ps(src + j);
            // F16C keeps NaN payload bits; the scalar rule maps every NaN to sign|0x7E00, which is
            // what F16C produces for the canonical quiet NaN of the same sign.
            const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
            v = _mm256_blendv_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign_mask), quiet), nan);
            return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
        };
        for (; i + 16 <= n; i += 16) {
            const __m128i a = half8(i), b = half8(i + 8);
            put8<Stream>(d + i, a);
            put8<Stream>(d + i + 8, b);
        }
        for (; i + 8 <= n; i += 8) put8<Stream>(d + i, half8(i));
        for (; i < n; ++i) d[i] = f32_to_fp16(src[i]);
    } else {
        const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(64);
        auto bf16x8 = [&](int64_t j) {  // as 8 x u32 (each < 2^16)
            const __m256 v = _mm256_loadu_ps(src + j);
            const __m256i u = _mm256_castps_si256(v);
            const __m256i hi = _mm256_srli_epi32(u, 16);
            const __m256i rounded = _mm256_srli_epi32(
                _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(hi, one))), 16);
            const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            return _mm256_blendv_epi8(rounded, _mm256_or_si256(hi, quiet), nan);
        };
        for (; i + 16 <= n; i += 16) {  // pack to u16 in order: packus interleaves lanes, the permute undoes it
            const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(bf16x8(i), bf16x8(i + 8)), 0xd8);
            put8<Stream>(d + i, _mm256_castsi256_si128(p));
            put8<Stream>(d + i + 8, _mm256_extracti128_si256(p, 1));
        }
        for (; i + 8 <= n; i += 8) {
            const __m256i r = bf16x8(i);
            put8<Stream>(d + i, _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xd8)));
        }
        for (; i < n; ++i) d[i] = f32_to_bf16(src[i]);
    }
    if constexpr (Stream) _mm_sfence();  // streaming stores are weakly ordered
}

}  // namespace

void convert_f32(const float* src, void* dst, OutType out, int64_t n) {
    convert_with<false>(src, static_cast<uint16_t*>(dst), out, n);
}

void convert_f32_stream(const float* src, void* dst, OutType out, int64_t n) {
    convert_with<true>(src, static_cast<uint16_t*>(dst), out, n);
}

}  // namespace dgk::avx2
