// What the IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS and IQ3_S encoders do around their lattice
// searches, written once for the scalar (encode.cpp) and the AVX2 (avx2_encode.cpp) versions: the
// super-block statistics and importance weights, the group preparation (sign folding, maximum), the
// IQ1 level assignment of a split, the snapping of the chosen points to the grid and the least-squares
// refit, and the quantized group scales. Only the searches differ between the ISAs.
//
// Included by files compiled with and without AVX2 flags: everything here has internal linkage
// (anonymous namespace), so each translation unit keeps its own copy and the linker can never hand
// the scalar path one compiled for AVX2. The grid is read through GridArrays (plain pointers), not
// through GridIndex's inline members. Host+device (DGK_HD): the CUDA module runs the same code.
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "iq2_grid_index.h"

namespace dgk::iq {
namespace {

using iq2::GridArrays;

// All bytes of a block to zero (memset is not device code).
template <class Block>
DGK_HD void clear_block(Block& b) {
    uint8_t* bytes = reinterpret_cast<uint8_t*>(&b);
    for (size_t i = 0; i < sizeof b; ++i) bytes[i] = 0;
}

// factor * sum(x^2) / QK_K over one super-block (ggml's sigma2; factor 1 or 2 per format).
DGK_HD float superblock_sigma2(const float* x, float factor) {
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += x[i] * x[i];
    return factor * sumx2 / QK_K;
}

// ggml's importance weights qw * sqrt(sigma2 + x^2) of n elements.
DGK_HD void imatrix_weights(const float* x, const float* qw, float sigma2, int n, float* w) {
    for (int i = 0; i < n; ++i) w[i] = qw[i] * sqrtf(sigma2 + x[i] * x[i]);
}

// The same, or x^2 without an importance matrix (qw null; IQ1_M, IQ3_XXS, IQ3_S).
DGK_HD void weights_or_x2(const float* x, const float* qw, float sigma2, int n, float* w) {
    if (qw) {
        imatrix_weights(x, qw, sigma2, n, w);
    } else {
        for (int i = 0; i < n; ++i) w[i] = x[i] * x[i];
    }
}

// weights_or_x2 as a functor: the IQ3 encoders' default; an ISA may pass its own with the same results.
struct WeightsOrX2 {
    DGK_HD_MEMBER void operator()(const float* x, const float* qw, float sigma2, int n, float* w) const {
        weights_or_x2(x, qw, sigma2, n, w);
    }
};

// Largest |x| of n elements, in ggml's MAX(max, fabsf(x)) order.
DGK_HD float max_abs(const float* x, int n) {
    float max = fabsf(x[0]);
    for (int i = 1; i < n; ++i) max = max > fabsf(x[i]) ? max : fabsf(x[i]);
    return max;
}

// Largest of n magnitudes, in ggml's MAX order.
DGK_HD float max_value(const float* x, int n) {
    float max = x[0];
    for (int i = 1; i < n; ++i) max = max > x[i] ? max : x[i];
    return max;
}

// Group scale code: nearest_int(0.5*(id*scale - 1)) clamped to 0..lmax (id = 1/d).
DGK_HD int scale_code(float id, float scale, int lmax) {
    const int l = nearest_int(0.5f * (id * scale - 1));
    return l < 0 ? 0 : l > lmax ? lmax : l;
}

// ---- IQ2 / IQ3: signed groups -------------------------------------------------------------

// Magnitudes and sign bits of a group of np 8-element points (iq2::fold_signs per point; with
// `parity` the eighth sign is implied even), plus the neighbour-search weights sqrt(w). Returns
// the largest magnitude.
DGK_HD float fold_group(int np, const float* xb, const float* weight, bool parity, float* xval, float* waux,
                        uint8_t* signs) {
    for (int i = 0; i < 8 * np; ++i) waux[i] = sqrtf(weight[i]);
    for (int k = 0; k < np; ++k) signs[k] = iq2::fold_signs(xb + 8 * k, weight + 8 * k, parity, xval + 8 * k);
    return max_value(xval, 8 * np);
}

// fold_group as a functor: signed_group's default; an ISA may pass its own with the same results.
struct FoldGroup {
    DGK_HD_MEMBER float operator()(int np, const float* xb, const float* weight, bool parity, float* xval, float* waux,
                                   uint8_t* signs) const {
        return fold_group(np, xb, weight, parity, xval, waux, signs);
    }
};

// Stored scales are unsigned: a negative scale flips the signs instead (`mask`: 127 when the
// eighth sign is implied, 255 otherwise). Returns |scale| (NaN and -0 unchanged).
DGK_HD float unsign_scale(int np, float scale, uint8_t mask, uint8_t* signs) {
    if (!(scale < 0)) return scale;
    for (int k = 0; k < np; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & mask);
    return -scale;
}

// One group of np 8-element points with signs stored beside the grid points (IQ2_XS, IQ2_S:
// np = 2; IQ3_XXS, IQ3_S: np = 4): magnitudes and signs, then
// `search(xval, weight, waux, max, points)`, which returns the signed scale and writes the grid
// points (iq2_search_group16, iq3_search_group). Writes the unsigned scale, points and signs;
// returns false (scale 0, points and signs unset) for a group whose largest magnitude is below
// `zero` or is 0 (IQ3_S passes zero = 0: only all-zero groups are skipped). `fold`: fold_group's
// work (FoldGroup, or an ISA's equal).
template <class Search, class Point, class Fold = FoldGroup>
DGK_HD bool signed_group(int np, const float* xb, const float* weight, bool parity, float zero, Search&& search,
                         float* scale, Point* points, uint8_t* signs, Fold&& fold = Fold{}) {
    alignas(32) float xval[32], waux[32];
    const float max = fold(np, xb, weight, parity, xval, waux, signs);
    *scale = 0;
    if (max < zero || max == 0) return false;
    const float s = search(static_cast<const float*>(xval), weight, static_cast<const float*>(waux), max, points);
    *scale = unsign_scale(np, s, parity ? 127 : 255, signs);
    return true;
}

// ---- IQ1 -----------------------------------------------------------------------------------

constexpr float kIq1Delta = 0.125f;
// Dequantized values of levels 0, 1, 2 under a positive and a negative shift. Host arrays cannot be
// read in device code, so the CUDA module gets its own copies; iq1_values picks the side's.
constexpr float kIq1Plus[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
constexpr float kIq1Minus[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};
#if defined(__CUDACC__)
static __device__ const float kIq1PlusDevice[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
static __device__ const float kIq1MinusDevice[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};
#endif
DGK_HD const float* iq1_values(bool negative) {
#if defined(__CUDA_ARCH__)
    return negative ? kIq1MinusDevice : kIq1PlusDevice;
#else
    return negative ? kIq1Minus : kIq1Plus;
#endif
}

// Prefix sums of weight*x and weight over the group in sorted order (sumx[0] = sumw[0] = 0).
DGK_HD void iq1_prefix_sums(const int* order, const float* xb, const float* weight, int n, float* sumx,
                            float* sumw) {
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < n; ++j) {
        const int i = order[j];
        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
        sumw[j + 1] = sumw[j] + weight[i];
    }
}

// Levels of the split (i1, i2) of the sorted group: ranks below i1 at 0, below i2 at 1, the rest
// at 2. A negative scale mirrors them (l -> 2 - l) and is made positive; returns whether it did.
DGK_HD bool iq1_split_levels(const int* order, int n, int i1, int i2, float* scale, int8_t* L) {
    for (int j = 0; j < n; ++j) L[order[j]] = static_cast<int8_t>(j < i1 ? 0 : j < i2 ? 1 : 2);
    if (!(*scale < 0)) return false;
    for (int j = 0; j < n; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
    *scale = -*scale;
    return true;
}

// Starts loading the neighbour lists of an off-grid key, which are scattered over large tables (speed
// only; a no-op for other views of the grid and on the device).
DGK_HD void prefetch_neighbours(const GridArrays& A, uint16_t key) {
#if !defined(__CUDA_ARCH__)
    const uint32_t at = A.nb_offset[key];
    __builtin_prefetch(A.nb_keys + at);
    __builtin_prefetch(A.nb_points + at);
#else
    (void)A;
    (void)key;
#endif
}
template <class View>
DGK_HD void prefetch_neighbours(const View&, uint16_t) {}

// The np (<= 4) points of levels L on the grid: a point not on it takes
// `snap(key, x, w, scale, values) -> grid index` (the neighbour search); values[k] are the three
// shifted values of point k. When some point was off the grid, the scale is refitted by weighted
// least squares to the chosen points (sums in element order). Writes the grid indices, returns
// the scale. `Grid`: GridArrays, or any view with its map and grid_keys.
template <class Grid, class Snap>
DGK_HD float iq1_snap_refit(const Grid& A, int np, const int8_t* L, const float* xb, const float* weight, float scale,
                            const float* const* values, Snap&& snap, uint16_t* index) {
    uint16_t keys[4];
    int grid[4];
    bool all_on_grid = true;
    for (int k = 0; k < np; ++k) {
        keys[k] = iq2::pack_key(L + 8 * k);
        grid[k] = A.map[keys[k]];
    }
    // Load the neighbour lists of all off-grid points before the first search (no effect on the result).
    for (int k = 0; k < np; ++k)
        if (grid[k] < 0) prefetch_neighbours(A, keys[k]);
    for (int k = 0; k < np; ++k) {
        int g = grid[k];
        if (g < 0) {
            all_on_grid = false;
            g = snap(keys[k], xb + 8 * k, weight + 8 * k, scale, values[k]);
        }
        index[k] = static_cast<uint16_t>(g);
    }
    if (all_on_grid) return scale;
    float sumqx = 0, sumq2 = 0;
    for (int k = 0; k < np; ++k) {
        const uint16_t key = A.grid_keys[index[k]];
        for (int j = 0; j < 8; ++j) {
            const float w = weight[8 * k + j];
            const float q = values[k][(key >> (2 * j)) & 3];
            sumqx += w * q * xb[8 * k + j];
            sumq2 += w * q * q;
        }
    }
    return sumqx > 0 && sumq2 > 0 ? sumqx / sumq2 : scale;
}

// Indices 0..n-1 in ascending order of x, equal values in index order: what ggml's glibc qsort (a
// stable merge sort at these sizes) leaves. Insertion sort: n is 16 or 32.
DGK_HD void iq1_sorted_order(const float* x, int n, int* order) {
    for (int j = 0; j < n; ++j) {
        int i = j;
        while (i > 0 && x[j] < x[order[i - 1]]) {
            order[i] = order[i - 1];
            --i;
        }
        order[i] = j;
    }
}

}  // namespace
}  // namespace dgk::iq
