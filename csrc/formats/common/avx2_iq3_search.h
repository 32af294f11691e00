// AVX2 form of the IQ3 group search (iq3_group_search.h, ggml's quantize_row_iq3_*_impl core):
// the trial scales side by side, one per lane, each lane doing exactly the scalar search's
// operations. Every trial's rounding is done first, quadruple by quadruple over all trials (lanes
// 0..30 of IQ3_XXS, 0..18 of IQ3_S, in four or three vectors); then the fit sums and the acceptance
// scan run eight trials at a time. The neighbour distance of an off-grid quadruple is a sum of four
// terms w_i*(s*q_i - x_i)^2: per quadruple a table T of the (coordinate, level) terms its
// candidates read, over all trials, and for each distinct key the candidates are scored for the
// eight trial lanes from the first lane with that key (neighbouring trials mostly share keys: ~4
// keys per quadruple over IQ3_XXS's 31 trials), three adds each. The final requantization scores
// one scale's candidates per key with lane permutations (by trial).
// For AVX2-compiled files only; everything is `static`, so each including file has its own copy.
#pragma once
#include <immintrin.h>

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "avx2_iq2_prep.h"
#include "avx2_iqsearch.h"
#include "avx2_math.h"
#include "dgk/fp.h"
#include "iq3_grid_index.h"
#include "iq3_group_search.h"
#include "iq_pack.h"

