// IQ2_XXS AVX2 encode: pack.h's group and super-block code (shared with encode.cpp) around the
// lane-parallel search of avx2_iq2search.h (trial scales and grid neighbours in the lanes); same
// bytes for every input.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/avx2_iq2_prep.h"
#include "../common/avx2_iq2_trials.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

using iq2xxs::kMaxQ;

// ref::make_qp_quants(32, nmax, x, L, w) with x's maximum `max` (> 0) already known: the 8 trial
// scales of steps -4..-1, 1..4 in the lanes of one vector, each lane summing its squared errors
// in element order, and the first trial (step 0, levels wrapped to uint8 as ggml stores them) with
// the elements in the lanes, its errors then summed in element order; the refinement passes test
// all elements in vectors and replay the candidates in order with the scalar arithmetic. Returns
// the scale; Lout receives the levels.
float make_qp_quants32(int nmax, const float* x, const float* w, float max, uint8_t* Lout) {
    constexpr int n = 32;
    const __m256 vmax = _mm256_set1_ps(max);
    const __m256 steps = _mm256_setr_ps(-4, -3, -2, -1, 1, 2, 3, 4);
    const __m256 fmax_l = _mm256_set1_ps(static_cast<float>(nmax));
    // iscale_t = (0.1f*step + nmax)/max; the first trial nmax/max.
    const __m256 is_a = _mm256_div_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.1f), steps), fmax_l), vmax);
    const __m256 is_b = _mm256_div_ps(fmax_l, vmax);
    const __m256 sc_a = _mm256_div_ps(_mm256_set1_ps(1.0f), is_a), sc_b = _mm256_div_ps(_mm256_set1_ps(1.0f), is_b);
    const __m256i lmax = _mm256_set1_epi32(nmax), byte = _mm256_set1_epi32(255);
    __m256 mse_a = _mm256_setzero_ps();
    for (int i = 0; i < n; ++i) {
        const __m256 xi = _mm256_set1_ps(x[i]), wi = _mm256_set1_ps(w[i]);
        const __m256 la = _mm256_cvtepi32_ps(_mm256_min_epi32(nearest_int_ps(_mm256_mul_ps(is_a, xi)), lmax));
        const __m256 da = _mm256_sub_ps(xi, _mm256_mul_ps(sc_a, la));
        mse_a = _mm256_add_ps(mse_a, _mm256_mul_ps(_mm256_mul_ps(wi, da), da));
    }
    alignas(32) float isc[9], eb[n];
    for (int i = 0; i < n; i += 8) {
        const __m256 xi = _mm256_loadu_ps(x + i), wi = _mm256_loadu_ps(w + i);
        const __m256 lb = _mm256_cvtepi32_ps(_mm256_and_si256(nearest_int_ps(_mm256_mul_ps(is_b, xi)), byte));
        const __m256 db = _mm256_sub_ps(xi, _mm256_mul_ps(sc_b, lb));
        _mm256_store_ps(eb + i, _mm256_mul_ps(_mm256_mul_ps(wi, db), db));
    }
    _mm256_store_ps(isc, is_a);
    isc[8] = _mm256_cvtss_f32(is_b);
    float best_mse = 0;
    for (int i = 0; i < n; ++i) best_mse += eb[i];
    // ggml's in-order strict-< pick, without branches: the first lane holding the smallest non-NaN
    // mse, taken when that is below the first trial's (NaN never wins either way).
    const __m256 nan_a = _mm256_cmp_ps(mse_a, mse_a, _CMP_UNORD_Q);
    const float m = hmin_ps(_mm256_blendv_ps(mse_a, _mm256_set1_ps(__builtin_inff()), nan_a));
    const unsigned eq = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(mse_a, _mm256_set1_ps(m), _CMP_EQ_OQ)));
    const float iscale = isc[m < best_mse ? __builtin_ctz(eq | 256u) : 8];

    // Levels at the chosen scale and their fit sums (products in lanes, sums in scalar order). L holds
    // the stored uint8 levels (a negative x, possible after the parity flip, wraps), the sums use the
    // unwrapped ones.
    alignas(32) float wx[n], L[n], px[n], p2[n];
    for (int i = 0; i < n; i += 8) {
        const __m256 xi = _mm256_loadu_ps(x + i), wi = _mm256_loadu_ps(w + i);
        const __m256i li = _mm256_min_epi32(nearest_int_ps(_mm256_mul_ps(_mm256_set1_ps(iscale), xi)), lmax);
        const __m256 lf = _mm256_cvtepi32_ps(li), wxi = _mm256_mul_ps(wi, xi);
        _mm256_store_ps(L + i, _mm256_cvtepi32_ps(_mm256_and_si256(li, byte)));
        _mm256_store_ps(wx + i, wxi);
        _mm256_store_ps(px + i, _mm256_mul_ps(wxi, lf));
        _mm256_store_ps(p2 + i, _mm256_mul_ps(_mm256_mul_ps(wi, lf), lf));
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        sumlx += px[i];
        suml2 += p2[i];
    }
    // Refinement passes. An element can change only when its test passes with the current sums;
    // the test is evaluated for all elements at once and recomputed after every accepted change.
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        uint32_t cand = 0;
        bool stale = true;  // cand must be recomputed for elements >= from
        for (int from = 0; from < n;) {
            if (stale) {
                const __m256 vlx = _mm256_set1_ps(sumlx), vl2 = _mm256_set1_ps(suml2);
                cand = 0;
                for (int k = from / 8; k < n / 8; ++k) {
                    const __m256 l = _mm256_load_ps(L + 8 * k), wv = _mm256_loadu_ps(w + 8 * k);
                    const __m256 slx = _mm256_sub_ps(vlx, _mm256_mul_ps(_mm256_load_ps(wx + 8 * k), l));
                    const __m256 sl2 = _mm256_sub_ps(vl2, _mm256_mul_ps(_mm256_mul_ps(wv, l), l));
                    const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(slx, _mm256_setzero_ps(), _CMP_GT_OQ),
                                                    _mm256_cmp_ps(sl2, _mm256_setzero_ps(), _CMP_GT_OQ));
                    const __m256 q = _mm256_div_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), sl2), slx);
                    // new level != stored level (as ints; both are exact in float below 2^24)
                    const __m256 nl = _mm256_cvtepi32_ps(_mm256_min_epi32(nearest_int_ps(q), lmax));
                    const __m256 differs = _mm256_cmp_ps(nl, l, _CMP_NEQ_UQ);
                    cand |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_and_ps(ok, differs))) << (8 * k);
                }
                stale = false;
            }
            cand &= ~((1u << from) - 1);
            if (!cand) break;
            const int i = __builtin_ctz(cand);
            // The scalar code for element i (its test passed: same sums, same operations).
            float slx = sumlx - wx[i] * L[i];
            float sl2 = suml2 - w[i] * L[i] * L[i];
            int new_l = nearest_int(x[i] * sl2 / slx);
            if (new_l > nmax) new_l = nmax;
            slx += wx[i] * new_l;
            sl2 += w[i] * new_l * new_l;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<float>(static_cast<uint8_t>(new_l));
                sumlx = slx;
                suml2 = sl2;
                ++changed;
                stale = true;
            }
            from = i + 1;
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i) Lout[i] = static_cast<uint8_t>(L[i]);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// iq2::pack_key of 8 levels (byte j's low two bits at bits 2j), folding pairs of fields in one word.
static inline uint16_t pack_key8(const uint8_t* L) {
    uint64_t v;
    std::memcpy(&v, L, sizeof(v));
    v &= 0x0303030303030303ull;
    v = (v | (v >> 6)) & 0x000f000f000f000full;
    v = (v | (v >> 12)) & 0x000000ff000000ffull;
    return static_cast<uint16_t>(v | (v >> 24));
}

