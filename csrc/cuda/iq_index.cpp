// Host views of the CPU code's IQ lattice indexes (plain C++, compiled by the host compiler).
#include <algorithm>

#include "../formats/common/iq2_grid_index.h"
#include "../formats/common/iq3_grid_index.h"
#include "dgk_cuda/iq_views.h"

namespace dgk::cuda {

Iq3View host_iq3(int grid_size, Iq3Sizes* sizes) {
    const dgk::ref::Iq3GridIndex& g = dgk::ref::iq3_grid_index(grid_size);
    if (sizes) {
        sizes->level = g.level.size();
        sizes->grid_of_key = sizeof g.grid_of_key;
        sizes->nb_begin = sizeof g.nb_begin;
        sizes->nb = g.nb.size() * sizeof(uint16_t);
        sizes->nb_value = g.nb_value.size() * sizeof(float);
    }
    return {g.level.data(), g.grid_of_key, g.nb_begin, g.nb.data(), g.nb_value.data()};
}

Iq2View host_iq2(int lattice, Iq2Sizes* sizes) {
    using dgk::iq2::Lattice;
    const Lattice which = lattice == LAT_IQ2_XXS ? Lattice::IQ2_XXS
                        : lattice == LAT_IQ2_XS  ? Lattice::IQ2_XS
                        : lattice == LAT_IQ2_S   ? Lattice::IQ2_S
                                                 : Lattice::IQ1;
    const dgk::iq2::GridArrays a = dgk::iq2::grid_index(which).arrays();
    if (sizes) {
        // The neighbour lists end with the list that starts last (count, entries, padding to 8).
        size_t end = 9;
        for (int key = 0; key < 65536; ++key) {
            const size_t at = a.nb_offset[key];
            end = std::max(end, at + 1 + ((size_t)a.nb_points[at] + 7) / 8 * 8);
        }
        sizes->map = 65536 * sizeof(int32_t);
        sizes->nb_offset = 65536 * sizeof(uint32_t);
        sizes->nb_points = end * sizeof(uint16_t);
        sizes->grid_keys = (size_t)a.size * sizeof(uint16_t);
    }
    return {a.size, a.map, a.nb_offset, a.nb_points, a.grid_keys};
}

}  // namespace dgk::cuda