namespace dgk::avx2 {

// iq3_grid_index.h's data re-laid for the two searches, candidates in the scalar index's order.
struct Iq3LaneIndex {
    static constexpr int kMaxBlocks = ref::Iq3GridIndex::kMaxNeighbours / 8;
    static constexpr int kRowBytes = 128;  // one term table row: 32 trial lanes
    struct Cand {
        uint16_t toff[4];  // kRowBytes*(8*i + level_i): the byte offset of term row 8*i + level_i
        uint32_t key;      // the candidate's packed levels
    };
    int32_t grid_of_key[ref::Iq3GridIndex::kKeys];  // 32-bit copy for gathers; -1: off grid
    // By trial: packed keys (l0 | l1<<3 | l2<<6 | l3<<9) of key k's candidates in kpad[kbegin[k]
    // .. kbegin[k+1]), padded to whole blocks of eight with copies of the last candidate.
    uint32_t kbegin[ref::Iq3GridIndex::kKeys + 1];
    std::vector<uint16_t> kpad;
    // By candidate, per key k: rows, bit 8*i + l set when some candidate of k has level l at
    // coordinate i (the term rows the key reads; 0 exactly for the on-grid keys), and its
    // candidates from byte cbyte of cand to by_key[k+1].cbyte, padded to an even count the same
    // way. One entry per key so that the gather of the rows brings the list start in too.
    struct KeyCands {
        uint32_t rows;
        uint32_t cbyte;
    };
    KeyCands by_key[ref::Iq3GridIndex::kKeys + 1];
    std::vector<Cand> cand;
};

// A copy of the last candidate has the same distance, which never replaces the first minimum
// (strict <), so padding changes no result.
static inline Iq3LaneIndex* iq3_lane_index_build(int grid_size) {
    const ref::Iq3GridIndex& g = ref::iq3_grid_index(grid_size);
    auto* ix = new Iq3LaneIndex;
    ix->cand.reserve(g.nb.size() + ref::Iq3GridIndex::kKeys);       // bounds: +1 and +16 padding a key
    ix->kpad.reserve(g.nb.size() + 16 * ref::Iq3GridIndex::kKeys);
    std::vector<Iq3LaneIndex::Cand> point(grid_size);  // each grid point's entry, made once
    for (int j = 0; j < grid_size; ++j)
        for (int i = 0; i < 4; ++i) {
            const unsigned l = g.level[4 * j + i];
            point[j].toff[i] = (uint16_t)(Iq3LaneIndex::kRowBytes * (8 * i + l));
            point[j].key |= l << (3 * i);
        }
    for (int key = 0; key < ref::Iq3GridIndex::kKeys; ++key) {
        ix->grid_of_key[key] = g.grid_of_key[key];
        ix->kbegin[key] = (uint32_t)ix->kpad.size();
        const size_t cbegin = ix->cand.size();
        ix->by_key[key].cbyte = (uint32_t)(cbegin * sizeof(Iq3LaneIndex::Cand));
        uint32_t rows = 0;
        for (uint32_t c = g.nb_begin[key]; c < g.nb_begin[key + 1]; ++c) {
            const Iq3LaneIndex::Cand& cd = point[g.nb[c]];
            ix->cand.push_back(cd);
            ix->kpad.push_back((uint16_t)cd.key);
            for (int i = 0; i < 4; ++i) rows |= 1u << (8 * i + ((cd.key >> (3 * i)) & 7u));
        }
        ix->by_key[key].rows = rows;
        // IQ3_S lists (3 to ~16 candidates) all take two blocks, so the block loop's exit is predictable.
        const size_t min_len = grid_size == 512 && g.nb_begin[key + 1] > g.nb_begin[key] ? 16 : 0;
        while ((ix->kpad.size() - ix->kbegin[key]) % 8 || ix->kpad.size() - ix->kbegin[key] < min_len)
            ix->kpad.push_back(ix->kpad.back());
        if ((ix->cand.size() - cbegin) % 2) ix->cand.push_back(ix->cand.back());
    }
    ix->kbegin[ref::Iq3GridIndex::kKeys] = (uint32_t)ix->kpad.size();
    ix->by_key[ref::Iq3GridIndex::kKeys] = {0, (uint32_t)(ix->cand.size() * sizeof(Iq3LaneIndex::Cand))};
    return ix;
}

// Built on first use (thread-safe), never freed, like the scalar index it derives from.
static inline const Iq3LaneIndex& iq3_lane_index(int grid_size) {
    if (grid_size == 256) {
        static const Iq3LaneIndex* const ix256 = iq3_lane_index_build(256);
        return *ix256;
    }
    static const Iq3LaneIndex* const ix512 = iq3_lane_index_build(512);
    return *ix512;
}

// By trial: ref::iq3_best_neighbour for one scale, returning the neighbour's packed key.
// sq: lane l holds scale*(2l+1); x, w: the quadruple's xval and waux broadcast. T_i[l] = (w_i*e)*e with
// e = sq[l] - x_i, summed ((T_0 + T_1) + T_2) + T_3 as the scalar loop (its leading 0 + T_0 only
// turns -0 into +0, which compares the same). The scalar scan keeps the first candidate strictly
// below the best so far, starting from FLT_MAX: that is the first candidate whose distance equals
// the minimum of min(d, FLT_MAX) over all (NaN and values >= FLT_MAX clamp to FLT_MAX; when all
// clamp, candidate 0, as the scalar code).
static inline uint32_t iq3_best_key(const Iq3LaneIndex& ix, uint32_t key, __m256 sq, const __m256* x, const __m256* w) {
    __m256 t[4];
    for (int i = 0; i < 4; ++i) {
        const __m256 e = _mm256_sub_ps(sq, x[i]);
        t[i] = _mm256_mul_ps(_mm256_mul_ps(w[i], e), e);
    }
    const uint16_t* c = ix.kpad.data() + ix.kbegin[key];
    const int nblk = (int)(ix.kbegin[key + 1] - ix.kbegin[key]) / 8;
    const __m256 big = _mm256_set1_ps(FLT_MAX);
    __m256 d[Iq3LaneIndex::kMaxBlocks];
    __m256 mn = big;
    for (int b = 0; b < nblk; ++b) {
        const __m256i k = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 8 * b)));
        __m256 s = _mm256_permutevar8x32_ps(t[0], k);
        s = _mm256_add_ps(s, _mm256_permutevar8x32_ps(t[1], _mm256_srli_epi32(k, 3)));
        s = _mm256_add_ps(s, _mm256_permutevar8x32_ps(t[2], _mm256_srli_epi32(k, 6)));
        s = _mm256_add_ps(s, _mm256_permutevar8x32_ps(t[3], _mm256_srli_epi32(k, 9)));
        d[b] = _mm256_min_ps(s, big);  // s < FLT_MAX ? s : FLT_MAX (NaN too)
        mn = _mm256_min_ps(mn, d[b]);
    }
    const __m256 m = _mm256_set1_ps(hmin_ps(mn));
    uint64_t eq = 0;  // bit 8b+j: candidate 8b+j at the minimum (some bit is set: m is one of the d)
    for (int b = 0; b < nblk; ++b)
        eq |= (uint64_t)(unsigned)_mm256_movemask_ps(_mm256_cmp_ps(d[b], m, _CMP_EQ_OQ)) << (8 * b);
    return c[__builtin_ctzll(eq)];
}

