// The per-32-weight scale and grid-point search shared by the IQ3_XXS and IQ3_S encoders
// (the core of ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl).
#pragma once
#include <cstdint>

#include "iq3_grid_index.h"

namespace dgk::ref {

struct Iq3SearchRule {
    int trials;         // scales tried: id = (15 + 0.2*is)/max for is = -trials..trials
    bool requant_all;   // IQ3_S: after the search, requantize every group when any is off-grid
                        // (and a group counts as off-grid until a trial is accepted);
                        // IQ3_XXS: requantize only the off-grid groups.
};

// xval: |x| of the 32 weights (one may be negated by the IQ3_XXS sign-parity fix), weight and
// waux = sqrtf(weight) their error weights, max the largest xval (> 0). Writes the eight grid
// indices (one per 4 weights) and returns the group scale (may be negative or non-finite, as
// in ggml; the caller handles it).
float iq3_search_group(const Iq3GridIndex& g, const Iq3SearchRule& rule, const float* xval, const float* weight,
                       const float* waux, float max, uint16_t grid_index[8]);

}  // namespace dgk::ref
