// IQ3_S encode: ggml's quantize_iq3_s (quantize_row_iq3_s_impl, groups of 32, 512-point grid),
// with and without an importance matrix. Stores 8 explicit sign bits per 8 weights.
#include "../common/iq3_group_search.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq3_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3GridIndex& g = iq3_grid_index(512);
    const Iq3SearchRule rule{9, true};
    auto search = [&](const float* xval, const float* w, const float* waux, float max, uint16_t* grid_index) {
        return iq3_search_group(g, rule, xval, w, waux, max, grid_index);
    };
    auto* out = static_cast<block_iq3_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq3s::encode_block(x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b], search);
}

}  // namespace dgk::ref
