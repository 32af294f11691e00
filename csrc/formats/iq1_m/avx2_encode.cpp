// IQ1_M AVX2 encode: encode.cpp's algorithm with its 8 accumulators (sumqx, sumq2 of the four shift
// combinations) in one vector, so every accumulator addition of the exhaustive split search is one
// vector add in the scalar order. The result comes from the last clear record
// (avx2_split_record.h); where that does not apply, from the whole scan: splits whose four
// combinations all fail the scalar acceptance test against the current best are skipped, the
// others take the scalar test.
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "../common/avx2_iq2search_iq1.h"
#include "avx2_split_record.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

using iq1m::half_values;
using iq1m::kGroup;

// Splits (i1, i2), 0 <= i1 <= i2 <= 16, in the scalar scan order (i1 outer): the first index of
// row i1, and the row of each split index.
constexpr int kSplits = (kGroup + 1) * (kGroup + 2) / 2;
struct SplitTables {
    int at[kGroup + 1];
    int8_t i1[kSplits];
};
constexpr SplitTables make_split_tables() {
    SplitTables t{};
    int p = 0;
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        t.at[i1] = p;
        for (int i2 = i1; i2 <= kGroup; ++i2) t.i1[p++] = static_cast<int8_t>(i1);
    }
    return t;
}
constexpr SplitTables kSplitTables = make_split_tables();
constexpr const int* kSplitAt = kSplitTables.at;
constexpr const int8_t* kSplitI1 = kSplitTables.i1;

