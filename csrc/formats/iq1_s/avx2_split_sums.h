// The sums of the IQ1_S split search (encode.cpp) for 8 consecutive i2 at once, each lane with the
// scalar code's operations in its order. For AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include "../common/iq_pack.h"
#include "pack.h"

namespace dgk::avx2 {
namespace {

// sumqx and sumq2 of splits (i1, i2 + lane) of both shifts (0: +, 1: -).
struct SplitVec {
    __m256 qx[2], q2[2];
};

class Iq1sSplitSums {
public:
    static constexpr int kGroup = iq1s::kGroup;

    // order: the group's stable sort; prefix sums in sorted order (sumx[0] = sumw[0] = 0).
    Iq1sSplitSums(const int* order, const float* xb, const float* weight) {
        iq::iq1_prefix_sums(order, xb, weight, kGroup, sumx, sumw);
        for (int j = kGroup + 1; j < kGroup + 8; ++j) sumx[j] = sumw[j] = 0;  // finite: lanes past 32
        // Level-2 tail terms per i2 and shift: (sumx[32] - sumx[i2]) * v2, ((sumw[32] - sumw[i2]) * v2) * v2.
        for (int i = 0; i < kGroup + 8; i += 8) {
            const __m256 cx = _mm256_sub_ps(_mm256_set1_ps(sumx[kGroup]), _mm256_load_ps(sumx + i));
            const __m256 cw = _mm256_sub_ps(_mm256_set1_ps(sumw[kGroup]), _mm256_load_ps(sumw + i));
            for (int s = 0; s < 2; ++s) {
                const __m256 v2 = _mm256_set1_ps(values(s)[2]);
                _mm256_store_ps(tx[s] + i, _mm256_mul_ps(cx, v2));
                _mm256_store_ps(tw[s] + i, _mm256_mul_ps(_mm256_mul_ps(cw, v2), v2));
            }
        }
        // Level-0 terms per i1 and shift, as row() computes them: (sumx[i1] - sumx[0]) * v0,
        // ((sumw[i1] - sumw[0]) * v0) * v0.
        for (int i = 0; i < kGroup + 8; i += 8) {
            const __m256 ax = _mm256_sub_ps(_mm256_load_ps(sumx + i), _mm256_set1_ps(sumx[0]));
            const __m256 aw = _mm256_sub_ps(_mm256_load_ps(sumw + i), _mm256_set1_ps(sumw[0]));
            for (int s = 0; s < 2; ++s) {
                const __m256 v0 = _mm256_set1_ps(values(s)[0]);
                _mm256_store_ps(rx[s] + i, _mm256_mul_ps(ax, v0));
                _mm256_store_ps(rw[s] + i, _mm256_mul_ps(_mm256_mul_ps(aw, v0), v0));
            }
        }
        // Lanes past i2 = 32 get q2 = -inf (NaN if another term is inf): sumq2 > 0 rejects them,
        // and their score estimates are -inf.
        for (int s = 0; s < 2; ++s)
            for (int j = kGroup + 1; j < kGroup + 8; ++j) tw[s][j] = -__builtin_inff();
    }

    static const float* values(int s) { return s == 0 ? iq::kIq1Plus : iq::kIq1Minus; }

    // The level-0 terms of row i1 (a = sumx[i1] - sumx[0], aw = sumw[i1] - sumw[0]), broadcast.
    struct Row {
        __m256 ax[2], aw[2], sx1, sw1;
    };
    Row row(int i1) const {
        const float a = sumx[i1] - sumx[0], aw = sumw[i1] - sumw[0];
        Row r;
        for (int s = 0; s < 2; ++s) {
            const float* v = values(s);
            r.ax[s] = _mm256_set1_ps(a * v[0]);
            r.aw[s] = _mm256_set1_ps(aw * v[0] * v[0]);
        }
        r.sx1 = _mm256_set1_ps(sumx[i1]);
        r.sw1 = _mm256_set1_ps(sumw[i1]);
        return r;
    }

    // sumqx = (a*v0 + b*v1) + c*v2, sumq2 = ((aw*v0)*v0 + (bw*v1)*v1) + (cw*v2)*v2 for i2 .. i2 + 7.
    SplitVec at(const Row& r, int i2) const {
        const __m256 bx = _mm256_sub_ps(_mm256_loadu_ps(sumx + i2), r.sx1);
        const __m256 bw = _mm256_sub_ps(_mm256_loadu_ps(sumw + i2), r.sw1);
        SplitVec v;
        for (int s = 0; s < 2; ++s) {
            const __m256 v1 = _mm256_set1_ps(values(s)[1]);
            v.qx[s] = _mm256_add_ps(_mm256_add_ps(r.ax[s], _mm256_mul_ps(bx, v1)), _mm256_loadu_ps(tx[s] + i2));
            v.q2[s] = _mm256_add_ps(_mm256_add_ps(r.aw[s], _mm256_mul_ps(_mm256_mul_ps(bw, v1), v1)),
                                    _mm256_loadu_ps(tw[s] + i2));
        }
        return v;
    }

    // The same as at(row(i1), i2), the row terms read from tables (no per-row setup).
    SplitVec at(int i1, int i2) const {
        const __m256 bx = _mm256_sub_ps(_mm256_loadu_ps(sumx + i2), _mm256_broadcast_ss(sumx + i1));
        const __m256 bw = _mm256_sub_ps(_mm256_loadu_ps(sumw + i2), _mm256_broadcast_ss(sumw + i1));
        SplitVec v;
        for (int s = 0; s < 2; ++s) {
            const __m256 v1 = _mm256_set1_ps(values(s)[1]);
            v.qx[s] = _mm256_add_ps(_mm256_add_ps(_mm256_broadcast_ss(rx[s] + i1), _mm256_mul_ps(bx, v1)),
                                    _mm256_loadu_ps(tx[s] + i2));
            v.q2[s] = _mm256_add_ps(_mm256_add_ps(_mm256_broadcast_ss(rw[s] + i1), _mm256_mul_ps(_mm256_mul_ps(bw, v1), v1)),
                                    _mm256_loadu_ps(tw[s] + i2));
        }
        return v;
    }

    alignas(32) float sumx[kGroup + 8], sumw[kGroup + 8];

private:
    alignas(32) float tx[2][kGroup + 8], tw[2][kGroup + 8];
    alignas(32) float rx[2][kGroup + 8], rw[2][kGroup + 8];
};

}  // namespace
}  // namespace dgk::avx2
