// IQ2_XS encode (ggml's quantize_row_iq2_xs_impl): per 16 weights, two points of the 512-entry
// lattice, each stored as 9-bit index | 7 sign bits << 9, and a 4-bit scale; an importance matrix
// is required.
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq2_xs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XS cannot be encoded without an importance matrix");
    const iq2::GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ2_XS);
    auto search = [&gi](const float* xval, const float* w, const float* waux, float max, int* points) {
        return iq2::iq2_search_points16(gi, xval, w, waux, max, points);
    };
    auto* y = static_cast<block_iq2_xs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) iq2xs::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, search);
}

}  // namespace dgk::ref
