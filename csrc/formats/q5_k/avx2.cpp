// Q5_K AVX2 kernels (layout and reference: ref.cpp). Decode keeps the scalar (d*sc)*q - (dmin*m).
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

// Bit `from` of every lane as the value 16 (or 0).
inline __m256i bit_as_16(__m256i v, int from) {
    const __m256i moved = from <= 4 ? _mm256_slli_epi32(v, 4 - from) : _mm256_srli_epi32(v, from - 4);
    return _mm256_and_si256(moved, _mm256_set1_epi32(16));
}

}  // namespace

void decode_q5_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_k*>(src);
    const __m256i nibble = _mm256_set1_epi32(0xF);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q5_k& b = blocks[ib];
        __m256i sc, m;
        kq::scale_min6_x8(b.scales, &sc, &m);
        const __m256 dl = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.d)), _mm256_cvtepi32_ps(sc));
        const __m256 ml = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.dmin)), _mm256_cvtepi32_ps(m));
        float* y = dst + ib * 256;
        for (int c = 0; c < 4; ++c) {
            const __m256 d1 = kq::lane(dl, 2 * c), m1 = kq::lane(ml, 2 * c);
            const __m256 d2 = kq::lane(dl, 2 * c + 1), m2 = kq::lane(ml, 2 * c + 1);
            for (int g = 0; g < 4; ++g) {
                const __m256i q = kq::load_u8x8(b.qs + 32 * c + 8 * g);
                const __m256i h = kq::load_u8x8(b.qh + 8 * g);
                const __m256i lo = _mm256_or_si256(_mm256_and_si256(q, nibble), bit_as_16(h, 2 * c));
                const __m256i hi = _mm256_or_si256(_mm256_srli_epi32(q, 4), bit_as_16(h, 2 * c + 1));
                _mm256_storeu_ps(y + 64 * c + 8 * g, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(lo)), m1));
                _mm256_storeu_ps(y + 64 * c + 32 + 8 * g, _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(hi)), m2));
            }
        }
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q5_k = {FormatId::Q5_K, avx2::decode_q5_k, nullptr};
}  // namespace dgk
