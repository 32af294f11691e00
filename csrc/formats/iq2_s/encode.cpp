// IQ2_S encode (ggml's quantize_row_iq2_s_impl): per 16 weights, two points of the 1024-entry
// lattice (8 low index bits in qs, 2 high bits in qh), 8 explicit sign bits each, a 4-bit scale.

#include "../common/iq2_grid_index.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void encode_iq2_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const iq2::GridIndex& gi = iq2::grid_index(iq2::Lattice::IQ2_S);
    auto search = [&gi](const float* xval, const float* w, const float* waux, float max, int* points) {
        return iq2::iq2_search_points16(gi, xval, w, waux, max, points);
    };
    auto* y = static_cast<block_iq2_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq2s::encode_superblock(x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, y + b, search);
}

}  // namespace dgk::ref
