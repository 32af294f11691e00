// IQ3_XXS encode: ggml's quantize_iq3_xxs (quantize_row_iq3_xxs_impl with the 256-point grid),
// with and without an importance matrix. Per 32 weights: 8 grid indices, then a u32 of four
// 7-bit sign codes (the 8th sign of each 8 is implied by even parity) and a 4-bit scale.
#include "../common/iq3_group_search.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq3_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3GridIndex& g = iq3_grid_index(256);
    const Iq3SearchRule rule{15, false};
    auto search = [&](const float* xval, const float* w, const float* waux, float max, uint16_t* grid_index) {
        return iq3_search_group(g, rule, xval, w, waux, max, grid_index);
    };
    auto* out = static_cast<block_iq3_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq3xxs::encode_block(x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b], search);
}

}  // namespace dgk::ref
