// IQ2_XXS encode (ggml's quantize_row_iq2_xxs_impl): per 32 weights, four 8-element points of the
// 256-entry lattice, 4x7 sign bits and a 4-bit scale; an importance matrix is required.
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq2_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XXS cannot be encoded without an importance matrix");
    const iq2::GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ2_XXS);
    auto search = [&gi](const float* xval, const float* w, const float* waux, float max, float* scale, int* points) {
        return iq2xxs::search_group(gi, xval, w, waux, max, scale, points);
    };
    auto* y = static_cast<block_iq2_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) iq2xxs::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, search);
}

}  // namespace dgk::ref
