// Builds the IQ3 encoder lookup structures from the decoder grids in tables.h, which hold the
// same points as ggml's kgrid_256/kgrid_512 (IQ3_XXS bytes are {4,12,...,52,62} = level*8 + 4,
// except 62 for level 7; IQ3_S bytes are 2*level + 1), in the same order.
#include "iq3_grid_index.h"

#include <stdexcept>

#include "dgk/tables.h"
#include "grid_nearest.h"

namespace dgk::ref {

namespace {

int coord_level(int grid_size, uint32_t byte) { return grid_size == 256 ? (int)(byte >> 3) : (int)(byte >> 1); }

Iq3GridIndex* build(int grid_size) {
    auto* g = new Iq3GridIndex;
    g->size = grid_size;
    g->value.resize((size_t)grid_size * 4);
    g->level.resize((size_t)grid_size * 4);
    const uint32_t* points = grid_size == 256 ? iq3xxs_grid : iq3s_grid;
    for (int k = 0; k < Iq3GridIndex::kKeys; ++k) g->grid_of_key[k] = -1;
    for (int j = 0; j < grid_size; ++j) {
        int key = 0;
        for (int i = 0; i < 4; ++i) {
            const int l = coord_level(grid_size, (points[j] >> (8 * i)) & 0xffu) & 7;
            g->level[4 * j + i] = (uint8_t)l;
            g->value[4 * j + i] = (float)(2 * l + 1);
            key |= l << (3 * i);
        }
        g->grid_of_key[key] = (int16_t)j;
    }

    // ggml keeps every point whose squared distance is among the nwant smallest distinct values, in
    // (distance, index) order. The distance is 4*sum(dl^2); sum(dl^2) (<= 196) orders the same. A
    // key's per-point sums are the byte sum of one row per half-key (coordinates 0-1, 2-3).
    const int nwant = grid_size == 256 ? 2 : 3;
    const grid_nearest::KeyRows rows = grid_nearest::key_rows(g->level.data(), grid_size, 2, 3, 8);
    std::vector<uint8_t> d2(grid_size);
    std::vector<uint16_t> list(4 * (size_t)grid_size);
    g->nb.reserve(Iq3GridIndex::kKeys * 8);
    for (int key = 0; key < Iq3GridIndex::kKeys; ++key) {
        g->nb_begin[key] = (uint32_t)g->nb.size();
        if (g->grid_of_key[key] >= 0) continue;
        const int n = grid_nearest::nearest(rows.low(key & 63), rows.high(key >> 6), grid_size, nwant, 4 * 7 * 7,
                                            d2.data(), list.data());
        g->nb.insert(g->nb.end(), list.begin(), list.begin() + n);
    }
    g->nb_begin[Iq3GridIndex::kKeys] = (uint32_t)g->nb.size();

    g->nb_value.resize(g->nb.size() * 4);
    for (int key = 0; key < Iq3GridIndex::kKeys; ++key) {
        const uint32_t b = g->nb_begin[key], n = g->nb_begin[key + 1] - b;
        if (n > (uint32_t)Iq3GridIndex::kMaxNeighbours) throw std::logic_error("IQ3 neighbour list too long");
        for (uint32_t c = 0; c < n; ++c)
            for (int i = 0; i < 4; ++i) g->nb_value[4 * b + i * n + c] = g->value[4 * g->nb[b + c] + i];
    }
    return g;
}

}  // namespace

const Iq3GridIndex& iq3_grid_index(int grid_size) {
    // Function-local statics: built once, on first use, thread-safely (C++11 guarantees it);
    // deliberately never freed so no encoder can see a destroyed index at exit.
    if (grid_size == 256) {
        static const Iq3GridIndex* const g256 = build(256);
        return *g256;
    }
    if (grid_size == 512) {
        static const Iq3GridIndex* const g512 = build(512);
        return *g512;
    }
    throw std::invalid_argument("IQ3 grid size must be 256 or 512");
}

}  // namespace dgk::ref
