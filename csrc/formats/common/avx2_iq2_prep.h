// AVX2 form of the IQ encoders' group preparation: iq2::fold_signs per 8-element point (shared
// by the IQ2 and IQ3 encoders) and the IQ2 pack.h files' ScalarPrep (importance weights,
// magnitudes and sign bits, sqrt weights, the largest magnitude), 8 elements per vector with the
// scalar operations, so the same bits. For AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_iqsearch.h"
#include "avx2_math.h"
#include "iq_pack.h"

namespace dgk::avx2 {

// iq2::fold_signs of one point x with weights w: |x| by the scalar's test (x >= 0 kept, else the
// sign bit flipped, NaN too) and the negatives' bits in *signs. With parity, an odd count flips the
// element the scalar scan from v[0] picks, the first least v = (w*x)*x (NaN skipped after element
// 0, a NaN v[0] kept: NaN becomes +inf, -inf in lane 0, then the first lane at the minimum), and 7
// bits are kept. Branch-free: the parity is a coin flip per point. Returns the folded values.
static inline __m256 fold_point8(__m256 x, __m256 w, bool parity, uint8_t* signs) {
    const __m256 neg0 = _mm256_set1_ps(-0.0f);
    const __m256 ge = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);  // kept as is (-0 too)
    __m256 flip = _mm256_andnot_ps(ge, neg0);
    unsigned s = ~static_cast<unsigned>(_mm256_movemask_ps(ge)) & 255u;
    if (parity) {
        const __m256 nan_as = _mm256_setr_ps(-__builtin_inff(), __builtin_inff(), __builtin_inff(), __builtin_inff(),
                                             __builtin_inff(), __builtin_inff(), __builtin_inff(), __builtin_inff());
        __m256 v = _mm256_mul_ps(_mm256_mul_ps(w, x), x);
        v = _mm256_blendv_ps(v, nan_as, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        const __m256 m = _mm256_set1_ps(hmin_ps(v));
        const unsigned j = static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, m, _CMP_EQ_OQ)))));
        const unsigned bit = (static_cast<unsigned>(__builtin_popcount(s)) & 1u) << j;
        s = (s ^ bit) & 127u;
        flip = _mm256_xor_ps(flip, _mm256_and_ps(_mm256_castsi256_ps(iq_lane_mask(bit)), neg0));
    }
    *signs = static_cast<uint8_t>(s);
    return _mm256_xor_ps(x, flip);
}

// The largest of the n folded values xval (iq::max_value), from their lane maxima vmax and NaN
// flags: without NaN the vector maximum differs only in the sign of a zero maximum, which no caller
// tells apart (a zero maximum skips the group).
static inline float folded_max(__m256 vmax, __m256 nan, const float* xval, int n) {
    return _mm256_movemask_ps(nan) ? iq::max_value(xval, n) : hmax_ps(vmax);
}

// iq::superblock_sigma2 (factor * the squares summed in element order / QK_K) of the n <= 8
// super-blocks from x, one per lane (lanes past n repeat the last): the same operations, so the
// same bits, as eight chains side by side instead of eight long dependent ones.
static inline void superblock_sigma2_x8(const float* x, int64_t n, float factor, float* out) {
    __m256 acc = _mm256_setzero_ps();
    for (int i0 = 0; i0 < QK_K; i0 += 8) {
        __m256 r[8];
        for (int b = 0; b < 8; ++b) r[b] = _mm256_loadu_ps(x + (b < n ? b : n - 1) * QK_K + i0);
        transpose8x8_ps(r);
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) acc = _mm256_add_ps(acc, _mm256_mul_ps(r[i], r[i]));
    }
    alignas(32) float sum[8];
    _mm256_store_ps(sum, acc);
    for (int b = 0; b < n && b < 8; ++b) out[b] = factor * sum[b] / QK_K;
}

// encode(b, sigma2) for the nb super-blocks from x in order, each with its sigma2 from
// superblock_sigma2_x8 (eight super-blocks at a time): the IQ2 encoders' super-block loop.
template <class Encode>
static inline void for_superblocks_sigma2(const float* x, int64_t nb, float factor, Encode&& encode) {
    float sigma2[8];
    for (int64_t b = 0; b < nb; ++b) {
        if (b % 8 == 0) superblock_sigma2_x8(x + b * QK_K, nb - b, factor, sigma2);
        encode(b, sigma2[b % 8]);
    }
}

// NP points of 8 weights. Weights are qw * sqrt(sigma2 + x^2), or 0.25*sigma2 + x^2 without qw
// (IQ2_S only); signs and magnitudes by fold_point8.
// sigma2 is the super-block's from superblock_sigma2_x8, the value pack.h passes (which then goes
// unused, so the compiler drops pack.h's serial sum).
template <int NP, bool kParity>
struct Avx2Iq2Prep {
    float sigma2;
    float operator()(const float* xb, const float* qw, float, float* weight, float* xval, float* waux,
                     uint8_t* signs) const {
        const __m256 vs2 = _mm256_set1_ps(sigma2);
        __m256 vmax = _mm256_set1_ps(-__builtin_inff()), nan = _mm256_setzero_ps();
        for (int k = 0; k < NP; ++k) {
            const __m256 x = _mm256_loadu_ps(xb + 8 * k), x2 = _mm256_mul_ps(x, x);
            const __m256 w = qw ? _mm256_mul_ps(_mm256_loadu_ps(qw + 8 * k), _mm256_sqrt_ps(_mm256_add_ps(vs2, x2)))
                                : _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.25f), vs2), x2);
            _mm256_storeu_ps(weight + 8 * k, w);
            _mm256_storeu_ps(waux + 8 * k, _mm256_sqrt_ps(w));
            const __m256 xv = fold_point8(x, w, kParity, signs + k);
            _mm256_storeu_ps(xval + 8 * k, xv);
            vmax = _mm256_max_ps(vmax, xv);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(xv, xv, _CMP_UNORD_Q));
        }
        return folded_max(vmax, nan, xval, 8 * NP);
    }
};

}  // namespace dgk::avx2
