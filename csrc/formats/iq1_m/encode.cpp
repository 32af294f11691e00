// IQ1_M encode (ggml's quantize_row_iq1_m_impl): per 16 weights, two points of the 2048-entry
// ternary lattice with a shift sign each and a 3-bit scale; the fp16 super-block scale is a
// weighted least-squares refit spread over the top nibbles of the four scale words.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "../common/iq2_grid_index.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

using iq2::GridIndex;

constexpr int kGroup = 16;
constexpr float kZeroGroup = 1e-7f;
constexpr float kDelta = 0.125f;
constexpr float kPlus[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kMinus[3] = {-1 - kDelta, -kDelta, 1 - kDelta};
// Shift combination c (0..3) of the two 8-weight halves: bit 1 = first half negative, bit 0 = second.
constexpr uint8_t kShiftBits[4] = {0x00, 0x80, 0x08, 0x88};

inline const float* half_values(int combo, int half) {
    const bool negative = half == 0 ? combo >= 2 : (combo & 1) != 0;
    return negative ? kMinus : kPlus;
}

// Accumulators of one split: sumqx for the four shift combinations, then sumq2 for the four.
struct Acc8 {
    float v[8];
};

inline void add(Acc8& a, const Acc8& t) {
    for (int c = 0; c < 8; ++c) a.v[c] += t.v[c];
}

struct GroupResult {
    float scale = 0;
    int combo = 0;
    uint16_t index[2] = {0, 0};
};

// Exhaustive search over splits of the sorted weights into levels 0 | 1 | 2 for the four shift
// combinations. ggml re-sums all 16 terms per split in sorted order for each accumulator; the sums
// here add the very same terms in the same order (a shared prefix for level 0, a running middle for
// level 1, the tail for level 2), so every float result is identical.
GroupResult encode_group(const GridIndex& gi, const float* xb, const float* weight) {
    GroupResult r;
    float max = fabsf(xb[0]);
    for (int i = 1; i < kGroup; ++i) max = max > fabsf(xb[i]) ? max : fabsf(xb[i]);  // ggml's MAX order
    if (max < kZeroGroup) return r;

    // glibc's qsort (ggml) is a stable merge sort at this size: ties keep index order.
    int order[kGroup];
    for (int j = 0; j < kGroup; ++j) order[j] = j;
    std::stable_sort(order, order + kGroup, [xb](int a, int b) { return xb[a] < xb[b]; });

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

    float best = -FLT_MAX, scale = max;
    int best1 = -1, best2 = -1, combo = -1;
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        Acc8 mid = prefix[i1];  // levels 0 below i1, level 1 from i1 up to i2
        for (int i2 = i1; i2 <= kGroup; ++i2) {
            Acc8 s = mid;
            for (int j = i2; j < kGroup; ++j) add(s, term[j][2]);
            for (int c = 0; c < 4; ++c) {
                const float sumqx = s.v[c], sumq2 = s.v[4 + c];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    best1 = i1;
                    best2 = i2;
                    combo = c;
                }
            }
            if (i2 < kGroup) add(mid, term[i2][1]);
        }
    }
    if (best1 < 0 || best2 < 0 || combo < 0) return r;

    int8_t L[kGroup];
    for (int j = 0; j < kGroup; ++j) L[order[j]] = static_cast<int8_t>(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {  // mirror levels and both shifts so the scale is positive
        for (int j = 0; j < kGroup; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        combo = 3 - combo;
    }
    bool all_on_grid = true;
    for (int k = 0; k < 2; ++k) {
        const uint16_t key = iq2::pack_key(L + 8 * k);
        int g = gi.find(key);
        if (g < 0) {
            all_on_grid = false;
            g = iq2::iq1_best_neighbour(gi, key, xb + 8 * k, weight + 8 * k, scale, half_values(combo, k),
                                        L + 8 * k);
        }
        r.index[k] = static_cast<uint16_t>(g);
    }
    if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < 2; ++k) {
            const float* v = half_values(combo, k);
            const int8_t* lv = gi.levels(r.index[k]);
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = v[lv[j]];
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    r.scale = scale;
    r.combo = combo;
    return r;
}

void group_weights(const float* xb, const float* qw, float sigma2, float* weight) {
    if (qw) {
        for (int i = 0; i < kGroup; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    } else {
        for (int i = 0; i < kGroup; ++i) weight[i] = xb[i] * xb[i];
    }
}

void encode_superblock(const GridIndex& gi, const float* xbl, const float* qwbl, block_iq1_m* y) {
    std::memset(y, 0, sizeof(*y));
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    float scales[QK_K / kGroup];
    int combos[QK_K / kGroup];
    uint16_t index[QK_K / kGroup][2];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        const float* xb = xbl + kGroup * ib;
        float weight[kGroup];
        group_weights(xb, qwbl ? qwbl + kGroup * ib : nullptr, sigma2, weight);
        const GroupResult r = encode_group(gi, xb, weight);
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

    // 3-bit group scales, then refit the super-block scale d to the quantized values
    // (d * (2l+1) * value) by weighted least squares over all 256 weights.
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
        float weight[kGroup];
        group_weights(xb, qwbl ? qwbl + kGroup * ib : nullptr, sigma2, weight);
        for (int k = 0; k < 2; ++k) {
            const float* v = half_values(combos[ib], k);
            const int8_t* lv = gi.levels(index[ib][k]);
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = v[lv[j]] * static_cast<float>(2 * l + 1);
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t h = f32_to_fp16(d * 1.1125f);  // ggml's fudge factor on the stored scale only
    sc[0] |= static_cast<uint16_t>((h & 0x000f) << 12);
    sc[1] |= static_cast<uint16_t>((h & 0x00f0) << 8);
    sc[2] |= static_cast<uint16_t>((h & 0x0f00) << 4);
    sc[3] |= static_cast<uint16_t>(h & 0xf000);
    for (int w = 0; w < 4; ++w) {  // little-endian words, as ggml's uint16_t view of scales
        y->scales[2 * w] = static_cast<uint8_t>(sc[w] & 0xff);
        y->scales[2 * w + 1] = static_cast<uint8_t>(sc[w] >> 8);
    }
}

}  // namespace

void encode_iq1_m(const float* x, void* dst, int64_t n, const float* imatrix) {
    const GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ1);
    auto* y = static_cast<block_iq1_m*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_superblock(gi, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, y + b);
}

}  // namespace dgk::ref
