// make_q3_quants(16, nmax, x, L, do_rmse = true) for many sub-blocks, 8 per vector lane set.
// Its coordinate descent runs until a pass changes nothing (at most 5 passes). Most sub-blocks stop
// after pass 1 but a set of 8 would run as long as its slowest lane, so after pass 1 the lanes
// still moving are gathered into dense sets; and since a pass is one long dependency chain per
// set, up to 4 sets run interleaved. A lane whose pass changed nothing is final: running more
// passes on it would change nothing either, so padding or idle lanes are harmless.
// AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_search.h"

namespace dgk::avx2::kq {

// 8 sub-blocks of 16, one per lane: x[i] lane j = element i of sub-block j.
struct Q3Set {
    __m256 x[16];
    __m256 L[16];  // signed levels while refining, L + nmax at the end
    __m256 sumlx, suml2;
};
constexpr int kQ3SetVectors = sizeof(Q3Set) / sizeof(__m256);

// Initial levels from iscale = -nmax/max and their sums, as make_q3_quants.
template <int NB>
static inline void q3_start(Q3Set* const* s, int nmax, __m256* empty) {
    const __m256 zero = _mm256_setzero_ps();
    for (int b = 0; b < NB; ++b) {
        __m256 max, amax;
        signed_absmax<16>(s[b]->x, &max, &amax);
        empty[b] = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);
        const __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max);
        __m256 sumlx = zero, suml2 = zero;
        for (int i = 0; i < 16; ++i) {
            const __m256 x = s[b]->x[i], w = _mm256_mul_ps(x, x);
            const __m256 l = level8(_mm256_mul_ps(iscale, x), -nmax, nmax - 1);
            s[b]->L[i] = l;
            sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w, x), l));
            suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w, l), l));
        }
        s[b]->sumlx = sumlx;
        s[b]->suml2 = suml2;
    }
}

// One coordinate-descent pass over NB sets, interleaved element by element; changed[b] marks the
// lanes that moved a level.
template <int NB>
static inline void q3_pass(Q3Set* const* s, int nmax, __m256* changed) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 sumlx[NB], suml2[NB];
    for (int b = 0; b < NB; ++b) {
        sumlx[b] = s[b]->sumlx;
        suml2[b] = s[b]->suml2;
        changed[b] = zero;
    }
    for (int i = 0; i < 16; ++i) {
        for (int b = 0; b < NB; ++b) {
            const __m256 x = s[b]->x[i], L = s[b]->L[i];
            const __m256 w = _mm256_mul_ps(x, x), wx = _mm256_mul_ps(w, x);
            __m256 slx = _mm256_sub_ps(sumlx[b], _mm256_mul_ps(wx, L));
            __m256 ok = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);
            __m256 sl2 = _mm256_sub_ps(suml2[b], _mm256_mul_ps(_mm256_mul_ps(w, L), L));
            const __m256 new_l = level8(_mm256_div_ps(_mm256_mul_ps(x, sl2), slx), -nmax, nmax - 1);
            ok = _mm256_and_ps(ok, _mm256_cmp_ps(new_l, L, _CMP_NEQ_UQ));
            slx = _mm256_add_ps(slx, _mm256_mul_ps(wx, new_l));
            sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(w, new_l), new_l));
            const __m256 gain = _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2[b]),
                                              _mm256_mul_ps(_mm256_mul_ps(sumlx[b], sumlx[b]), sl2), _CMP_GT_OQ);
            ok = _mm256_and_ps(ok, _mm256_and_ps(_mm256_cmp_ps(sl2, zero, _CMP_GT_OQ), gain));
            s[b]->L[i] = pick(L, new_l, ok);
            sumlx[b] = pick(sumlx[b], slx, ok);
            suml2[b] = pick(suml2[b], sl2, ok);
            changed[b] = _mm256_or_ps(changed[b], ok);
        }
    }
    for (int b = 0; b < NB; ++b) {
        s[b]->sumlx = sumlx[b];
        s[b]->suml2 = suml2[b];
    }
}