// iq::fold_group for np = 4 with avx2_iq2_prep.h's branch-free fold (random signs made the
// scalar one mispredict ~20 times a group): the same bits.
struct Iq3Fold {
    float operator()(int, const float* xb, const float* weight, bool parity, float* xval, float* waux,
                     uint8_t* signs) const {
        __m256 vmax = _mm256_set1_ps(-__builtin_inff()), nan = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            const __m256 w = _mm256_loadu_ps(weight + 8 * k);
            _mm256_store_ps(waux + 8 * k, _mm256_sqrt_ps(w));
            const __m256 xv = fold_point8(_mm256_loadu_ps(xb + 8 * k), w, parity, signs + k);
            _mm256_store_ps(xval + 8 * k, xv);
            vmax = _mm256_max_ps(vmax, xv);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps(xv, xv, _CMP_UNORD_Q));
        }
        return folded_max(vmax, nan, xval, 32);
    }
};

// iq::weights_or_x2 for a 32-weight group (avx2_math.h's group_weights32): the same bits.
struct Iq3Weights {
    void operator()(const float* x, const float* qw, float sigma2, int, float* w) const { group_weights32(x, qw, sigma2, w); }
};

// One group's inputs: xval (|x|, maybe one negated by IQ3_XXS's parity fix), weight, waux =
// sqrtf(weight), wx = weight*xval (the product the fit sums use).
struct Iq3GroupIn {
    const float* xval;
    const float* weight;
    const float* waux;
    float wx[32];
};

static inline __m256 iq3_level_values() { return _mm256_setr_ps(1, 3, 5, 7, 9, 11, 13, 15); }

// Term rows of one quadruple: row 8*i + l, lane t holds w_i*(s_t*(2l+1) - x_i)^2 for trial t.
struct alignas(64) Iq3Terms {
    float row[32][32];
};

// The candidates of key k0 scored for the eight trial lanes whose terms start at `tb` (a lane
// offset into the term rows): the first candidate of least distance per lane. Strict < from
// FLT_MAX, the first candidate kept when none is below it (as the scalar code).
static inline __m256i iq3_scan(const Iq3LaneIndex::Cand* c, const Iq3LaneIndex::Cand* end, const char* tb) {
    __m256 best = _mm256_set1_ps(FLT_MAX);
    __m256i best_key = _mm256_set1_epi32((int)c->key);
    // The four row offsets of a candidate by one 64-bit load and shifts: the loop is bound by
    // loads (ten a candidate), the integer units are mostly idle.
    const auto row = [tb](uint64_t o, int i) {
        return _mm256_loadu_ps(reinterpret_cast<const float*>(tb + (o >> (16 * i) & 0xffffu)));
    };
    for (; c < end; c += 2) {
        uint64_t o0, o1;
        __builtin_memcpy(&o0, c[0].toff, 8);
        __builtin_memcpy(&o1, c[1].toff, 8);
        __asm__("" : "+r"(o0), "+r"(o1));  // keep them in registers (not narrowed back to 16-bit loads)
        __m256 d0 = _mm256_add_ps(row(o0, 0), row(o0, 1));
        __m256 d1 = _mm256_add_ps(row(o1, 0), row(o1, 1));
        d0 = _mm256_add_ps(d0, row(o0, 2));
        d1 = _mm256_add_ps(d1, row(o1, 2));
        d0 = _mm256_add_ps(d0, row(o0, 3));
        d1 = _mm256_add_ps(d1, row(o1, 3));
        iq_keep_min(d0, c[0].key, best, best_key);
        iq_keep_min(d1, c[1].key, best, best_key);
    }
    return best_key;
}

