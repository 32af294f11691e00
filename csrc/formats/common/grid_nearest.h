// Nearest-point lists of the IQ index builds (iq2_grid_index.cpp, iq3_grid_index.cpp): for every
// off-grid key, the grid points within its `nwant` smallest distinct squared level distances.
// Distances are bytes, one per grid point, so a 16-byte vector holds 16 points: a key's distances
// are the byte sum of two precomputed rows (one per half of the key's coordinates), and the
// smallest values are found by vector minimums instead of a per-point histogram. Plain loops the
// compiler vectorizes for the baseline ISA, plus SSE2 (part of every x86-64) to pick the points.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace dgk::grid_nearest {

// r += s bytewise (restrict: the compiler vectorizes it without an overlap check).
inline void add_bytes(uint8_t* __restrict r, const uint8_t* __restrict s, int n) {
    for (int g = 0; g < n; ++g) r[g] = (uint8_t)(r[g] + s[g]);
}

// Distance rows of one half of a key, `coords` coordinates of `bits` bits each (coordinate i of a
// half-key h is (h >> (bits*i)) & mask): row[g] = sum_i (h_i - level_i(g))^2. `lv` holds the
// half's levels coordinate-major (lv[i*n + g]). Half-keys with a level >= nlev get no row
// (row_of[h] = -1); the others are packed, row_of[h] * n being the offset of h's row.
inline std::vector<uint8_t> half_rows(const uint8_t* lv, int n, int coords, int bits, int nlev,
                                      std::vector<int>& row_of) {
    const int nh = 1 << (coords * bits), mask = (1 << bits) - 1;
    // sq[(i*nlev + l)*n + g] = (l - level_i(g))^2; a row is then `coords` byte adds per point.
    std::vector<uint8_t> sq((size_t)coords * nlev * n);
    for (int i = 0; i < coords; ++i)
        for (int l = 0; l < nlev; ++l)
            for (int g = 0; g < n; ++g) {
                const int dl = l - lv[i * n + g];
                sq[((size_t)i * nlev + l) * n + g] = (uint8_t)(dl * dl);
            }
    row_of.assign(nh, -1);
    int rows = 0;
    for (int h = 0; h < nh; ++h) {
        bool ok = true;
        for (int i = 0; i < coords; ++i) ok = ok && ((h >> (bits * i)) & mask) < nlev;
        if (ok) row_of[h] = rows++;
    }
    std::vector<uint8_t> out((size_t)rows * n, 0);
    for (int h = 0; h < nh; ++h)
        for (int i = 0; i < coords && row_of[h] >= 0; ++i)
            add_bytes(&out[(size_t)row_of[h] * n], &sq[((size_t)i * nlev + ((h >> (bits * i)) & mask)) * n], n);
    return out;
}

// The distance rows of both halves of a key of 2*coords coordinates (half_rows of the low and of
// the high coordinates), from point-major levels (levels[2*coords*g + i] of point g).
struct KeyRows {
    int n = 0;
    std::vector<uint8_t> lo, hi;
    std::vector<int> row_lo, row_hi;
    // The rows of a key whose low and high halves are hl and hh (both with every level < nlev).
    const uint8_t* low(int hl) const { return &lo[(size_t)row_lo[hl] * n]; }
    const uint8_t* high(int hh) const { return &hi[(size_t)row_hi[hh] * n]; }
};

template <class Level>
inline KeyRows key_rows(const Level* levels, int n, int coords, int bits, int nlev) {
    const int dims = 2 * coords;
    std::vector<uint8_t> lv((size_t)dims * n);  // coordinate-major
    for (int g = 0; g < n; ++g)
        for (int i = 0; i < dims; ++i) lv[(size_t)i * n + g] = (uint8_t)levels[(size_t)dims * g + i];
    KeyRows r;
    r.n = n;
    r.lo = half_rows(lv.data(), n, coords, bits, nlev, r.row_lo);
    r.hi = half_rows(lv.data() + (size_t)coords * n, n, coords, bits, nlev, r.row_hi);
    return r;
}

// Whether some d[g] (g < n, a multiple of 32) equals v, stopping at the first.
inline bool any_equal(const uint8_t* d, int n, uint8_t v) {
#if defined(__SSE2__)
    const __m128i vv = _mm_set1_epi8((char)v);
    for (int g = 0; g < n; g += 32) {
        const __m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + g)), vv);
        const __m128i e1 = _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d + g + 16)), vv);
        if (_mm_movemask_epi8(_mm_or_si128(e0, e1))) return true;
    }
#else
    for (int g = 0; g < n; ++g)
        if (d[g] == v) return true;
#endif
    return false;
}

// Distances d[g] = a[g] + b[g] of one key to the n points (n a multiple of 32, every sum <=
// dlimit < 256); the points whose distance is among the `nwant` (<= 4) smallest distinct values,
// ordered by (distance, index) as ggml's sort of (distance, index) pairs, are written to out
// (room for nwant*n) and their count returned. d: room for n.
inline int nearest(const uint8_t* a, const uint8_t* b, int n, int nwant, int dlimit, uint8_t* d, uint16_t* out) {
    if (nwant > 4 || n % 32) throw std::logic_error("grid_nearest: unsupported list shape");
    uint8_t m = 255;
    for (int g = 0; g < n; ++g) {
        d[g] = (uint8_t)(a[g] + b[g]);
        m = d[g] < m ? d[g] : m;
    }
    // The next distance: usually lo itself (found at the first point that has it); otherwise
    // lo + min_g (uint8)(d[g] - lo), as distances below lo wrap to at least 256 - lo, above every
    // d[g] - lo <= dlimit - lo, so they never win the minimum.
    int dist[4], k = 0, lo = 0;
    for (;;) {
        dist[k++] = lo + m;
        lo += m + 1;
        if (k == nwant || lo > dlimit) break;
        if (any_equal(d, n, (uint8_t)lo)) {
            m = 0;
            continue;
        }
        m = 255;
        for (int g = 0; g < n; ++g) {
            const uint8_t u = (uint8_t)(d[g] - lo);
            m = u < m ? u : m;
        }
        if (m > dlimit - lo) break;
    }
    // Points within the largest kept distance into one bucket per distance, in index order (a
    // 32-point mask has few bits set), then the buckets back to back.
    uint16_t* bucket[4];
    int size[4] = {0, 0, 0, 0};
    int8_t rank[256];
    for (int t = 0; t < k; ++t) bucket[t] = out + (size_t)t * n, rank[dist[t]] = (int8_t)t;
#if defined(__SSE2__)
    const __m128i vmax = _mm_set1_epi8((char)dist[k - 1]);
    for (int g = 0; g < n; g += 32) {
        const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + g));
        const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + g + 16));
        unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v0, vmax), v0)) |
                        (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v1, vmax), v1)) << 16;
        for (; bits; bits &= bits - 1) {
            const int p = g + __builtin_ctz(bits), t = rank[d[p]];
            bucket[t][size[t]++] = (uint16_t)p;
        }
    }
#else
    for (int g = 0; g < n; ++g)
        if (d[g] <= dist[k - 1]) {
            const int t = rank[d[g]];
            bucket[t][size[t]++] = (uint16_t)g;
        }
#endif
    int count = size[0];
    for (int t = 1; t < k; ++t) {
        std::memmove(out + count, bucket[t], size[t] * sizeof(uint16_t));  // never overlaps: count <= t*n
        count += size[t];
    }
    return count;
}

}  // namespace dgk::grid_nearest
