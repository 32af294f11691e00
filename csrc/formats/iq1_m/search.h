// The scalar split search of an IQ1_M group (ggml's quantize_row_iq1_m_impl), host+device: the CPU
// reference (encode.cpp) and the CUDA module run it; the AVX2 encoder has its own (avx2_encode.cpp).
#pragma once
#include <cfloat>

#include "pack.h"

namespace dgk::iq1m {
namespace {

// Accumulators of one split: sumqx for the four shift combinations, then sumq2 for the four.
struct Acc8 {
    float v[8];
};

DGK_HD void add(Acc8& a, const Acc8& t) {
    for (int c = 0; c < 8; ++c) a.v[c] += t.v[c];
}

// Exhaustive search over splits of the sorted weights into levels 0 | 1 | 2 for the four shift
// combinations. ggml re-sums all 16 terms per split in sorted order for each accumulator; the sums
// here add the very same terms in the same order (a shared prefix for level 0, a running middle for
// level 1, the tail for level 2), so every float result is identical.
DGK_HD Split search_split(const float* xb, const float* weight, float max, int* order) {
    iq::iq1_sorted_order(xb, kGroup, order);

    // term[j][lvl]: what sorted element j adds to each accumulator when it takes level lvl.
    Acc8 term[kGroup][3];
    for (int j = 0; j < kGroup; ++j) {
        const int i = order[j];
        const int half = i < kGroup / 2 ? 0 : 1;
        for (int lvl = 0; lvl < 3; ++lvl) {
            for (int c = 0; c < 4; ++c) {
                const float q = half_values(c, half)[lvl];
                term[j][lvl].v[c] = weight[i] * q * xb[i];
                term[j][lvl].v[4 + c] = weight[i] * q * q;
            }
        }
    }
    Acc8 prefix[kGroup + 1];  // prefix[j]: elements 0..j-1 all at level 0
    for (int c = 0; c < 8; ++c) prefix[0].v[c] = 0;
    for (int j = 0; j < kGroup; ++j) {
        prefix[j + 1] = prefix[j];
        add(prefix[j + 1], term[j][0]);
    }

    float best = -FLT_MAX;
    Split r;
    r.scale = max;
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        Acc8 mid = prefix[i1];  // levels 0 below i1, level 1 from i1 up to i2
        for (int i2 = i1; i2 <= kGroup; ++i2) {
            Acc8 s = mid;
            for (int j = i2; j < kGroup; ++j) add(s, term[j][2]);
            for (int c = 0; c < 4; ++c) {
                const float sumqx = s.v[c], sumq2 = s.v[4 + c];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    r.scale = sumqx / sumq2;
                    best = r.scale * sumqx;
                    r.i1 = i1;
                    r.i2 = i2;
                    r.combo = c;
                }
            }
            if (i2 < kGroup) add(mid, term[i2][1]);
        }
    }
    return r;
}

}  // namespace
}  // namespace dgk::iq1m