// Neighbour search of one quadruple over all trials: key[t] (t < 8*NV) is trial t's rounded key,
// `off` the live trials whose key is off grid, `rows` the union of their keys' term rows
// (Iq3LaneIndex::KeyCands::rows). Each off-grid key is replaced by its best neighbour at the trial's scale.
// sq[NV*l + v]: lane j holds scale_{8v+j}*(2l+1).
template <int NV>
static inline void iq3_search_quad(const Iq3LaneIndex& ix, uint32_t* key, uint32_t off, uint32_t rows,
                                   const __m256* sq, const float* x4, const float* w4, Iq3Terms& T) {
    // The rows read, per coordinate four levels from min(lowest, 4), then any above those. A term
    // is formed as w*(x - sq)*(x - sq), which is the scalar w*(sq - x)*(sq - x) bit for bit
    // (rounding is symmetric; x == sq gives +0 both ways; a NaN is NaN either way).
    uint32_t done = 0;
    for (int i = 0; i < 4; ++i) {
        const uint32_t r = rows >> (8 * i) & 0xffu;  // nonzero: every candidate has a level here
        const int s = __builtin_ctz(r | 0x10u);      // min(lowest level, 4)
        done |= 0xfu << (8 * i + s);
        const __m256 xi = _mm256_set1_ps(x4[i]), wi = _mm256_set1_ps(w4[i]);
        const __m256* q = sq + NV * s;
        float* t = T.row[8 * i + s];
        for (int l = 0; l < 4; ++l, q += NV, t += 32)
            for (int v = 0; v < NV; ++v) {
                const __m256 e = _mm256_sub_ps(xi, q[v]);
                _mm256_store_ps(t + 8 * v, _mm256_mul_ps(_mm256_mul_ps(wi, e), e));
            }
    }
    for (uint32_t more = rows & ~done; more; more &= more - 1) {  // the rows above the four
        const int b = __builtin_ctz(more), i = b >> 3, l = b & 7;
        const __m256 xi = _mm256_set1_ps(x4[i]), wi = _mm256_set1_ps(w4[i]);
        for (int v = 0; v < NV; ++v) {
            const __m256 e = _mm256_sub_ps(xi, sq[NV * l + v]);
            _mm256_store_ps(T.row[b] + 8 * v, _mm256_mul_ps(_mm256_mul_ps(wi, e), e));
        }
    }
    // Distinct keys: from the first lane not yet done, the (up to) eight lanes from there with its
    // key (keys are rounded monotonically in the trial scale, so they come in runs). The results
    // replace the keys in place: a replaced key is on grid, so it never matches a later window's
    // (off-grid) key; a window moved back to fit the rows leaves the lanes before its key alone.
    // Spare lanes past the last trial repeat it and may be searched too (never read).
    constexpr int kLast = 8 * NV - 8;  // last window start
    // Software-pipelined: the next window (its key, lane mask and list bounds: a chain of
    // dependent loads) is found before the current one is scanned, so that it is ready when the
    // scan's loop exit (data-dependent: mispredicted on most scans) is resolved.
    const char* const tbase = reinterpret_cast<const char*>(T.row);
    const char* const cbase = reinterpret_cast<const char*>(ix.cand.data());
    struct Window {
        const Iq3LaneIndex::Cand *c, *end;
        int w0;
        uint32_t k0;
    };
    const auto next_window = [&](uint32_t& rem) {  // rem == 0: a harmless window of the last lane
        const int t0 = __builtin_ctz(rem | 1u << (8 * NV - 1));
        const uint32_t k0 = key[t0];
        const int w0 = t0 < kLast ? t0 : kLast;
        const __m256i same = _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + w0)),
                                                _mm256_set1_epi32((int)k0));
        rem &= ~((uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(same)) << w0);
        return Window{reinterpret_cast<const Iq3LaneIndex::Cand*>(cbase + ix.by_key[k0].cbyte),
                      reinterpret_cast<const Iq3LaneIndex::Cand*>(cbase + ix.by_key[k0 + 1].cbyte), w0, k0};
    };
    uint32_t rem = off;
    Window cur = next_window(rem);
    for (;;) {
        const bool last = rem == 0;
        const Window nxt = next_window(rem);
        _mm_prefetch(reinterpret_cast<const char*>(nxt.c), _MM_HINT_T0);
        const __m256i best = iq3_scan(cur.c, cur.end, tbase + 4 * cur.w0);
        const __m256i same = _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(key + cur.w0)),
                                                _mm256_set1_epi32((int)cur.k0));
        __m256i* rp = reinterpret_cast<__m256i*>(key + cur.w0);
        _mm256_storeu_si256(rp, _mm256_blendv_epi8(_mm256_loadu_si256(rp), best, same));
        if (last) break;
        cur = nxt;
    }
}

