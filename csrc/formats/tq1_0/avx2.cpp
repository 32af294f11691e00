// TQ1_0 AVX2 kernels: same arithmetic as ref.cpp; trits are extracted in 16-bit lanes, 16 bytes
// (or the 4 qh bytes for all their trits) at a time.
#include <immintrin.h>

#include <cstring>

#include "../common/avx2_ternary.h"
#include "../common/avx2_stream.h"
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
template <class Store>
inline void store16(__m256i t, __m256 d, float* dst) {
    Store::put(dst, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(t))), d));
    Store::put(dst + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(t, 1))), d));
}

inline __m256i load16_u8(const uint8_t* p) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

constexpr int16_t kPow3[5] = {1, 3, 9, 27, 81};

// The packed byte of a 5-trit number t (0..242): ceil(t * 256 / 243) = (t*256 + 242) / 243, the
// division done as (n * 69043) >> 24, exact for every n this can see (checked over all 243 t).
inline __m256i trit_byte(__m256i t) {
    const __m256i n = _mm256_add_epi32(_mm256_slli_epi32(t, 8), _mm256_set1_epi32(242));
    return _mm256_srli_epi32(_mm256_mullo_epi32(n, _mm256_set1_epi32(69043)), 24);
}

// Horner-packed trits of 8 lanes: 5 weights at stride `stride` from x (the first most significant).
inline __m256i pack5(const float* x, int stride, __m256 id) {
    __m256i t = trit_codes(x, id);
    for (int k = 1; k < 5; ++k)
        t = _mm256_add_epi32(_mm256_mullo_epi32(t, _mm256_set1_epi32(3)), trit_codes(x + k * stride, id));
    return trit_byte(t);
}

// 8 int32 lanes holding 0..255 to 8 bytes.
inline void store_bytes8(__m256i q, uint8_t* dst) {
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_packus_epi16(w, w));
}

}  // namespace

template <class Store>
static void decode_tq1_0_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_tq1_0*>(src);
    // qh byte b, trit k goes to element 240 + 4k + b: lane 4k + b of one 16-lane vector.
    const __m256i qh_pow = _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27);
    for (int64_t i = 0; i < nblocks; ++i, dst += QK_K) {
        const __m256 d = _mm256_set1_ps(fp16_to_f32(blk[i].d));
        const uint8_t* qs = blk[i].qs;
        const __m256i a = load16_u8(qs), b = load16_u8(qs + 16), c = load16_u8(qs + 32);
        for (int k = 0; k < 5; ++k) {
            const __m256i p = _mm256_set1_epi16(kPow3[k]);
            store16<Store>(trits16(a, p), d, dst + 32 * k);
            store16<Store>(trits16(b, p), d, dst + 32 * k + 16);
            store16<Store>(trits16(c, p), d, dst + 160 + 16 * k);
        }
        uint32_t qh;
        std::memcpy(&qh, blk[i].qh, 4);
        const __m256i h = _mm256_cvtepu8_epi16(_mm_set1_epi32((int)qh));
        store16<Store>(trits16(h, qh_pow), d, dst + 240);
    }
}
DGK_AVX2_DECODE_PAIR(decode_tq1_0)

void encode_tq1_0(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_tq1_0*>(dst);
    // qh: byte b holds elements 240 + b + 4k (k = 0..3) and a zero pad trit, i.e. the sum of
    // code_k * 3^(4-k); lanes 4k + b of x[240..255] get their weight 3^(4-k).
    const __m256i w01 = _mm256_setr_epi32(81, 81, 81, 81, 27, 27, 27, 27);
    const __m256i w23 = _mm256_setr_epi32(9, 9, 9, 9, 3, 3, 3, 3);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        const float d = block_amax(x);
        const __m256 id = _mm256_set1_ps(d ? 1.0f / d : 0.0f);
        blk[i].d = f32_to_fp16(d);
        for (int b = 0; b < 32; b += 8) store_bytes8(pack5(x + b, 32, id), blk[i].qs + b);
        for (int b = 0; b < 16; b += 8) store_bytes8(pack5(x + 160 + b, 16, id), blk[i].qs + 32 + b);
        const __m256i s = _mm256_add_epi32(_mm256_mullo_epi32(trit_codes(x + 240, id), w01),
                                           _mm256_mullo_epi32(trit_codes(x + 248, id), w23));
        const __m256i t = _mm256_add_epi32(s, _mm256_permute2x128_si256(s, s, 1));  // lanes 0..3: b = 0..3
        const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(trit_byte(t)), _mm_setzero_si128());
        const int packed = _mm_cvtsi128_si32(_mm_packus_epi16(w, w));
        std::memcpy(blk[i].qh, &packed, 4);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_tq1_0 = {FormatId::TQ1_0, avx2::decode_tq1_0, avx2::encode_tq1_0, nullptr,
                                              avx2::decode_tq1_0_stream};
}
