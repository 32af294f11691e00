// AVX2 form of the IQ2 encoders' group preparation (the pack.h files' ScalarPrep): importance
// weights, magnitudes and sign bits (iq2::fold_signs), sqrt weights and the largest magnitude,
// 8 elements per vector with the scalar operations, so the same bits. For AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "avx2_math.h"

namespace dgk::avx2 {

// NP points of 8 weights. Weights are qw * sqrt(sigma2 + x^2), or 0.25*sigma2 + x^2 without qw
// (IQ2_S only). With kParity an odd count of negatives flips the element with the first smallest
// w*x*x, and 7 sign bits are kept (fold_signs).
template <int NP, bool kParity>
struct Avx2Iq2Prep {
    float operator()(const float* xb, const float* qw, float sigma2, float* weight, float* xval, float* waux,
                     uint8_t* signs) const {
        const __m256 sign = _mm256_set1_ps(-0.0f), vs2 = _mm256_set1_ps(sigma2);
        __m256 vmax = _mm256_set1_ps(-__builtin_inff()), nan = _mm256_setzero_ps();
        for (int k = 0; k < NP; ++k) {
            const __m256 x = _mm256_loadu_ps(xb + 8 * k), x2 = _mm256_mul_ps(x, x);
            const __m256 w = qw ? _mm256_mul_ps(_mm256_loadu_ps(qw + 8 * k), _mm256_sqrt_ps(_mm256_add_ps(vs2, x2)))
                                : _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.25f), vs2), x2);
            _mm256_storeu_ps(weight + 8 * k, w);
            _mm256_storeu_ps(waux + 8 * k, _mm256_sqrt_ps(w));
            const __m256 ge = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);  // kept as is (-0 too)
            _mm256_storeu_ps(xval + 8 * k, _mm256_xor_ps(x, _mm256_andnot_ps(ge, sign)));
            unsigned s = ~static_cast<unsigned>(_mm256_movemask_ps(ge)) & 255u;
            if (kParity) {
                // Branch-free (the parity is a coin flip per point): the first smallest w*x*x (its
                // scalar loop skips NaN, and a NaN first value keeps index 0), flipped when odd.
                const __m256 v = _mm256_mul_ps(_mm256_mul_ps(w, x), x);
                const __m256 isnan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
                const __m256 m = _mm256_set1_ps(hmin_ps(_mm256_blendv_ps(v, _mm256_set1_ps(__builtin_inff()), isnan)));
                const unsigned eq = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, m, _CMP_EQ_OQ))) |
                                    (static_cast<unsigned>(_mm256_movemask_ps(isnan)) & 1u);
                const int jmin = __builtin_ctz(eq | 256u);  // all NaN: eq has bit 0
                const unsigned odd = static_cast<unsigned>(__builtin_popcount(s)) & 1u;
                uint32_t bits;
                std::memcpy(&bits, xval + 8 * k + jmin, 4);
                bits ^= odd << 31;
                std::memcpy(xval + 8 * k + jmin, &bits, 4);
                s ^= odd << jmin;
            }
            signs[k] = static_cast<uint8_t>(kParity ? s & 127 : s);
            const __m256 xv = _mm256_loadu_ps(xval + 8 * k);
            vmax = _mm256_max_ps(vmax, xv);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(xv, xv, _CMP_UNORD_Q));
        }
        // Without NaN the scalar maximum differs only in the sign of a zero maximum, which no
        // caller tells apart (a zero maximum skips the group).
        if (_mm256_movemask_ps(nan)) {
            float m = xval[0];
            for (int i = 1; i < 8 * NP; ++i) m = m > xval[i] ? m : xval[i];
            return m;
        }
        return hmax_ps(vmax);
    }
};

}  // namespace dgk::avx2