// Keys of all eight quadruples at one inverse scale id (the final requantization: the scalar
// rounding per weight, packed by two pairwise-add rounds on disjoint bit fields); returns the
// mask of off-grid quadruples.
static inline unsigned iq3_snap_keys(const Iq3LaneIndex& ix, const float* xval, float id, uint32_t key[8]) {
    const __m256 vid = _mm256_set1_ps(id);
    const __m256i shift = _mm256_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9);
    __m256i l[4];  // l[v] lane j: level of weight 8v+j (quadruple 2v + j/4) at its key position
    for (int v = 0; v < 4; ++v) l[v] = _mm256_sllv_epi32(iq_level(vid, _mm256_loadu_ps(xval + 8 * v), 7), shift);
    // hadd twice: 128-bit halves give quadruples (0, 2, 4, 6) and (1, 3, 5, 7)
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(l[0], l[1]), _mm256_hadd_epi32(l[2], l[3]));
    const __m256i k = _mm256_permutevar8x32_epi32(h, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_store_si256(reinterpret_cast<__m256i*>(key), k);
    return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_i32gather_epi32(ix.grid_of_key, k, 4)));
}

// Per lane the packed key l0 | l1<<3 | l2<<6 | l3<<9 of the quadruple x4 at inverse scale id, the
// levels as iq_level(id, x4[i], 7): its unclamped level, then the clamp to [0, 7] by saturating
// packs (32 -> 16 bits signed, 16 -> 8 unsigned, then min 7: the same clamp, as saturation is
// monotone) and the bytes gathered per lane and weighted 1, 8, 64, 512 by two multiply-adds.
static inline __m256i iq3_pack_levels(__m256 id, const float* x4) {
    __m256i r[4];
    for (int i = 0; i < 4; ++i) r[i] = iq_level_unclamped(id, _mm256_set1_ps(x4[i]));
    // per 128-bit half: bytes l0[0..3], l1[0..3], l2[0..3], l3[0..3] of its four lanes
    __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
    b = _mm256_min_epu8(b, _mm256_set1_epi8(7));
    b = _mm256_shuffle_epi8(b, _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                                                0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
    const __m256i l01 = _mm256_maddubs_epi16(b, _mm256_set1_epi16(0x0801));  // l0 + 8*l1, l2 + 8*l3
    return _mm256_madd_epi16(l01, _mm256_set1_epi32(0x00400001));          // + 64*(l2 + 8*l3)
}

// Scalar fit sums of packed keys, in element order (for the final refit).
static inline void iq3_fit_keys(const uint32_t* keys, const Iq3GroupIn& in, float* sumqx, float* sumq2) {
    // The products eight at a time (weights 8v..8v+7: quadruples 2v, 2v+1), the sums in order.
    alignas(32) float px[32], pq[32];
    const __m256i shift = _mm256_setr_epi32(0, 3, 6, 9, 0, 3, 6, 9);
    for (int v = 0; v < 4; ++v) {
        const __m256i k2 = _mm256_setr_epi32((int)keys[2 * v], (int)keys[2 * v], (int)keys[2 * v], (int)keys[2 * v],
                                             (int)keys[2 * v + 1], (int)keys[2 * v + 1], (int)keys[2 * v + 1], (int)keys[2 * v + 1]);
        const __m256 q = iq_level_value(_mm256_srlv_epi32(k2, shift));
        _mm256_store_ps(px + 8 * v, _mm256_mul_ps(_mm256_loadu_ps(in.wx + 8 * v), q));
        _mm256_store_ps(pq + 8 * v, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(in.weight + 8 * v), q), q));
    }
    float sx = 0, s2 = 0;
    for (int i = 0; i < 32; ++i) {
        sx += px[i];
        s2 += pq[i];
    }
    *sumqx = sx;
    *sumq2 = s2;
}

