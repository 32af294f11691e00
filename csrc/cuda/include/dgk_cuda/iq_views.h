// Read-only views of the IQ encoders' lattice indexes (built on the host by the CPU code in
// csrc/formats/common/iq{2,3}_grid_index.cpp). The same struct holds host pointers for the emulation
// and device pointers for the kernels. Plain C++: also used by the host-only iq_index.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

namespace dgk::cuda {

struct Iq3View {
    const uint8_t* level;        // size*4: level of each coordinate of each grid point
    const int16_t* grid_of_key;  // 4096: grid point of an on-grid key, -1 otherwise
    const uint32_t* nb_begin;    // 4097: neighbour list of key k is nb[nb_begin[k] .. nb_begin[k+1])
    const uint16_t* nb;
    const float* nb_value;       // by coordinate, see Iq3GridIndex
};

struct Iq2View {
    int size;
    const int32_t* map;          // 65536 keys -> grid point or -1
    const uint32_t* nb_offset;   // key -> offset of "count, entries..." in nb_points
    const uint16_t* nb_points;
    const uint16_t* grid_keys;   // grid point -> key (2 bits per element)
};

// Byte sizes of each array, for the device copies.
struct Iq3Sizes { size_t level, grid_of_key, nb_begin, nb, nb_value; };
struct Iq2Sizes { size_t map, nb_offset, nb_points, grid_keys; };

// The views of the host indexes (built on first use, thread-safe, kept for the process).
Iq3View host_iq3(int grid_size, Iq3Sizes* sizes);
enum IqLattice : int { LAT_IQ2_XXS = 0, LAT_IQ2_XS = 1, LAT_IQ2_S = 2, LAT_IQ1 = 3 };
Iq2View host_iq2(int lattice, Iq2Sizes* sizes);

// All lattices an IQ encoder may read; only the one its format needs is filled in.
struct IqViews {
    Iq3View g3;  // 256-point (IQ3_XXS) or 512-point (IQ3_S) grid
    Iq2View g2;  // IQ2_XXS / IQ2_XS / IQ2_S / IQ1 lattice
};

}  // namespace dgk::cuda
