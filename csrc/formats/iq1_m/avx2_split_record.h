// The IQ1_M split search's result from its last clear record, over the sums of all its candidates
// (avx2_encode.cpp): the method and its proof are those of iq1_s/avx2_split_record.h (it holds for
// any scan of `fl(qx*qx) > fl(best*q2)` tests and needs only the candidates' sums; IQ1_M has 612
// candidates, fewer than the 1122 its drift margin allows). Guards: weights >= 0,
// 2^-40 <= sum w <= 2^50, sum |w*x| <= 2^50, so every q2 >= sum w / 64 and no sum overflows.
// For AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cfloat>
#include <cmath>

#include "../common/avx2_clear_record.h"

namespace dgk::avx2 {
namespace {

// qx, q2: the n candidates' sums in scan order, 32-byte aligned, padded to a multiple of 8 with
// q2 = 0. On success, *best_k and *scale are the scan's final accepted candidate and scale.
template <int kMaxVectors>
bool iq1m_search_record(const float* qx, const float* q2, int n, const float* xb, const float* weight, int group,
                        int* best_k, float* scale) {
    float wsum = 0, xsum = 0;
    bool nonneg = true;
    for (int i = 0; i < group; ++i) {
        nonneg &= weight[i] >= 0;
        wsum += weight[i];
        xsum += std::fabs(weight[i] * xb[i]);
    }
    if (!nonneg || !(wsum >= 0x1p-40f && wsum <= 0x1p50f && xsum <= 0x1p50f)) return false;

    const int nv = (n + 7) / 8;
    alignas(32) float est[kMaxVectors][8];
    __m256 top = _mm256_set1_ps(-__builtin_inff());
    for (int v = 0; v < nv; ++v) {
        const __m256 e = split_score_estimate(_mm256_load_ps(qx + 8 * v), _mm256_load_ps(q2 + 8 * v));
        _mm256_store_ps(est[v], e);
        top = _mm256_max_ps(top, e);
    }
    const float m = hmax_ps(top);
    if (!(m >= 0x1p-60f && m <= FLT_MAX)) return false;

    auto first_at_least = [&](float x, int last_vector) {
        const __m256 vx = _mm256_set1_ps(x);
        for (int v = 0; v <= last_vector; ++v) {
            const unsigned b = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(est[v]), vx, _CMP_GE_OQ)));
            if (b) return 8 * v + __builtin_ctz(b);
        }
        return -1;
    };
    const int f = clear_record(m, nv - 1, first_at_least, [](int k) { return k / 8; });
    if (f < 0) return false;

    float sc = qx[f] / q2[f];
    float best = sc * qx[f];
    int k_best = f;
    const __m256 band = _mm256_set1_ps(est[f / 8][f % 8] * 0.9995f);
    for (int v = f / 8; v < nv; ++v) {
        unsigned b = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(est[v]), band, _CMP_GE_OQ)));
        if (v == f / 8) b &= 0xffu & ~((2u << (f % 8)) - 1);  // only the candidates after f
        for (; b; b &= b - 1) {
            const int k = 8 * v + __builtin_ctz(b);
            const float sumqx = qx[k], sumq2 = q2[k];
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                sc = sumqx / sumq2;
                best = sc * sumqx;
                k_best = k;
            }
        }
    }
    *best_k = k_best;
    *scale = sc;
    return true;
}

}  // namespace
}  // namespace dgk::avx2
