// IQ1_S AVX2 encode: encode.cpp's algorithm with the split search over consecutive i2 in the
// lanes. A lane computes the scalar sums of its split; a vector whose lanes all fail the scalar
// acceptance test against the current best is skipped, otherwise its lanes are replayed in scan
// order with the scalar test, so the accepted splits and every float are the scalar ones.
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/avx2_iq2search_iq1.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

using iq::kIq1Minus;
using iq::kIq1Plus;
using iq1s::kGroup;
constexpr const float* kValues[2] = {kIq1Plus, kIq1Minus};  // shift +1 first: on ties it wins

// The split search of encode.cpp with consecutive i2 in the lanes.
iq1s::Split search_split(const float* xb, const float* weight, float max, int* order) {
    iq1_stable_order(xb, kGroup, order);
    // Prefix sums in sorted order, padded (finite, lanes past i2 = 32 are masked off).
    alignas(32) float sumx[kGroup + 8], sumw[kGroup + 8];
    iq::iq1_prefix_sums(order, xb, weight, kGroup, sumx, sumw);
    for (int j = kGroup + 1; j < kGroup + 8; ++j) sumx[j] = sumw[j] = 0;
    // Level-2 tail terms per i2 and shift: (sumx[32] - sumx[i2]) * v2 and ((sumw[32] - sumw[i2]) * v2) * v2.
    alignas(32) float tx[2][kGroup + 8], tw[2][kGroup + 8];
    for (int i = 0; i < kGroup + 8; i += 8) {
        const __m256 cx = _mm256_sub_ps(_mm256_set1_ps(sumx[kGroup]), _mm256_load_ps(sumx + i));
        const __m256 cw = _mm256_sub_ps(_mm256_set1_ps(sumw[kGroup]), _mm256_load_ps(sumw + i));
        for (int s = 0; s < 2; ++s) {
            const __m256 v2 = _mm256_set1_ps(kValues[s][2]);
            _mm256_store_ps(tx[s] + i, _mm256_mul_ps(cx, v2));
            _mm256_store_ps(tw[s] + i, _mm256_mul_ps(_mm256_mul_ps(cw, v2), v2));
        }
    }

    iq1s::Split b;
    b.scale = max;
    float best = -FLT_MAX;  // the scalar scan state: best, then the split in b
    const __m256 zero = _mm256_setzero_ps();
    const __m256 p1 = _mm256_set1_ps(kIq1Plus[1]), m1 = _mm256_set1_ps(kIq1Minus[1]);
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        const float a = sumx[i1] - sumx[0], aw = sumw[i1] - sumw[0];
        const __m256 pax = _mm256_set1_ps(a * kIq1Plus[0]), max_ = _mm256_set1_ps(a * kIq1Minus[0]);
        const __m256 paw = _mm256_set1_ps(aw * kIq1Plus[0] * kIq1Plus[0]);
        const __m256 maw = _mm256_set1_ps(aw * kIq1Minus[0] * kIq1Minus[0]);
        const __m256 sx1 = _mm256_set1_ps(sumx[i1]), sw1 = _mm256_set1_ps(sumw[i1]);
        for (int i2 = i1; i2 <= kGroup; i2 += 8) {
            const __m256 bx = _mm256_sub_ps(_mm256_loadu_ps(sumx + i2), sx1);
            const __m256 bw = _mm256_sub_ps(_mm256_loadu_ps(sumw + i2), sw1);
            // sumqx = (a*v0 + b*v1) + c*v2, sumq2 = ((aw*v0)*v0 + (bw*v1)*v1) + (cw*v2)*v2 per shift.
            const __m256 qx0 = _mm256_add_ps(_mm256_add_ps(pax, _mm256_mul_ps(bx, p1)), _mm256_loadu_ps(tx[0] + i2));
            const __m256 qx1 = _mm256_add_ps(_mm256_add_ps(max_, _mm256_mul_ps(bx, m1)), _mm256_loadu_ps(tx[1] + i2));
            const __m256 q20 = _mm256_add_ps(_mm256_add_ps(paw, _mm256_mul_ps(_mm256_mul_ps(bw, p1), p1)),
                                             _mm256_loadu_ps(tw[0] + i2));
            const __m256 q21 = _mm256_add_ps(_mm256_add_ps(maw, _mm256_mul_ps(_mm256_mul_ps(bw, m1), m1)),
                                             _mm256_loadu_ps(tw[1] + i2));
            const __m256 qxx0 = _mm256_mul_ps(qx0, qx0), qxx1 = _mm256_mul_ps(qx1, qx1);
            const __m256 pos0 = _mm256_cmp_ps(q20, zero, _CMP_GT_OQ), pos1 = _mm256_cmp_ps(q21, zero, _CMP_GT_OQ);
            const int valid = kGroup + 1 - i2 < 8 ? kGroup + 1 - i2 : 8;
            // Candidates (lane, shift) that pass the scalar test against `mask_best`; the others
            // fail it against any best >= mask_best, so while the best does not drop below it only
            // these need the scalar test, in scan order.
            float mask_best = best;
            auto passing = [&](unsigned* m0, unsigned* m1) {
                const __m256 vb = _mm256_set1_ps(mask_best);
                *m0 = static_cast<unsigned>(_mm256_movemask_ps(
                    _mm256_and_ps(pos0, _mm256_cmp_ps(qxx0, _mm256_mul_ps(vb, q20), _CMP_GT_OQ))));
                *m1 = static_cast<unsigned>(_mm256_movemask_ps(
                    _mm256_and_ps(pos1, _mm256_cmp_ps(qxx1, _mm256_mul_ps(vb, q21), _CMP_GT_OQ))));
            };
            unsigned m0, m1;
            passing(&m0, &m1);
            unsigned live = (1u << valid) - 1;
            if (!((m0 | m1) & live)) continue;
            alignas(32) float v[4][8];
            _mm256_store_ps(v[0], qx0);
            _mm256_store_ps(v[1], q20);
            _mm256_store_ps(v[2], qx1);
            _mm256_store_ps(v[3], q21);
            for (unsigned m = (m0 | m1) & live; m; m = (m0 | m1) & live) {
                const int l = __builtin_ctz(m);
                for (int s = 0; s < 2; ++s) {
                    if (!(((s == 0 ? m0 : m1) >> l) & 1) && !(best < mask_best)) continue;
                    const float sumqx = v[2 * s][l], sumq2 = v[2 * s + 1][l];
                    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                        b.scale = sumqx / sumq2;
                        best = b.scale * sumqx;
                        b.i1 = i1;
                        b.i2 = i2 + l;
                        b.shift = s == 0 ? 1 : -1;
                    }
                }
                live &= ~((2u << l) - 1);
                if (best < mask_best) {  // rounding let the best drop: re-filter what is left
                    mask_best = best;
                    passing(&m0, &m1);
                }
            }
        }
    }
    return b;
}

}  // namespace

void encode_iq1_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ1_S cannot be encoded without an importance matrix");
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ1).arrays();
    auto snap = [&A](uint16_t key, const float* xv, const float* w, float scale, const float* v) {
        const int g = A.map[iq1_snap_off(A, key, xv, w, scale, v)];
        return g < 0 ? 0 : g;
    };
    auto group = [&](const float* xb, const float* w) { return iq1s::encode_group(A, xb, w, search_split, snap); };
    auto* y = static_cast<block_iq1_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) {
        if (all_finite(x + b * QK_K, QK_K))
            iq1s::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, group);
        else  // non-finite input (refused by the API): the scalar code's result, whatever it is
            ref::encode_iq1_s(x + b * QK_K, y + b, QK_K, imatrix + b * QK_K);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq1_s = {FormatId::IQ1_S, nullptr, avx2::encode_iq1_s};
}
