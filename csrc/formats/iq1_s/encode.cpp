// IQ1_S encode (ggml's quantize_row_iq1_s_impl): per 32 weights, four points of the 2048-entry
// ternary lattice, a 3-bit scale and a shift sign (values l - 1 +- 1/8); an importance matrix is
// required.
#include <algorithm>
#include <cfloat>
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

using iq::kIq1Minus;
using iq::kIq1Plus;
using iq1s::kGroup;

// The split search: exact weighted least-squares over every split of the sorted weights into
// levels 0 | 1 | 2 (prefix sums make each split O(1)), both shifts.
iq1s::Split search_split(const float* xb, const float* weight, float max, int* order) {
    // ggml sorts (x, index) pairs with glibc qsort, a stable merge sort at this size: ties keep
    // index order, so a stable sort on x alone reproduces it.
    for (int j = 0; j < kGroup; ++j) order[j] = j;
    std::stable_sort(order, order + kGroup, [xb](int a, int b) { return xb[a] < xb[b]; });
    float sumx[kGroup + 1], sumw[kGroup + 1];
    iq::iq1_prefix_sums(order, xb, weight, kGroup, sumx, sumw);

    float best = -FLT_MAX;
    iq1s::Split r;
    r.scale = max;
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        for (int i2 = i1; i2 <= kGroup; ++i2) {
            for (int s = 0; s < 2; ++s) {  // the + shift first: on ties it wins
                const float* v = s == 0 ? kIq1Plus : kIq1Minus;
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

void encode_iq1_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ1_S cannot be encoded without an importance matrix");
    const iq2::GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ1);
    const iq2::GridArrays A = gi.arrays();
    auto snap = [&gi](uint16_t key, const float* xv, const float* w, float scale, const float* v) {
        int8_t L[8];
        return iq2::iq1_best_neighbour(gi, key, xv, w, scale, v, L);
    };
    auto group = [&](const float* xb, const float* w) { return iq1s::encode_group(A, xb, w, search_split, snap); };
    auto* y = static_cast<block_iq1_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) iq1s::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, group);
}

}  // namespace dgk::ref
