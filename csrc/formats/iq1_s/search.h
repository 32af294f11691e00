// The scalar split search of an IQ1_S group (ggml's quantize_row_iq1_s_impl), host+device: the CPU
// reference (encode.cpp) and the CUDA module run it; the AVX2 encoder has its own (avx2_encode.cpp).
#pragma once
#include <cfloat>

#include "pack.h"

namespace dgk::iq1s {
namespace {

// The split search: exact weighted least-squares over every split of the sorted weights into
// levels 0 | 1 | 2 (prefix sums make each split O(1)), both shifts.
DGK_HD Split search_split(const float* xb, const float* weight, float max, int* order) {
    iq::iq1_sorted_order(xb, kGroup, order);
    float sumx[kGroup + 1], sumw[kGroup + 1];
    iq::iq1_prefix_sums(order, xb, weight, kGroup, sumx, sumw);

    float best = -FLT_MAX;
    Split r;
    r.scale = max;
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        for (int i2 = i1; i2 <= kGroup; ++i2) {
            for (int s = 0; s < 2; ++s) {  // the + shift first: on ties it wins
                const float* v = iq::iq1_values(s != 0);
                const float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] +
                                    (sumx[kGroup] - sumx[i2]) * v[2];
                const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                                    (sumw[kGroup] - sumw[i2]) * v[2] * v[2];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    r.scale = sumqx / sumq2;
                    best = r.scale * sumqx;
                    r.i1 = i1;
                    r.i2 = i2;
                    r.shift = s == 0 ? 1 : -1;
                }
            }
        }
    }
    return r;
}

}  // namespace
}  // namespace dgk::iq1s
