// IQ1_S encode (ggml's quantize_row_iq1_s_impl): per 32 weights, four points of the 2048-entry
// ternary lattice, a 3-bit scale and a shift sign (values l - 1 +- 1/8); an importance matrix is
// required.
#include <stdexcept>

#include "../common/iq2_grid_index.h"
#include "search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq1_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ1_S cannot be encoded without an importance matrix");
    const iq2::GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ1);
    const iq2::GridArrays A = gi.arrays();
    auto snap = [&gi](uint16_t key, const float* xv, const float* w, float scale, const float* v) {
        int8_t L[8];
        return iq2::iq1_best_neighbour(gi, key, xv, w, scale, v, L);
    };
    auto group = [&](const float* xb, const float* w) { return iq1s::encode_group(A, xb, w, iq1s::search_split, snap); };
    auto* y = static_cast<block_iq1_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) iq1s::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, group);
}

}  // namespace dgk::ref
