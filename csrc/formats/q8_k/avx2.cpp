// Q8_K AVX2 kernels: same arithmetic as ref.cpp (one fp32 multiply per weight on decode).
#include <immintrin.h>

#include <cstring>
#include "../common/avx2_stream.h"

#include "dgk/blocks.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q8_k_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_q8_k*>(src);
    for (int64_t i = 0; i < nblocks; ++i) {
        const __m256 d = _mm256_set1_ps(blk[i].d);
        for (int j = 0; j < QK_K; j += 8, dst += 8) {
            const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk[i].qs + j));
            Store::put(dst, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_q8_k)

void encode_q8_k(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_q8_k*>(dst);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        // Largest |x| (max_ps returns its second operand on NaN, so NaN is skipped like the
        // scalar scan does), then the signed value of its first occurrence.
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) acc = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), acc);
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        block_q8_k& b = blk[i];
        if (!amax) {
            std::memset(&b, 0, sizeof b);
            continue;
        }
        int first = 0;
        const __m256 va = _mm256_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 8) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), va, _CMP_EQ_OQ));
            if (hit) {
                first = j + __builtin_ctz((unsigned)hit);
                break;
            }
        }
        const float iscale = -127.f / x[first];
        const __m256 vs = _mm256_set1_ps(iscale), magic = _mm256_set1_ps(12582912.f);
        const __m256i mant = _mm256_set1_epi32(0x007fffff), bias = _mm256_set1_epi32(0x00400000);
        const __m256i cap = _mm256_set1_epi32(127), low = _mm256_set1_epi32(0xff);
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int p = 0; p < 4; ++p) {
                // nearest_int bit for bit (also past 2^22), MIN(127, .), then the int8 store's low byte.
                const __m256i bits = _mm256_castps_si256(_mm256_add_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * p)), magic));
                const __m256i v = _mm256_sub_epi32(_mm256_and_si256(bits, mant), bias);
                q[p] = _mm256_and_si256(_mm256_min_epi32(v, cap), low);
            }
            const __m256i bytes = _mm256_permutevar8x32_epi32(
                _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3])), order);
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + j), bytes);
            // Exact integer sums of 16 int8 each: pairs, quads, then 16s in lanes 0 and 4.
            __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, bytes), ones16);
            s = _mm256_hadd_epi32(s, s);
            s = _mm256_hadd_epi32(s, s);
            b.bsums[j / 16] = (int16_t)_mm256_extract_epi32(s, 0);
            b.bsums[j / 16 + 1] = (int16_t)_mm256_extract_epi32(s, 4);
        }
        b.d = 1 / iscale;
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q8_k = {FormatId::Q8_K, avx2::decode_q8_k, avx2::encode_q8_k, nullptr,
                                             avx2::decode_q8_k_stream};
}