// ref::iq3_search_group for rule {kTrials, kRequantAll}: same arguments, same result bits.
template <int kTrials, bool kRequantAll>
static inline float iq3_search_group(const Iq3LaneIndex& ix, const float* xval, const float* weight,
                                     const float* waux, float max, uint16_t grid_index[8]) {
    constexpr int kN = 2 * kTrials + 1;  // trials; trial t = lane t is is = t - kTrials
    constexpr int NV = (kN + 7) / 8;
    static_assert(NV <= 4, "at most 32 trial lanes");
    Iq3GroupIn in{xval, weight, waux, {}};
    for (int i = 0; i < 32; ++i) in.wx[i] = weight[i] * xval[i];

    // Inverse scales and scales of all trials (spare lanes repeat the last trial).
    const __m256 vmax = _mm256_set1_ps(max);
    __m256 idv[NV];
    alignas(32) float sc[8 * NV];
    __m256 sq[8 * NV];  // scale * (2l+1), the products the scalar distance loop forms
    for (int v = 0; v < NV; ++v) {
        const __m256i is = _mm256_min_epi32(_mm256_add_epi32(_mm256_set1_epi32(8 * v - kTrials), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                            _mm256_set1_epi32(kTrials));
        idv[v] = _mm256_div_ps(_mm256_add_ps(_mm256_set1_ps(15.f), _mm256_mul_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(0.2f))), vmax);
        const __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.f), idv[v]);
        _mm256_store_ps(sc + 8 * v, scale);
        for (int l = 0; l < 8; ++l) sq[NV * l + v] = _mm256_mul_ps(scale, _mm256_set1_ps((float)(2 * l + 1)));
    }
    constexpr uint32_t kLive = kN == 32 ? ~0u : (1u << kN) - 1;

    // Every trial's keys, quadruple by quadruple; off[k] bit t: trial t rounds quadruple k off
    // grid (its key reads some term rows), rows[k]: the union of the rows they read.
    alignas(32) uint32_t key[8][32];
    uint32_t off[8], rows[8];
    for (int k = 0; k < 8; ++k) {
        const float* x4 = xval + 4 * k;
        uint32_t o = 0;
        __m256i r = _mm256_setzero_si256();
        for (int v = 0; v < NV; ++v) {
            const __m256i kk = iq3_pack_levels(idv[v], x4);
            _mm256_store_si256(reinterpret_cast<__m256i*>(key[k] + 8 * v), kk);
            const __m256i kr = _mm256_i32gather_epi32(reinterpret_cast<const int*>(&ix.by_key[0].rows), kk, 8);
            // the candidate list of the middle lane's key (keys come in runs: most lists searched)
            _mm_prefetch(reinterpret_cast<const char*>(ix.cand.data()) + ix.by_key[key[k][8 * v + 4]].cbyte, _MM_HINT_T0);
            r = _mm256_or_si256(r, kr);
            o |= (~(uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(kr, _mm256_setzero_si256()))) & 0xffu) << (8 * v);
        }
        __m128i r4 = _mm_or_si128(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        r4 = _mm_or_si128(r4, _mm_unpackhi_epi64(r4, r4));
        r4 = _mm_or_si128(r4, _mm_srli_epi64(r4, 32));
        off[k] = o;
        rows[k] = (uint32_t)_mm_cvtsi128_si32(r4);
    }
    Iq3Terms T;
    for (int k = 0; k < 8; ++k)
        if (off[k] & kLive) iq3_search_quad<NV>(ix, key[k], off[k] & kLive, rows[k], sq, xval + 4 * k, waux + 4 * k, T);

    // Fit sums sum (w*x)*q and sum (w*q)*q of every trial, per lane in element order (the
    // vectors' chains side by side). Per weight the products of the eight levels are tabled,
    // (w*x)*q and (w*q)*q as the scalar code rounds them, and picked by level.
    __m256 vxs[NV], v2s[NV];
    for (int v = 0; v < NV; ++v) vxs[v] = v2s[v] = _mm256_setzero_ps();
    for (int k = 0; k < 8; ++k) {
        __m256i kk[NV];
        for (int v = 0; v < NV; ++v) kk[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(key[k] + 8 * v));
        for (int i = 0; i < 4; ++i) {
            const __m256 q = iq3_level_values();
            const __m256 pxq = _mm256_mul_ps(_mm256_set1_ps(in.wx[4 * k + i]), q);
            const __m256 pqq = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(in.weight[4 * k + i]), q), q);
            for (int v = 0; v < NV; ++v) {
                const __m256i l = i ? _mm256_srli_epi32(kk[v], 3 * i) : kk[v];
                vxs[v] = _mm256_add_ps(vxs[v], _mm256_permutevar8x32_ps(pxq, l));
                v2s[v] = _mm256_add_ps(v2s[v], _mm256_permutevar8x32_ps(pqq, l));
            }
        }
    }

    // Acceptance in trial order, as the scalar loop (spare lanes past the last trial are not read).
    alignas(32) float q2[8 * NV], qx2[8 * NV], scl[8 * NV], bst[8 * NV];
    for (int v = 0; v < NV; ++v) iq_accept_inputs(vxs[v], v2s[v], q2 + 8 * v, qx2 + 8 * v, scl + 8 * v, bst + 8 * v);
    float best = 0;
    const int acc = iq_accept_chain(q2, qx2, bst, kN, best);  // the last accepted trial
    float scale = acc >= 0 ? scl[acc] : max / 15;
    uint32_t best_key[8] = {0};                // all-zero levels: key 0, a point of both grids
    unsigned on_grid = kRequantAll ? 0u : 0xffu;  // bit k: quadruple k of the accepted trial
    if (acc >= 0) {
        on_grid = 0;
        for (int k = 0; k < 8; ++k) {
            best_key[k] = key[k][acc];
            on_grid |= ((off[k] >> acc & 1u) ^ 1u) << k;
        }
    }

    if (on_grid != 0xffu && scale > 0) {
        // Round again with the fitted scale, then refit it.
        const float id = 1 / scale;
        const __m256 sqf = _mm256_mul_ps(_mm256_set1_ps(scale), iq3_level_values());
        alignas(32) uint32_t kq[8];
        const unsigned offq = iq3_snap_keys(ix, xval, id, kq);
        const unsigned redo = kRequantAll ? 0xffu : ~on_grid & 0xffu;
        for (int k = 0; k < 8; ++k) best_key[k] = redo >> k & 1u ? kq[k] : best_key[k];
        for (unsigned rem = redo & offq; rem; rem &= rem - 1)  // all lists' loads in flight at once
            _mm_prefetch(reinterpret_cast<const char*>(ix.kpad.data() + ix.kbegin[kq[__builtin_ctz(rem)]]), _MM_HINT_T0);
        for (unsigned rem = redo & offq; rem; rem &= rem - 1) {
            const int k = __builtin_ctz(rem);
            __m256 xv[4], wv[4];
            for (int i = 0; i < 4; ++i) xv[i] = _mm256_set1_ps(xval[4 * k + i]), wv[i] = _mm256_set1_ps(waux[4 * k + i]);
            best_key[k] = iq3_best_key(ix, kq[k], sqf, xv, wv);
        }
        float sumqx, sumq2;
        iq3_fit_keys(best_key, in, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }

    for (int k = 0; k < 8; ++k) {
        const int j = ix.grid_of_key[best_key[k]];
        grid_index[k] = (uint16_t)(j < 0 ? 0 : j);  // always on grid by construction
    }
    return scale;
}

}  // namespace dgk::avx2
