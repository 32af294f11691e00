// Lookup structures of the IQ3 encoders (the data ggml's iq3xs_init_impl builds): which packed
// level-quadruple is a grid point, and for every other quadruple its nearest grid points.
// A quadruple of levels l0..l3 in [0, 8) (value 2l+1 each) is keyed l0 | l1<<3 | l2<<6 | l3<<9.
#pragma once
#include <cstdint>
#include <vector>

namespace dgk::ref {

struct Iq3GridIndex {
    static constexpr int kKeys = 4096;
    int size = 0;                      // 256 (IQ3_XXS grid) or 512 (IQ3_S grid)
    std::vector<float> value;          // size*4: 2l+1 of each coordinate of each grid point
    std::vector<uint8_t> level;        // size*4: l of each coordinate
    int16_t grid_of_key[kKeys];        // grid index of an on-grid key, -1 for an off-grid key
    // Off-grid key k: candidates nb[nb_begin[k] .. nb_begin[k+1]), all grid points within the
    // `nwant` smallest squared distances, ordered by (distance, grid index). Empty for on-grid keys.
    uint32_t nb_begin[kKeys + 1];
    std::vector<uint16_t> nb;
    // The same candidates' coordinate values, by coordinate: for key k with n candidates starting
    // at b = nb_begin[k], coordinate i of candidate c is nb_value[4*b + i*n + c]. This lets the
    // distance loop run over candidates, one independent sum per candidate (vectorizable, exact).
    std::vector<float> nb_value;
    static constexpr int kMaxNeighbours = 64;  // longest list is 38 (IQ3_S); checked when built
};

// The index of the 256- or 512-point grid, built on first use (thread-safe) and kept for the
// life of the process. Any other grid_size is a programming error (std::invalid_argument).
const Iq3GridIndex& iq3_grid_index(int grid_size);

}  // namespace dgk::ref
