// IQ1_M AVX2 encode: encode.cpp's algorithm with its 8 accumulators (sumqx, sumq2 of the four shift
// combinations) in one vector, so every accumulator addition of the exhaustive split search is one
// vector add in the scalar order. Splits whose four combinations all fail the scalar acceptance
// test against the current best are skipped; otherwise the scalar test is replayed on them.
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "../common/avx2_iq2search_iq1.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

constexpr int kGroup = 16;
constexpr float kZeroGroup = 1e-7f;
constexpr float kDelta = 0.125f;
constexpr float kPlus[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kMinus[3] = {-1 - kDelta, -kDelta, 1 - kDelta};
constexpr uint8_t kShiftBits[4] = {0x00, 0x80, 0x08, 0x88};

inline const float* half_values(int combo, int half) {
    const bool negative = half == 0 ? combo >= 2 : (combo & 1) != 0;
    return negative ? kMinus : kPlus;
}

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

struct GroupResult {
    float scale = 0;
    int combo = 0;
    uint16_t index[2] = {0, 0};
};

GroupResult encode_group(const GridArrays& A, const float* xb, const float* weight) {
    GroupResult r;
    float max = fabsf(xb[0]);
    for (int i = 1; i < kGroup; ++i) max = max > fabsf(xb[i]) ? max : fabsf(xb[i]);
    if (max < kZeroGroup) return r;

    int order[kGroup];
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

    // The scan over (split, combination) in order, 8 candidates per vector: the candidates passing
    // the scalar test against `mask_best` are replayed in order with the scalar test (the others
    // fail against any best >= mask_best; if rounding drops the best, the rest is re-filtered).
    float best = -FLT_MAX, scale = max;
    int best_k = -1;
    const __m256 zero = _mm256_setzero_ps();
    for (int k0 = 0; k0 < kSplits * 4; k0 += 8) {
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
    int best1 = -1, best2 = -1, combo = -1;
    if (best_k >= 0) {
        best1 = kSplitI1[best_k / 4];
        best2 = best1 + (best_k / 4 - kSplitAt[best1]);
        combo = best_k % 4;
    }
    if (best1 < 0 || best2 < 0 || combo < 0) return r;

    int8_t L[kGroup];
    for (int j = 0; j < kGroup; ++j) L[order[j]] = static_cast<int8_t>(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {
        for (int j = 0; j < kGroup; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        combo = 3 - combo;
    }
    bool all_on_grid = true;
    uint16_t keys[2];
    for (int k = 0; k < 2; ++k) {
        keys[k] = iq2::pack_key(L + 8 * k);
        if (A.map[keys[k]] < 0) {
            all_on_grid = false;
            keys[k] = iq1_snap_off(A, keys[k], xb + 8 * k, weight + 8 * k, scale, half_values(combo, k));
        }
        r.index[k] = static_cast<uint16_t>(A.map[keys[k]] < 0 ? 0 : A.map[keys[k]]);
    }
    if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int i = 0; i < kGroup; ++i) {
            const float q = half_values(combo, i / 8)[(keys[i / 8] >> (2 * (i % 8))) & 3];
            sumqx += weight[i] * q * xb[i];
            sumq2 += weight[i] * q * q;
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    r.scale = scale;
    r.combo = combo;
    return r;
}

void encode_superblock(const GridArrays& A, const float* xbl, const float* qwbl, block_iq1_m* y) {
    std::memset(y, 0, sizeof(*y));
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    // encode.cpp's group_weights for the whole super-block (it forms them twice, the same bits).
    alignas(32) float weight[QK_K];
    for (int i = 0; i < QK_K; i += 8) {
        const __m256 x = _mm256_loadu_ps(xbl + i);
        const __m256 x2 = _mm256_mul_ps(x, x);
        _mm256_store_ps(weight + i, qwbl ? _mm256_mul_ps(_mm256_loadu_ps(qwbl + i),
                                                         _mm256_sqrt_ps(_mm256_add_ps(_mm256_set1_ps(sigma2), x2)))
                                         : x2);
    }

    float scales[QK_K / kGroup];
    int combos[QK_K / kGroup];
    uint16_t index[QK_K / kGroup][2];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        const GroupResult r = encode_group(A, xbl + kGroup * ib, weight + kGroup * ib);
        y->qs[2 * ib + 0] = static_cast<uint8_t>(r.index[0] & 255);
        y->qs[2 * ib + 1] = static_cast<uint8_t>(r.index[1] & 255);
        y->qh[ib] = static_cast<uint8_t>((r.index[0] >> 8) | ((r.index[1] >> 8) << 4));
        index[ib][0] = r.index[0];
        index[ib][1] = r.index[1];
        scales[ib] = r.scale;
        combos[ib] = r.combo;
        max_scale = max_scale > r.scale ? max_scale : r.scale;
    }
    if (!max_scale) return;

    uint16_t sc[4] = {0, 0, 0, 0};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 7 ? 7 : l;
        sc[ib / 4] |= static_cast<uint16_t>(l << (3 * (ib % 4)));
        y->qh[ib] |= kShiftBits[combos[ib]];
        const float* xb = xbl + kGroup * ib;
        const float* w = weight + kGroup * ib;
        for (int k = 0; k < 2; ++k) {
            const float* v = half_values(combos[ib], k);
            const uint16_t key = A.grid_keys[index[ib][k]];
            for (int j = 0; j < 8; ++j) {
                const float q = v[(key >> (2 * j)) & 3] * static_cast<float>(2 * l + 1);
                sumqx += w[8 * k + j] * q * xb[8 * k + j];
                sumq2 += w[8 * k + j] * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t h = f32_to_fp16(d * 1.1125f);
    sc[0] |= static_cast<uint16_t>((h & 0x000f) << 12);
    sc[1] |= static_cast<uint16_t>((h & 0x00f0) << 8);
    sc[2] |= static_cast<uint16_t>((h & 0x0f00) << 4);
    sc[3] |= static_cast<uint16_t>(h & 0xf000);
    for (int w = 0; w < 4; ++w) {
        y->scales[2 * w] = static_cast<uint8_t>(sc[w] & 0xff);
        y->scales[2 * w + 1] = static_cast<uint8_t>(sc[w] >> 8);
    }
}

}  // namespace

void encode_iq1_m(const float* x, void* dst, int64_t n, const float* imatrix) {
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ1).arrays();
    auto* y = static_cast<block_iq1_m*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const float* qw = imatrix ? imatrix + b * QK_K : nullptr;
        if (all_finite(x + b * QK_K, QK_K))
            encode_superblock(A, x + b * QK_K, qw, y + b);
        else  // non-finite input (refused by the API): the scalar code's result, whatever it is
            ref::encode_iq1_m(x + b * QK_K, y + b, QK_K, qw);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq1_m = {FormatId::IQ1_M, nullptr, avx2::encode_iq1_m};
}
