// The scale search shared by IQ4_NL and IQ4_XS (ggml's quantize_row_iq4_nl_impl with ntry = 7,
// the path ggml_quantize_chunk takes). Both formats quantize groups of 32 weights to the 16
// non-linear levels kvalues_iq4nl; they differ only in how the per-group scales are stored.
// Host+device (DGK_HD): the CPU reference and the CUDA module run the same code.
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/fp.h"
#include "dgk/tables_hd.h"
#include "scale_search.h"

namespace dgk::ref {

constexpr int kIq4Group = 32;
constexpr int kIq4Trials = 7;  // ggml_quantize_chunk's ntry

// Index of the kvalues_iq4nl level nearest to v (ties go to the upper level). Not inlined on the CPU:
// inlined into the searches' loops, GCC's code for the bisection ran ~30% slower.
#if !defined(__CUDACC__)
__attribute__((noinline))
#endif
DGK_HD int iq4_nearest_level(float v) {
    const int8_t* k = DGK_TAB(kvalues_iq4nl);
    if (v <= k[0]) return 0;
    if (v >= k[15]) return 15;
    // Bisection keeps k[lo] <= v < k[hi]; NaN never reaches here with finite data, and even then
    // every comparison is false and the result stays in range.
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < k[mid]) hi = mid;
        else lo = mid;
    }
    return v - k[hi - 1] < k[hi] - v ? hi - 1 : hi;
}

// sigma2 = 2*sum(x^2)/len over the enclosing super-block (32 for IQ4_NL, 256 for IQ4_XS).
DGK_HD float iq4_sigma2(const float* x, int len) {
    float s = 0;
    for (int j = 0; j < len; ++j) s += x[j] * x[j];
    return s * (2.f / len);  // ggml: sigma2 *= 2.f/len (2/len is a power of two here)
}

// Importance of each weight of a group: qw*sqrt(sigma2 + x^2) with an imatrix, else x^2.
DGK_HD void iq4_group_weights(const float* xb, const float* qw, float sigma2, float* w) {
    if (qw) {
        for (int j = 0; j < kIq4Group; ++j) w[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
    } else {
        for (int j = 0; j < kIq4Group; ++j) w[j] = xb[j] * xb[j];
    }
}

// The search bodies, host+device.
namespace hd {

// Weighted sums for inverse scale id: sum w*q*x and sum w*q*q over the quantized levels q.
DGK_HD void iq4_fit_sums(const float* xb, const float* w, float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < kIq4Group; ++j) {
        const float q = DGK_TAB(kvalues_iq4nl)[iq4_nearest_level(id * xb[j])];
        sumqx += w[j] * q * xb[j];
        sumq2 += w[j] * q * q;
    }
}

// Weighted least-squares scale of one group of 32 (may be negative); 0 for a group whose largest
// magnitude is below ggml's GROUP_MAX_EPS.
DGK_HD float iq4_group_scale(const float* xb, const float* w) {
    float max, amax;
    signed_absmax(kIq4Group, xb, &max, &amax);
    if (amax < kGroupMaxEps) return 0.f;
    const int k0 = DGK_TAB(kvalues_iq4nl)[0];
    // Start with the element of largest magnitude on the extreme level -127 ...
    const float d0 = -max / k0;
    float sumqx, sumq2;
    iq4_fit_sums(xb, w, 1 / d0, sumqx, sumq2);
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    // ... then try putting it on the levels between -134 and -120; keep the best LS fit (strict >).
    for (int t = -kIq4Trials; t <= kIq4Trials; ++t) {
        const float id = (t + k0) / max;
        iq4_fit_sums(xb, w, id, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

// Level indices of a group quantized with inverse scale id, packed: byte j = L[j] | L[j+16] << 4.
DGK_HD void iq4_levels_pack(const float* xb, float id, uint8_t* qs) {
    uint8_t L[kIq4Group];
    for (int j = 0; j < kIq4Group; ++j) L[j] = (uint8_t)iq4_nearest_level(id * xb[j]);
    for (int j = 0; j < kIq4Group / 2; ++j) qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

}  // namespace hd

// The CUDA module calls the bodies directly; on the CPU they are compiled once, out of line, in
// iq4_search.cpp (inlined into each encoder they ran ~30% slower).
#if defined(__CUDACC__)
using hd::iq4_group_scale;
using hd::iq4_levels_pack;
#else
float iq4_group_scale(const float* xb, const float* w);
void iq4_levels_pack(const float* xb, float id, uint8_t* qs);
#endif

}  // namespace dgk::ref