// q3_start / q3_pass over n sets, in interleaved groups of up to 4.
static inline void q3_start_all(Q3Set* const* s, int n, int nmax, __m256* empty) {
    int k = 0;
    for (; k + 4 <= n; k += 4) q3_start<4>(s + k, nmax, empty + k);
    switch (n - k) {
        case 3: q3_start<3>(s + k, nmax, empty + k); break;
        case 2: q3_start<2>(s + k, nmax, empty + k); break;
        case 1: q3_start<1>(s + k, nmax, empty + k); break;
        default: break;
    }
}

static inline void q3_pass_all(Q3Set* const* s, int n, int nmax, __m256* changed) {
    int k = 0;
    for (; k + 4 <= n; k += 4) q3_pass<4>(s + k, nmax, changed + k);
    switch (n - k) {
        case 3: q3_pass<3>(s + k, nmax, changed + k); break;
        case 2: q3_pass<2>(s + k, nmax, changed + k); break;
        case 1: q3_pass<1>(s + k, nmax, changed + k); break;
        default: break;
    }
}

constexpr int kQ3MaxSets = 16;

// The search for n <= kQ3MaxSets sets whose x the caller filled. Afterwards L holds the levels
// (signed level + nmax, 0 for all-zero sub-blocks) and scale[k] the scales of set k.
static inline void q3_search_sets(Q3Set* sets, int n, int nmax, __m256* scale) {
    Q3Set* ptr[kQ3MaxSets];
    __m256 empty[kQ3MaxSets], changed[kQ3MaxSets];
    for (int k = 0; k < n; ++k) ptr[k] = sets + k;
    q3_start_all(ptr, n, nmax, empty);
    q3_pass_all(ptr, n, nmax, changed);

    // Float offset (in `sets`) of every lane that moved in pass 1.
    int32_t moving[kQ3MaxSets * 8];
    int m = 0;
    for (int k = 0; k < n; ++k) {
        const int bits = _mm256_movemask_ps(changed[k]);
        for (int j = 0; j < 8; ++j) {
            if (bits & (1 << j)) moving[m++] = k * kQ3SetVectors * 8 + j;
        }
    }
    if (m > 0) {
        const int nd = (m + 7) / 8;
        Q3Set dense[kQ3MaxSets];
        const float* base = reinterpret_cast<const float*>(sets);
        for (int c = 0; c < nd; ++c) {
            alignas(32) int32_t idx[8];
            for (int t = 0; t < 8; ++t) idx[t] = moving[8 * c + t < m ? 8 * c + t : m - 1];  // pad: repeat a lane
            const __m256i vidx = _mm256_load_si256(reinterpret_cast<const __m256i*>(idx));
            __m256* dst = reinterpret_cast<__m256*>(&dense[c]);
            for (int v = 0; v < kQ3SetVectors; ++v) dst[v] = _mm256_i32gather_ps(base + 8 * v, vidx, 4);
        }
        // passes 2..5 while a set still moves
        Q3Set* active[kQ3MaxSets];
        int na = nd;
        for (int c = 0; c < nd; ++c) active[c] = &dense[c];
        for (int pass = 1; pass < 5 && na > 0; ++pass) {
            q3_pass_all(active, na, nmax, changed);
            int keep = 0;
            for (int a = 0; a < na; ++a) {
                if (_mm256_movemask_ps(changed[a])) active[keep++] = active[a];
            }
            na = keep;
        }
        // write back the refined lanes: levels and sums
        float* out = reinterpret_cast<float*>(sets);
        for (int e = 0; e < m; ++e) {
            const float* src = reinterpret_cast<const float*>(&dense[e / 8]) + e % 8;
            for (int v = 16; v < kQ3SetVectors; ++v) out[moving[e] + 8 * v] = src[8 * v];
        }
    }

    const __m256 zero = _mm256_setzero_ps(), offset = _mm256_set1_ps((float)nmax);
    for (int k = 0; k < n; ++k) {
        for (int i = 0; i < 16; ++i) sets[k].L[i] = _mm256_andnot_ps(empty[k], _mm256_add_ps(sets[k].L[i], offset));
        const __m256 s = _mm256_and_ps(_mm256_cmp_ps(sets[k].suml2, zero, _CMP_GT_OQ),
                                       _mm256_div_ps(sets[k].sumlx, sets[k].suml2));
        scale[k] = _mm256_andnot_ps(empty[k], s);
    }
}

}  // namespace dgk::avx2::kq
