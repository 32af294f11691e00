#include "iq4_search.h"

#include <cmath>

#include "dgk/tables.h"

namespace dgk::ref {

namespace {
constexpr float kGroupEps = 1e-15f;  // ggml's GROUP_MAX_EPS
constexpr int kTrials = 7;           // ggml_quantize_chunk's ntry
}  // namespace

int iq4_nearest_level(float v) {
    const int8_t* k = kvalues_iq4nl;
    if (v <= k[0]) return 0;
    if (v >= k[15]) return 15;
    // Bisection keeps k[lo] <= v < k[hi]; NaN never reaches here with finite data, and even then
    // every comparison is false and the result stays in range.
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < k[mid]) hi = mid; else lo = mid;
    }
    return v - k[hi - 1] < k[hi] - v ? hi - 1 : hi;
}

float iq4_sigma2(const float* x, int len) {
    float s = 0;
    for (int j = 0; j < len; ++j) s += x[j] * x[j];
    return s * (2.f / len);  // ggml: sigma2 *= 2.f/len (2/len is a power of two here)
}

void iq4_group_weights(const float* xb, const float* qw, float sigma2, float* w) {
    if (qw) {
        for (int j = 0; j < kIq4Group; ++j) w[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
    } else {
        for (int j = 0; j < kIq4Group; ++j) w[j] = xb[j] * xb[j];
    }
}

namespace {
// Weighted sums for inverse scale id: sum w*q*x and sum w*q*q over the quantized levels q.
inline void fit_sums(const float* xb, const float* w, float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < kIq4Group; ++j) {
        const float q = kvalues_iq4nl[iq4_nearest_level(id * xb[j])];
        sumqx += w[j] * q * xb[j];
        sumq2 += w[j] * q * q;
    }
}
}  // namespace

float iq4_group_scale(const float* xb, const float* w) {
    float amax = 0, max = 0;
    for (int j = 0; j < kIq4Group; ++j) {
        const float a = std::fabs(xb[j]);
        if (a > amax) {
            amax = a;
            max = xb[j];
        }
    }
    if (amax < kGroupEps) return 0.f;
    // Start with the element of largest magnitude on the extreme level -127 ...
    const float d0 = -max / kvalues_iq4nl[0];
    float sumqx, sumq2;
    fit_sums(xb, w, 1 / d0, sumqx, sumq2);
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    // ... then try putting it on the levels between -134 and -120; keep the best LS fit (strict >).
    for (int t = -kTrials; t <= kTrials; ++t) {
        const float id = (t + kvalues_iq4nl[0]) / max;
        fit_sums(xb, w, id, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

void iq4_levels(const float* xb, float id, uint8_t* L) {
    for (int j = 0; j < kIq4Group; ++j) L[j] = (uint8_t)iq4_nearest_level(id * xb[j]);
}

void iq4_pack(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < kIq4Group / 2; ++j) qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

}  // namespace dgk::ref