// The split search of encode.cpp: all split sums first, then a vector scan of the candidates.
iq1m::Split search_split(const float* xb, const float* weight, float max, int* order) {
    iq1_stable_order(xb, kGroup, order);

    // term[j][lvl]: lanes 0..3 weight*q*x, lanes 4..7 weight*q*q of the four combinations, for
    // sorted element j at level lvl (encode.cpp's Acc8 layout).
    __m256 term[kGroup][3];
    for (int j = 0; j < kGroup; ++j) {
        const int i = order[j];
        const int half = i < kGroup / 2 ? 0 : 1;
        const __m256 w = _mm256_set1_ps(weight[i]), x = _mm256_set1_ps(xb[i]);
        for (int lvl = 0; lvl < 3; ++lvl) {
            const float q0 = half_values(0, half)[lvl], q1 = half_values(1, half)[lvl];
            const float q2 = half_values(2, half)[lvl], q3 = half_values(3, half)[lvl];
            const __m256 q = _mm256_setr_ps(q0, q1, q2, q3, q0, q1, q2, q3);
            term[j][lvl] = _mm256_mul_ps(_mm256_mul_ps(w, q), _mm256_blend_ps(x, q, 0xf0));
        }
    }
    // The sums of every split (i1, i2), i1 <= i2, in scan order: split p's four sumqx at qx[4p..4p+3],
    // its four sumq2 at q2[4p..4p+3]. Each is encode.cpp's chain: the level-0 prefix, the level-1
    // middle, then the level-2 tail added term by term; chains of different i1 with the same i2
    // add the same tail terms, so they run side by side.
    // mid[i1][i2]: the chain of split (i1, i2) before its tail. Rows i1 in (i2, i2+3] are zero
    // fillers so chains always run four at a time (their results are dropped).
    alignas(32) __m256 mid[kGroup + 4][kGroup + 1];
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        mid[i1][i1] = i1 == 0 ? _mm256_setzero_ps() : _mm256_add_ps(mid[i1 - 1][i1 - 1], term[i1 - 1][0]);
        for (int i2 = i1; i2 < kGroup; ++i2) mid[i1][i2 + 1] = _mm256_add_ps(mid[i1][i2], term[i2][1]);
        for (int f = 1; f <= 3; ++f) mid[i1 + f][i1] = _mm256_setzero_ps();
    }
    alignas(32) float qx[kSplits * 4 + 8], q2[kSplits * 4 + 8];
    auto put = [&](int i1, int i2, __m256 v) {
        const int p = kSplitAt[i1] + (i2 - i1);
        _mm_store_ps(qx + 4 * p, _mm256_castps256_ps128(v));
        _mm_store_ps(q2 + 4 * p, _mm256_extractf128_ps(v, 1));
    };
    for (int i2 = 0; i2 <= kGroup; ++i2) {
        for (int i1 = 0; i1 <= i2; i1 += 4) {
            __m256 a0 = mid[i1][i2], a1 = mid[i1 + 1][i2], a2 = mid[i1 + 2][i2], a3 = mid[i1 + 3][i2];
            for (int j = i2; j < kGroup; ++j) {
                const __m256 t = term[j][2];
                a0 = _mm256_add_ps(a0, t);
                a1 = _mm256_add_ps(a1, t);
                a2 = _mm256_add_ps(a2, t);
                a3 = _mm256_add_ps(a3, t);
            }
            put(i1, i2, a0);
            if (i1 + 1 <= i2) put(i1 + 1, i2, a1);
            if (i1 + 2 <= i2) put(i1 + 2, i2, a2);
            if (i1 + 3 <= i2) put(i1 + 3, i2, a3);
        }
    }
    for (int k = kSplits * 4; k < kSplits * 4 + 8; ++k) qx[k] = q2[k] = 0;

    // The result from the last clear record (avx2_split_record.h), or where that does not apply,
    // the scan over (split, combination) in order, 8 candidates per vector: the candidates passing
    // the scalar test against `mask_best` are replayed in order with the scalar test (the others
    // fail against any best >= mask_best; if rounding drops the best, the rest is re-filtered).
    float best = -FLT_MAX, scale = max;
    int best_k = -1;
    const __m256 zero = _mm256_setzero_ps();
    const bool done = iq1m_search_record<(kSplits * 4 + 7) / 8>(qx, q2, kSplits * 4, xb, weight, kGroup, &best_k, &scale);
    for (int k0 = 0; !done && k0 < kSplits * 4; k0 += 8) {
        const __m256 vx = _mm256_load_ps(qx + k0), v2 = _mm256_load_ps(q2 + k0);
        const __m256 vxx = _mm256_mul_ps(vx, vx), pos = _mm256_cmp_ps(v2, zero, _CMP_GT_OQ);
        float mask_best = best;
        auto passing = [&]() {
            return static_cast<unsigned>(_mm256_movemask_ps(_mm256_and_ps(
                pos, _mm256_cmp_ps(vxx, _mm256_mul_ps(_mm256_set1_ps(mask_best), v2), _CMP_GT_OQ))));
        };
        unsigned live = k0 + 8 <= kSplits * 4 ? 0xffu : (1u << (kSplits * 4 - k0)) - 1;
        unsigned m = passing() & live;
        while (m) {
            const int l = __builtin_ctz(m);
            const float sumqx = qx[k0 + l], sumq2 = q2[k0 + l];
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                scale = sumqx / sumq2;
                best = scale * sumqx;
                best_k = k0 + l;
            }
            live &= ~((2u << l) - 1);
            if (best < mask_best) {
                mask_best = best;
                m = passing() & live;
            } else {
                m &= live;
            }
        }
    }
    iq1m::Split r;
    r.scale = scale;
    if (best_k >= 0) {
        r.i1 = kSplitI1[best_k / 4];
        r.i2 = r.i1 + (best_k / 4 - kSplitAt[r.i1]);
        r.combo = best_k % 4;
    }
    return r;
}

}  // namespace

void encode_iq1_m(const float* x, void* dst, int64_t n, const float* imatrix) {
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ1).arrays();
    auto snap = [&A](uint16_t key, const float* xv, const float* w, float scale, const float* v) {
        const int g = A.map[iq1_snap_off(A, key, xv, w, scale, v)];
        return g < 0 ? 0 : g;
    };
    auto group = [&](const float* xb, const float* w) { return iq1m::encode_group(A, xb, w, search_split, snap); };
    auto* y = static_cast<block_iq1_m*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float* qw = imatrix ? imatrix + b * QK_K : nullptr;
        if (all_finite(x + b * QK_K, QK_K))
            iq1m::encode_superblock(A, x + b * QK_K, qw, y + b, group);
        else  // non-finite input (refused by the API): the scalar code's result, whatever it is
            ref::encode_iq1_m(x + b * QK_K, y + b, QK_K, qw);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq1_m = {FormatId::IQ1_M, nullptr, avx2::encode_iq1_m};
}
