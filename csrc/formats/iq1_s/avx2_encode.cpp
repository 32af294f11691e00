// IQ1_S AVX2 encode: encode.cpp's algorithm with the split search over consecutive i2 in the
// lanes (each lane computes the scalar sums of its split). Its result comes from the last clear
// record (avx2_split_record.h); where that does not apply, from the whole acceptance chain: a
// vector whose lanes all fail the scalar test against the current best is skipped, otherwise its
// lanes are replayed in scan order with the scalar test. Either way the accepted split and every
// float are the scalar ones.
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/avx2_iq2search_iq1.h"
#include "avx2_split_record.h"
#include "avx2_split_sums.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

using iq1s::kGroup;

// The whole acceptance chain of encode.cpp's split search, consecutive i2 in the lanes.
iq1s::Split search_chain(const Iq1sSplitSums& S, float max) {
    iq1s::Split b;
    b.scale = max;
    float best = -FLT_MAX;  // the scalar scan state: best, then the split in b
    const __m256 zero = _mm256_setzero_ps();
    for (int i1 = 0; i1 <= kGroup; ++i1) {
        const Iq1sSplitSums::Row r = S.row(i1);
        for (int i2 = i1; i2 <= kGroup; i2 += 8) {
            const SplitVec v = S.at(r, i2);
            const __m256 qxx0 = _mm256_mul_ps(v.qx[0], v.qx[0]), qxx1 = _mm256_mul_ps(v.qx[1], v.qx[1]);
            const __m256 pos0 = _mm256_cmp_ps(v.q2[0], zero, _CMP_GT_OQ), pos1 = _mm256_cmp_ps(v.q2[1], zero, _CMP_GT_OQ);
            const int valid = kGroup + 1 - i2 < 8 ? kGroup + 1 - i2 : 8;
            // Candidates (lane, shift) that pass the scalar test against `mask_best`; the others
            // fail it against any best >= mask_best, so while the best does not drop below it only
            // these need the scalar test, in scan order.
            float mask_best = best;
            auto passing = [&](unsigned* m0, unsigned* m1) {
                const __m256 vb = _mm256_set1_ps(mask_best);
                *m0 = static_cast<unsigned>(_mm256_movemask_ps(
                    _mm256_and_ps(pos0, _mm256_cmp_ps(qxx0, _mm256_mul_ps(vb, v.q2[0]), _CMP_GT_OQ))));
                *m1 = static_cast<unsigned>(_mm256_movemask_ps(
                    _mm256_and_ps(pos1, _mm256_cmp_ps(qxx1, _mm256_mul_ps(vb, v.q2[1]), _CMP_GT_OQ))));
            };
            unsigned m0, m1;
            passing(&m0, &m1);
            unsigned live = (1u << valid) - 1;
            if (!((m0 | m1) & live)) continue;
            alignas(32) float sx[2][8], s2[2][8];
            for (int s = 0; s < 2; ++s) {
                _mm256_store_ps(sx[s], v.qx[s]);
                _mm256_store_ps(s2[s], v.q2[s]);
            }
            for (unsigned m = (m0 | m1) & live; m; m = (m0 | m1) & live) {
                const int l = __builtin_ctz(m);
                for (int s = 0; s < 2; ++s) {
                    if (!(((s == 0 ? m0 : m1) >> l) & 1) && !(best < mask_best)) continue;
                    const float sumqx = sx[s][l], sumq2 = s2[s][l];
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

// encode.cpp's split search: its result from the last clear record (avx2_split_record.h), or
// from the whole chain where that method does not apply.
iq1s::Split search_split(const float* xb, const float* weight, float max, int* order) {
    iq1_stable_order(xb, kGroup, order);
    const Iq1sSplitSums S(order, xb, weight);
    iq1s::Split b;
    if (iq1s_search_record(S, weight, &b)) return b;
    return search_chain(S, max);
}

// iq::imatrix_weights of a group (avx2_math.h's group_weights32 with the imatrix): the same bits.
struct Avx2ImatrixWeights {
    static_assert(kGroup == 32, "group_weights32 serves 32-weight groups");
    void operator()(const float* xb, const float* qw, float sigma2, float* w) const { group_weights32(xb, qw, sigma2, w); }
};

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
            iq1s::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, group, Avx2ImatrixWeights{});
        else  // non-finite input (refused by the API): the scalar code's result, whatever it is
            ref::encode_iq1_s(x + b * QK_K, y + b, QK_K, imatrix + b * QK_K);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq1_s = {FormatId::IQ1_S, nullptr, avx2::encode_iq1_s};
}
