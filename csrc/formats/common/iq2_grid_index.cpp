#include "iq2_grid_index.h"

#include <algorithm>
#include <stdexcept>

#include "dgk/tables.h"
#include "grid_nearest.h"

namespace dgk::iq2 {

namespace {

constexpr int kKeys = 1 << 16;

struct LatticeSpec {
    const uint64_t* table;  // the decoder grid: byte j of an entry is element j
    int size;
    int nwant;              // how many distinct distances the neighbour lists span
    int8_t (*level_of)(uint8_t byte);
};

// The decoder grids hold the dequantized magnitudes; the encoder works on their level numbers.
int8_t iq2_level(uint8_t b) { return b == 0x08 ? 0 : b == 0x19 ? 1 : b == 0x2b ? 2 : -1; }
int8_t iq1_level(uint8_t b) { return b == 0xff ? 0 : b == 0x00 ? 1 : b == 0x01 ? 2 : -1; }

LatticeSpec spec_of(Lattice which) {
    switch (which) {
        case Lattice::IQ2_XXS: return {iq2xxs_grid, 256, 2, iq2_level};
        case Lattice::IQ2_XS: return {iq2xs_grid, 512, 2, iq2_level};
        case Lattice::IQ2_S: return {iq2s_grid, 1024, 1, iq2_level};
        case Lattice::IQ1: return {iq1s_grid, 2048, 3, iq1_level};
    }
    throw std::logic_error("unknown IQ lattice");
}

}  // namespace

GridIndex::GridIndex(Lattice which) {
    const LatticeSpec s = spec_of(which);
    size_ = s.size;
    levels_.resize(8 * static_cast<size_t>(size_));
    odd_.resize(8 * static_cast<size_t>(size_));
    map_.assign(kKeys, -1);
    grid_keys_.resize(size_);
    for (int g = 0; g < size_; ++g) {
        for (int j = 0; j < 8; ++j) {
            const int8_t l = s.level_of(static_cast<uint8_t>(s.table[g] >> (8 * j)));
            if (l < 0) throw std::logic_error("IQ grid table holds a value outside its lattice");
            levels_[8 * g + j] = l;
            odd_[8 * g + j] = static_cast<float>(2 * l + 1);
        }
        grid_keys_[g] = pack_key(levels(g));
        map_[grid_keys_[g]] = g;
    }

    // Neighbour lists. Squared distances between points of levels 2l+1 are 4*sum(dl^2); the factor
    // does not change the order, so sum(dl^2) (0..32) is compared directly. A key's per-point sums
    // are the byte sum of one row per half-key (elements 0..3, 4..7); grid_nearest picks the points.
    const grid_nearest::KeyRows rows = grid_nearest::key_rows(levels_.data(), size_, 4, 2, 3);
    std::vector<uint8_t> dist(size_);
    std::vector<uint16_t> list(4 * static_cast<size_t>(size_));
    nb_offset_.assign(kKeys, 0);
    // Lists are padded to a multiple of 8 entries (unused by the scalar code) for the AVX2 searches.
    nb_list_ = {1, 0, 0, 0, 0, 0, 0, 0, 0};  // offset 0: fallback list for keys no encoder forms (a level of 3)
    // Keys in increasing order, only those with every level below 3 (both halves have rows).
    std::vector<int> halves;
    for (int h = 0; h < 256; ++h)
        if (rows.row_lo[h] >= 0) halves.push_back(h);
    for (const int kh : halves) {
        for (const int kl : halves) {
            const int key = kh << 8 | kl;
            if (map_[key] >= 0) continue;
            const int total = grid_nearest::nearest(rows.low(kl), rows.high(kh), size_, s.nwant, 8 * 4, dist.data(), list.data());
            const int padded = (total + 7) & ~7;
            if (padded > kMaxNeighbours) throw std::logic_error("IQ neighbour list longer than kMaxNeighbours");
            const size_t at = nb_list_.size();
            nb_offset_[key] = static_cast<uint32_t>(at);
            nb_list_.resize(at + 1 + padded);
            nb_list_[at] = static_cast<uint16_t>(total);
            std::copy(list.begin(), list.begin() + total, nb_list_.begin() + at + 1);
        }
    }

    // Keys of the neighbours at the same offsets (a count stays a count); padding entries get the
    // key with every level 3, which no grid point has. The lists lie back to back: walk them once.
    nb_keys_.assign(nb_list_.size(), 0xffff);
    for (size_t at = 0; at < nb_list_.size(); at += 1 + ((nb_list_[at] + 7) & ~7)) {
        const int count = nb_list_[at];
        nb_keys_[at] = static_cast<uint16_t>(count);
        for (int c = 1; c <= count; ++c) nb_keys_[at + c] = grid_keys_[nb_list_[at + c]];
    }
}

GridArrays GridIndex::arrays() const {
    return {size_, map_.data(), nb_offset_.data(), nb_list_.data(), nb_keys_.data(), grid_keys_.data()};
}

const GridIndex& grid_index(Lattice which) {
    // Function-local statics: built on first use, initialisation is thread-safe (C++11).
    switch (which) {
        case Lattice::IQ2_XXS: { static const GridIndex gi(Lattice::IQ2_XXS); return gi; }
        case Lattice::IQ2_XS: { static const GridIndex gi(Lattice::IQ2_XS); return gi; }
        case Lattice::IQ2_S: { static const GridIndex gi(Lattice::IQ2_S); return gi; }
        case Lattice::IQ1: { static const GridIndex gi(Lattice::IQ1); return gi; }
    }
    throw std::logic_error("unknown IQ lattice");
}

}  // namespace dgk::iq2
