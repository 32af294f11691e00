// Helpers shared by the ternary encoders TQ1_0 and TQ2_0 (ggml's quantize_row_tq{1,2}_0_ref).
// `static`: a file built with AVX2 flags that includes this gets its own copy (no ODR merge).
#pragma once
#include <cmath>

#include "dgk/blocks.h"

namespace dgk::ref {

// Largest |x| of one 256-weight block (ggml's MAX(amax, fabsf(v)) scan; the scale itself).
static inline float ternary_amax(const float* x) {
    float amax = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
        const float a = std::fabs(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

// Trit code 0, 1, 2 for -1, 0, +1: lroundf(v) + 1 (ties away from zero).
// v = x/amax lies in [-1, 1] up to one rounding, except when 1/amax overflows (amax subnormal):
// then v is +-inf or NaN, for which x86 lroundf returns LONG_MIN, whose low 32 bits give code 1.
static inline int ternary_digit(float v) {
    if (!(std::fabs(v) <= 2.0f)) return 1;
    const long r = std::lround(v);
    return r < -1 ? 0 : r > 1 ? 2 : (int)r + 1;
}

}  // namespace dgk::ref