// encode.cpp's search_group: the starting scale of make_qp_quants32, then the trial scales and the
// requantization in the lanes.
bool search_group(const GridArrays& A, const float* xval, const float* weight, const float* waux, float max,
                  float* scale, int* points) {
    // Its levels (0..4) are the result only when no trial is accepted and the scale is NaN (no
    // requantization): keep their keys, as ggml does.
    uint8_t Lqp[32];
    Iq2Search<4> s{make_qp_quants32(kMaxQ + 1, xval, weight, max, Lqp), 0, {}, {true, true, true, true}};
    const float eff_max = s.scale * kMaxQ;
    if (eff_max <= 0) return false;
    for (int k = 0; k < 4; ++k) s.keys[k] = pack_key8(Lqp + 8 * k);

    const Iq2Group<4> g(xval, weight, waux);
    iq2_trials<4, -6, 6>(A, g, eff_max, s);
    iq2_requantize(A, g, true, s);  // every point, when the scale is positive
    for (int k = 0; k < 4; ++k) points[k] = iq2_point(A, s.keys[k]);
    *scale = s.scale;
    return true;
}

}  // namespace

void encode_iq2_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XXS cannot be encoded without an importance matrix");
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ2_XXS).arrays();
    auto search = [&A](const float* xval, const float* w, const float* waux, float max, float* scale, int* points) {
        return search_group(A, xval, w, waux, max, scale, points);
    };
    auto* y = static_cast<block_iq2_xxs*>(dst);
    for_superblocks_sigma2(x, n / QK_K, 1, [&](int64_t b, float sigma2) {
        iq2xxs::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, search, Avx2Iq2Prep<4, true>{sigma2});
    });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq2_xxs = {FormatId::IQ2_XXS, nullptr, avx2::encode_iq2_xxs};
}
