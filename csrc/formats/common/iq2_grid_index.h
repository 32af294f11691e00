// Search structures over the 8-element lattices of IQ2_XXS, IQ2_XS, IQ2_S (levels {1,3,5}) and
// IQ1_S / IQ1_M (levels {-1,0,1}), plus the nearest-neighbour searches the encoders run on them.
//
// An encoder quantizes 8 weights to levels l in {0,1,2}, packs them into a key (2 bits per element,
// element j at bit 2j) and asks whether that point is in the grid. If not, it scores the point's
// precomputed neighbours: every grid point within the `nwant` smallest squared distances, ordered by
// (distance, grid index) exactly as ggml's iq2xs_init_impl lists them, so ties pick the same point.
// Each index is built once, on first use, and shared read-only by all threads.
#pragma once
#include <cfloat>
#include <cstdint>
#include <vector>

#include "dgk/fp.h"

namespace dgk::iq2 {

enum class Lattice { IQ2_XXS, IQ2_XS, IQ2_S, IQ1 };

// Bound on a neighbour list's padded length (the longest: IQ2_XS, 292), checked when an index is
// built; the AVX2 searches size buffers by it.
constexpr int kMaxNeighbours = 296;

// The index's tables as plain pointers, for the AVX2 searches: an AVX2-compiled file must not call
// the inline members below (an AVX2 copy of one could be the one the linker keeps for scalar code).
struct GridArrays {
    int size;
    const int32_t* map;         // key -> grid point or -1
    const uint32_t* nb_offset;  // key -> offset of "count, entries..." in nb_points and nb_keys
    const uint16_t* nb_points;  // neighbour grid indices (GridIndex::neighbours)
    const uint16_t* nb_keys;    // the same neighbours' keys, each list padded to a multiple of 8
                                // with 0xffff (every level 3: no grid point)
    const uint16_t* grid_keys;  // grid point -> key
};

class GridIndex {
public:
    GridIndex(Lattice which);

