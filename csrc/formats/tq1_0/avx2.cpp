// TQ1_0 AVX2 kernels: same arithmetic as ref.cpp; trits are extracted in 16-bit lanes, 16 bytes
// (or the 4 qh bytes for all their trits) at a time.
#include <immintrin.h>

#include <cstring>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

// Trits of 16 bytes (zero-extended to 16-bit lanes) given the per-lane power 3^k:
// ((byte * 3^k mod 256) * 3 >> 8) - 1. The products stay below 2^15.
inline __m256i trits16(__m256i bytes, __m256i pow3) {
    const __m256i wrapped = _mm256_and_si256(_mm256_mullo_epi16(bytes, pow3), _mm256_set1_epi16(0xff));
    return _mm256_sub_epi16(_mm256_srli_epi16(_mm256_mullo_epi16(wrapped, _mm256_set1_epi16(3)), 8),
                            _mm256_set1_epi16(1));
}

// Stores 16 int16 trits times d as floats, in lane order.
inline void store16(__m256i t, __m256 d, float* dst) {
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(t))), d));
    _mm256_storeu_ps(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(t, 1))), d));
}

inline __m256i load16_u8(const uint8_t* p) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

constexpr int16_t kPow3[5] = {1, 3, 9, 27, 81};

}  // namespace

void decode_tq1_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_tq1_0*>(src);
    // qh byte b, trit k goes to element 240 + 4k + b: lane 4k + b of one 16-lane vector.
    const __m256i qh_pow = _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27);
    for (int64_t i = 0; i < nblocks; ++i, dst += QK_K) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(blk[i].d));
        const uint8_t* qs = blk[i].qs;
        const __m256i a = load16_u8(qs), b = load16_u8(qs + 16), c = load16_u8(qs + 32);
        for (int k = 0; k < 5; ++k) {
            const __m256i p = _mm256_set1_epi16(kPow3[k]);
            store16(trits16(a, p), d, dst + 32 * k);
            store16(trits16(b, p), d, dst + 32 * k + 16);
            store16(trits16(c, p), d, dst + 160 + 16 * k);
        }
        uint32_t qh;
        std::memcpy(&qh, blk[i].qh, 4);
        const __m256i h = _mm256_cvtepu8_epi16(_mm_set1_epi32((int)qh));
        store16(trits16(h, qh_pow), d, dst + 240);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_tq1_0 = {FormatId::TQ1_0, avx2::decode_tq1_0, nullptr};
}
