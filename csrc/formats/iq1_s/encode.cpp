// IQ1_S encode (ggml's quantize_row_iq1_s_impl): per 32 weights, four points of the 2048-entry
// ternary lattice, a 3-bit scale and a shift sign (values l - 1 +- 1/8); an importance matrix is
// required.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

using iq2::GridIndex;

constexpr int kGroup = 32;
constexpr float kZeroGroup = 1e-12f;
constexpr float kDelta = 0.125f;
// Dequantized values of levels 0, 1, 2 under a positive and a negative shift.
constexpr float kPlus[3] = {-1 + kDelta, kDelta, 1 + kDelta};
constexpr float kMinus[3] = {-1 - kDelta, -kDelta, 1 - kDelta};

struct GroupResult {
    float scale = 0;
    int shift = 1;              // +1 / -1: sign of the delta
    uint16_t index[kGroup / 8] = {0, 0, 0, 0};
};

// Exact weighted least-squares over every split of the sorted weights into levels 0 | 1 | 2
// (prefix sums make each split O(1)), both shifts, then the lattice constraint.
GroupResult encode_group(const GridIndex& gi, const float* xb, const float* weight) {
    GroupResult r;
    float max = fabsf(xb[0]);
    for (int i = 1; i < kGroup; ++i) max = max > fabsf(xb[i]) ? max : fabsf(xb[i]);  // ggml's MAX order
    if (max < kZeroGroup) return r;

    // ggml sorts (x, index) pairs with glibc qsort, a stable merge sort at this size: ties keep
    // index order, so a stable sort on x alone reproduces it.
    int order[kGroup];
    for (int j = 0; j < kGroup; ++j) order[j] = j;
    std::stable_sort(order, order + kGroup, [xb](int a, int b) { return xb[a] < xb[b]; });
    float sumx[kGroup + 1], sumw[kGroup + 1];
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < kGroup; ++j) {
        const int i = order[j];
        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
        sumw[j + 1] = sumw[j] + weight[i];
    }

    float best = -FLT_MAX, scale = max;
    int best1 = -1, best2 = -1, shift = 0;
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        for (int i2 = i1; i2 <= kGroup; ++i2) {
            for (int s = 0; s < 2; ++s) {  // the + shift first: on ties it wins
                const float* v = s == 0 ? kPlus : kMinus;
                const float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] +
                                    (sumx[kGroup] - sumx[i2]) * v[2];
                const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                                    (sumw[kGroup] - sumw[i2]) * v[2] * v[2];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    best1 = i1;
                    best2 = i2;
                    shift = s == 0 ? 1 : -1;
                }
            }
        }
    }
    if (best1 < 0 || best2 < 0 || shift == 0) return r;

    int8_t L[kGroup];
    for (int j = 0; j < kGroup; ++j) L[order[j]] = static_cast<int8_t>(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {  // mirror levels and shift so the scale is positive
        for (int j = 0; j < kGroup; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        shift = -shift;
    }
    const float* v = shift == 1 ? kPlus : kMinus;
    bool all_on_grid = true;
    for (int k = 0; k < kGroup / 8; ++k) {
        const uint16_t key = iq2::pack_key(L + 8 * k);
        int g = gi.find(key);
        if (g < 0) {
            all_on_grid = false;
            g = iq2::iq1_best_neighbour(gi, key, xb + 8 * k, weight + 8 * k, scale, v, L + 8 * k);
        }
        r.index[k] = static_cast<uint16_t>(g);
    }
    if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < kGroup / 8; ++k) {
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
    r.shift = shift;
    return r;
}

void encode_superblock(const GridIndex& gi, const float* xbl, const float* qwbl, block_iq1_s* y) {
    std::memset(y, 0, sizeof(*y));
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    float scales[QK_K / kGroup];
    int shifts[QK_K / kGroup];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        const float* xb = xbl + kGroup * ib;
        const float* qw = qwbl + kGroup * ib;
        float weight[kGroup];
        for (int i = 0; i < kGroup; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        const GroupResult r = encode_group(gi, xb, weight);
        uint16_t h = 0;
        for (int k = 0; k < kGroup / 8; ++k) {
            y->qs[(kGroup / 8) * ib + k] = static_cast<uint8_t>(r.index[k] & 255);
            h |= static_cast<uint16_t>((r.index[k] >> 8) << (3 * k));
        }
        y->qh[ib] = h;
        scales[ib] = r.scale;
        shifts[ib] = r.shift;
        max_scale = max_scale > r.scale ? max_scale : r.scale;
    }
    if (!max_scale) return;

    const float d = max_scale / 15;
    y->d = f32_to_fp16(d * 1.125f);  // ggml's fudge factor on the stored scale only
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / kGroup; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 7 ? 7 : l;
        if (shifts[ib] == -1) l |= 8;
        y->qh[ib] |= static_cast<uint16_t>(l << 12);
    }
}

}  // namespace

void encode_iq1_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ1_S cannot be encoded without an importance matrix");
    const GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ1);
    auto* y = static_cast<block_iq1_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) encode_superblock(gi, x + b * QK_K, imatrix + b * QK_K, y + b);
}

}  // namespace dgk::ref
