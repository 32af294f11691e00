// IQ1_M encode (ggml's quantize_row_iq1_m_impl): per 16 weights, two points of the 2048-entry
// ternary lattice with a shift sign each and a 3-bit scale; the fp16 super-block scale is a
// weighted least-squares refit spread over the top nibbles of the four scale words.

#include "../common/iq2_grid_index.h"
#include "search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq1_m(const float* x, void* dst, int64_t n, const float* imatrix) {
    const iq2::GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ1);
    const iq2::GridArrays A = gi.arrays();
    auto snap = [&gi](uint16_t key, const float* xv, const float* w, float scale, const float* v) {
        int8_t L[8];
        return iq2::iq1_best_neighbour(gi, key, xv, w, scale, v, L);
    };
    auto group = [&](const float* xb, const float* w) { return iq1m::encode_group(A, xb, w, iq1m::search_split, snap); };
    auto* y = static_cast<block_iq1_m*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq1m::encode_superblock(A, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, y + b, group);
}

}  // namespace dgk::ref