    int size() const { return size_; }
    // Levels (0..2) of the 8 elements of grid point g.
    const int8_t* levels(int g) const { return &levels_[8 * static_cast<size_t>(g)]; }
    // The same as the odd values 2l+1 in float (what the IQ2 searches multiply by).
    const float* odd_values(int g) const { return &odd_[8 * static_cast<size_t>(g)]; }
    // Grid point with exactly these levels, or -1.
    int find(uint16_t key) const { return map_[key]; }
    // Key of grid point g.
    uint16_t key(int g) const { return grid_keys_[g]; }
    // Candidate grid points for an off-grid key (never empty), best-first by (distance, index).
    const uint16_t* neighbours(uint16_t key, int* count) const {
        const uint32_t at = nb_offset_[key];
        *count = nb_list_[at];
        return &nb_list_[at + 1];
    }
    GridArrays arrays() const;  // out of line: callable from AVX2 files

private:
    int size_;
    std::vector<int8_t> levels_;       // size_ * 8
    std::vector<float> odd_;           // size_ * 8
    std::vector<int32_t> map_;         // 65536 keys -> grid point or -1
    std::vector<uint32_t> nb_offset_;  // 65536 keys -> start of "count, indices..." in nb_list_
    std::vector<uint16_t> nb_list_;
    std::vector<uint16_t> nb_keys_;    // nb_list_ with each grid index replaced by its key, padded
    std::vector<uint16_t> grid_keys_;  // size_
};

// The shared, lazily built index of one lattice (thread-safe initialisation).
const GridIndex& grid_index(Lattice which);

// The free functions below are `static`: every file, AVX2 ones included, gets its own copy. Those
// marked DGK_HD are also __host__ __device__ for the CUDA module.

// Key of 8 levels in 0..3 (2 bits each, element j at bits 2j..2j+1).
DGK_HD uint16_t pack_key(const int8_t* L) {
    uint32_t u = 0;
    for (int j = 0; j < 8; ++j) u |= static_cast<uint32_t>(L[j] & 3) << (2 * j);
    return static_cast<uint16_t>(u);
}

// Levels of 8 magnitudes at inverse scale id: nearest_int((id*x - 1)/2) clamped to 0..2,
// i.e. the nearest of the odd values 1, 3, 5 (ties to even as ggml's nearest_int).
DGK_HD void iq2_levels(const float* xval, float id, int8_t* L) {
    for (int j = 0; j < 8; ++j) {
        const int l = nearest_int(0.5f * (id * xval[j] - 1));
        L[j] = static_cast<int8_t>(l < 0 ? 0 : l > 2 ? 2 : l);
    }
}

// Least-squares fit of the odd levels q = 2L+1 to xval with weights w: sums in index order.
DGK_HD void iq2_fit_sums(int n, const float* xval, const float* w, const int8_t* L, float* sumqx,
                         float* sumq2) {
    float sx = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
        const float q = static_cast<float>(2 * L[i] + 1);
        sx += w[i] * xval[i] * q;
        s2 += w[i] * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}

// Magnitudes of 8 weights into xval; returns their sign bits (bit j: x_j < 0). With `parity`
// (IQ2_XXS, IQ2_XS) only 7 signs are stored and the 8th is implied even, so an odd count of
// negatives flips the element with the smallest w*x^2 (first one on ties); 7 bits are returned.
DGK_HD uint8_t fold_signs(const float* xb, const float* w, bool parity, float* xval) {
    uint8_t s = 0;
    int nneg = 0;
    for (int j = 0; j < 8; ++j) {
        if (xb[j] >= 0) {
            xval[j] = xb[j];
        } else {
            xval[j] = -xb[j];
            s |= static_cast<uint8_t>(1u << j);
            ++nneg;
        }
    }
    if (!parity) return s;
    if (nneg & 1) {
        int jmin = 0;
        float vmin = w[0] * xb[0] * xb[0];
        for (int j = 1; j < 8; ++j) {
            const float v = w[j] * xb[j] * xb[j];
            if (v < vmin) { vmin = v; jmin = j; }
        }
        xval[jmin] = -xval[jmin];
        s ^= static_cast<uint8_t>(1u << jmin);
    }
    return s & 127;
}

// Grid access of the searches below, so that one search serves both callers: the CPU passes its
// GridIndex (precomputed levels and odd values), the CUDA module a view of plain arrays with the
// members map, nb_offset, nb_points and grid_keys (its Iq2View; GridArrays has them too).
static inline int grid_find(const GridIndex& g, uint16_t key) { return g.find(key); }
static inline const uint16_t* grid_neighbours(const GridIndex& g, uint16_t key, int* count) {
    return g.neighbours(key, count);
}
static inline int grid_level(const GridIndex& g, int point, int j) { return g.levels(point)[j]; }
static inline float grid_odd(const GridIndex& g, int point, int j) { return g.odd_values(point)[j]; }
static inline int grid_size(const GridIndex& g) { return g.size(); }

template <class View>
DGK_HD int grid_find(const View& v, uint16_t key) { return v.map[key]; }
template <class View>
DGK_HD const uint16_t* grid_neighbours(const View& v, uint16_t key, int* count) {
    const uint32_t at = v.nb_offset[key];
    *count = v.nb_points[at];
    return v.nb_points + at + 1;
}
template <class View>
DGK_HD int grid_level(const View& v, int point, int j) { return (v.grid_keys[point] >> (2 * j)) & 3; }
template <class View>
DGK_HD float grid_odd(const View& v, int point, int j) { return (float)(2 * grid_level(v, point, j) + 1); }
template <class View>
DGK_HD int grid_size(const View& v) { return v.size; }

// IQ2 off-grid fallback (ggml's iq2_find_best_neighbour): the neighbour minimising
// sum w*(scale*q - x)^2 with q = 2l+1; first minimum wins. Writes its levels to L, returns its index.
template <class Grid>
DGK_HD int iq2_best_neighbour(const Grid& g, uint16_t key, const float* xval, const float* w, float scale,
                              int8_t* L) {
    int count;
    const uint16_t* nb = grid_neighbours(g, key, &count);
    float best = FLT_MAX;
    int pick = -1;
    for (int c = 0; c < count; ++c) {
        float t[8];  // element terms first (vectorizable), then summed in index order as ggml does
        for (int j = 0; j < 8; ++j) {
            const float diff = scale * grid_odd(g, nb[c], j) - xval[j];
            t[j] = w[j] * diff * diff;
        }
        float d2 = 0;
        for (int j = 0; j < 8; ++j) d2 += t[j];
        if (d2 < best) { best = d2; pick = nb[c]; }
    }
    if (pick < 0) pick = nb[0];  // only when every score is NaN/inf (ggml asserts there)
    for (int j = 0; j < 8; ++j) L[j] = (int8_t)grid_level(g, pick, j);
    return pick;
}

// Levels of 8 magnitudes at inverse scale id snapped to the grid: the rounded point if it is on
// the grid, else its best neighbour measured at `scale`. Returns whether the rounded point was on it.
template <class Grid>
DGK_HD bool iq2_snap(const Grid& g, const float* xval, const float* waux, float id, float scale, int8_t* L) {
    iq2_levels(xval, id, L);
    const uint16_t key = pack_key(L);
    if (grid_find(g, key) >= 0) return true;
    iq2_best_neighbour(g, key, xval, waux, scale, L);
    return false;
}

// Grid point of 8 levels that are on the grid by construction (0 keeps a broken invariant in bounds).
template <class Grid>
DGK_HD int iq2_point(const Grid& g, const int8_t* L) {
    const int p = grid_find(g, pack_key(L));
    return p < 0 ? 0 : p;
}

// Sum w*(scale*xg[l] - x)^2 over the 8 elements of grid point p (xg: the shifted ternary values).
template <class Grid>
DGK_HD float iq1_score(const Grid& g, int p, const float* xval, const float* w, float scale, const float* xg) {
    float d2 = 0;
    for (int j = 0; j < 8; ++j) {
        const float diff = scale * xg[grid_level(g, p, j)] - xval[j];
        d2 += w[j] * diff * diff;
    }
    return d2;
}

// IQ1 off-grid fallback (ggml's iq1_find_best_neighbour2): as iq2_best_neighbour with q = xg[l].
// ggml then scans the whole grid if no neighbour scored below FLT_MAX, reading xval out of bounds;
// only reachable with overflowing weights, where we scan it with the right element instead.
template <class Grid>
DGK_HD int iq1_best_neighbour(const Grid& g, uint16_t key, const float* xval, const float* w, float scale,
                              const float* xg, int8_t* L) {
    int count;
    const uint16_t* nb = grid_neighbours(g, key, &count);
    float best = FLT_MAX;
    int pick = -1;
    for (int c = 0; c < count; ++c) {
        const float d2 = iq1_score(g, nb[c], xval, w, scale, xg);
        if (d2 < best) { best = d2; pick = nb[c]; }
    }
    if (pick < 0) {
        for (int p = 0; p < grid_size(g); ++p) {
            const float d2 = iq1_score(g, p, xval, w, scale, xg);
            if (d2 < best) { best = d2; pick = p; }
        }
    }
    if (pick < 0) pick = nb[0];
    for (int j = 0; j < 8; ++j) L[j] = (int8_t)grid_level(g, pick, j);
    return pick;
}

// Scale search of one 16-weight group (two lattice points) shared by IQ2_XS and IQ2_S (ggml's
// quantize_row_iq2_xs_impl / _s_impl): trial inverse scales (5 + 0.1*is)/max, is = -9..9, off-grid
// points replaced by their best neighbour, the best least-squares fit kept; the off-grid points of
// that fit are then requantized at its scale and the scale refitted. xval holds magnitudes, max > 0.
// Writes the levels to L (always a grid point each) and returns the scale, which may be negative.
template <class Grid>
DGK_HD float iq2_search_group16(const Grid& g, const float* xval, const float* weight, const float* waux, float max,
                                int8_t* L) {
    constexpr int kMaxQ = 3;
    int8_t Laux[16];
    bool on_grid[2] = {true, true}, on_grid_aux[2];
    for (int i = 0; i < 16; ++i) L[i] = 0;
    float best = 0;
    float scale = max / (2 * kMaxQ - 1);
    for (int is = -9; is <= 9; ++is) {
        const float id = (2 * kMaxQ - 1 + is * 0.1f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 2; ++k) on_grid_aux[k] = iq2_snap(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
        float sumqx, sumq2;
        iq2_fit_sums(16, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < 16; ++i) L[i] = Laux[i];
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 2; ++k)
            if (!on_grid[k]) iq2_snap(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
        float sumqx, sumq2;
        iq2_fit_sums(16, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}

// The search of IQ2_XS / IQ2_S encoders: iq2_search_group16, then the two grid points of its levels.
template <class Grid>
DGK_HD float iq2_search_points16(const Grid& g, const float* xval, const float* weight, const float* waux, float max,
                                 int* points) {
    int8_t L[16];
    const float scale = iq2_search_group16(g, xval, weight, waux, max, L);
    for (int k = 0; k < 2; ++k) points[k] = iq2_point(g, L + 8 * k);
    return scale;
}

}  // namespace dgk::iq2
