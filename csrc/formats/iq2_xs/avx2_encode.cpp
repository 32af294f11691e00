// IQ2_XS AVX2 encode: pack.h's super-block encoder (shared with encode.cpp) around the lane-
// parallel search of avx2_iq2search.h (trial scales and grid neighbours in the lanes); same bytes
// for every input.
#include <stdexcept>

#include "../common/avx2_iq2_prep.h"
#include "../common/avx2_iq2_trials.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void encode_iq2_xs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XS cannot be encoded without an importance matrix");
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ2_XS).arrays();
    auto search = [&A](const float* xval, const float* w, const float* waux, float max, int* points) {
        uint16_t keys[2];
        const float scale = iq2_search_group16(A, xval, w, waux, max, keys);
        for (int k = 0; k < 2; ++k) points[k] = iq2_point(A, keys[k]);
        return scale;
    };
    auto* y = static_cast<block_iq2_xs*>(dst);
    for_superblocks_sigma2(x, n / QK_K, 1, [&](int64_t b, float sigma2) {
        iq2xs::encode_superblock(x + b * QK_K, imatrix + b * QK_K, y + b, search, Avx2Iq2Prep<2, true>{sigma2});
    });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq2_xs = {FormatId::IQ2_XS, nullptr, avx2::encode_iq2_xs};
}
