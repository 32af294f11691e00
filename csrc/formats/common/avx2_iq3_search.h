// AVX2 form of the IQ3 group search (iq3_group_search.h, ggml's quantize_row_iq3_*_impl core):
// eight trial scales run side by side, one per lane, each lane doing exactly the scalar search's
// operations. The neighbour distance of an off-grid quadruple is a sum of four terms
// w_i*(s*q_i - x_i)^2, searched in one of two ways, whichever is cheaper for the quadruple:
//  - by trial (few lanes off grid): for one scale the eight levels' terms of coordinate i fit one
//    vector, so eight candidates are scored with four lane permutations;
//  - by candidate (many lanes off grid, sharing few keys): a table T of every (coordinate, level)
//    term across the lanes, and each candidate of each distinct key is three adds for all lanes.
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
    struct Cand {
        uint8_t toff[4];  // 4*(8*i + level_i): term T[8*i + level_i] of coordinate i is at byte 8*toff[i]
        uint32_t key;     // the candidate's packed levels
    };
    int32_t grid_of_key[ref::Iq3GridIndex::kKeys];  // 32-bit copy for gathers; -1: off grid
    // By trial: packed keys (l0 | l1<<3 | l2<<6 | l3<<9) of key k's candidates in kpad[kbegin[k]
    // .. kbegin[k+1]), padded to whole blocks of eight with copies of the last candidate.
    uint32_t kbegin[ref::Iq3GridIndex::kKeys + 1];
    std::vector<uint16_t> kpad;
    // By candidate: cand[cbegin[k] .. cbegin[k+1]), padded to an even count the same way.
    uint32_t cbegin[ref::Iq3GridIndex::kKeys + 1];
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
            point[j].toff[i] = (uint8_t)(4 * (8 * i + l));  // 8 bytes per unit: 8*toff = 32*(8i+l)
            point[j].key |= l << (3 * i);
        }
    for (int key = 0; key < ref::Iq3GridIndex::kKeys; ++key) {
        ix->grid_of_key[key] = g.grid_of_key[key];
        ix->kbegin[key] = (uint32_t)ix->kpad.size();
        ix->cbegin[key] = (uint32_t)ix->cand.size();
        for (uint32_t c = g.nb_begin[key]; c < g.nb_begin[key + 1]; ++c) {
            ix->cand.push_back(point[g.nb[c]]);
            ix->kpad.push_back((uint16_t)point[g.nb[c]].key);
        }
        // IQ3_S lists (3 to ~16 candidates) all take two blocks, so the block loop's exit is predictable.
        const size_t min_len = grid_size == 512 && g.nb_begin[key + 1] > g.nb_begin[key] ? 16 : 0;
        while ((ix->kpad.size() - ix->kbegin[key]) % 8 || ix->kpad.size() - ix->kbegin[key] < min_len)
            ix->kpad.push_back(ix->kpad.back());
        if ((ix->cand.size() - ix->cbegin[key]) % 2) ix->cand.push_back(ix->cand.back());
    }
    ix->kbegin[ref::Iq3GridIndex::kKeys] = (uint32_t)ix->kpad.size();
    ix->cbegin[ref::Iq3GridIndex::kKeys] = (uint32_t)ix->cand.size();
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

// One group's inputs: xval (|x|, maybe one negated by IQ3_XXS's parity fix), weight, waux =
// sqrtf(weight), wx = weight*xval (the product the fit sums use).
struct Iq3GroupIn {
    const float* xval;
    const float* weight;
    const float* waux;
    float wx[32];
};

// Eight trials' results: snapped keys per quadruple and lane, which lanes rounded off grid, and
// the fit sums sum (w*x)*q and sum (w*q)*q per lane.
struct Iq3Batch {
    alignas(32) uint32_t key[8][8];
    alignas(32) float sumqx[8];
    alignas(32) float sumq2[8];
    uint8_t off[8];
};

static inline __m256 iq3_level_values() { return _mm256_setr_ps(1, 3, 5, 7, 9, 11, 13, 15); }

// Term vector at byte offset `off` of the lane term table.
static inline __m256 iq3_term(const char* tbase, uint8_t off) {
    return *reinterpret_cast<const __m256*>(tbase + 8 * (size_t)off);
}

// Neighbour search by candidate for the lanes in `lanes` (all of whose keys are off grid): the
// resulting keys are blended into `key`. sq[l]: lane t holds scale_t*(2l+1).
static inline __m256i iq3_search_by_candidate(const Iq3LaneIndex& ix, __m256i key, unsigned lanes, const __m256* sq,
                                              const float* x4, const float* w4) {
    alignas(32) __m256 terms[32];
    const char* tbase = reinterpret_cast<const char*>(terms);
    for (int i = 0; i < 4; ++i) {  // every level's term (cheaper than selecting the ~12 read)
        const __m256 xi = _mm256_set1_ps(x4[i]), wi = _mm256_set1_ps(w4[i]);
        for (int l = 0; l < 8; ++l) terms[8 * i + l] = iq_sq_err(sq[l], xi, wi);
    }
    alignas(32) uint32_t kk[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(kk), key);
    __m256i out = key;
    for (unsigned rem = lanes; rem;) {  // lanes sharing a key share its candidate list
        const uint32_t k0 = kk[__builtin_ctz(rem)];
        const __m256i same = _mm256_cmpeq_epi32(key, _mm256_set1_epi32((int)k0));
        rem &= ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(same));
        const Iq3LaneIndex::Cand* c = ix.cand.data() + ix.cbegin[k0];
        const Iq3LaneIndex::Cand* const end = ix.cand.data() + ix.cbegin[k0 + 1];
        // Strict < from FLT_MAX, first candidate kept if none is below it (as the scalar code).
        __m256 best = _mm256_set1_ps(FLT_MAX);
        __m256i best_key = _mm256_set1_epi32((int)c->key);
        for (; c < end; c += 2) {
            __m256 d0 = iq3_term(tbase, c[0].toff[0]), d1 = iq3_term(tbase, c[1].toff[0]);
            d0 = _mm256_add_ps(d0, iq3_term(tbase, c[0].toff[1]));
            d1 = _mm256_add_ps(d1, iq3_term(tbase, c[1].toff[1]));
            d0 = _mm256_add_ps(d0, iq3_term(tbase, c[0].toff[2]));
            d1 = _mm256_add_ps(d1, iq3_term(tbase, c[1].toff[2]));
            d0 = _mm256_add_ps(d0, iq3_term(tbase, c[0].toff[3]));
            d1 = _mm256_add_ps(d1, iq3_term(tbase, c[1].toff[3]));
            iq_keep_min(d0, c[0].key, best, best_key);
            iq_keep_min(d1, c[1].key, best, best_key);
        }
        // `same` may hold spare (not live) lanes, whose results are ignored; never an on-grid lane.
        out = _mm256_blendv_epi8(out, best_key, same);
    }
    return out;
}

// Off-grid lanes up to which the search by trial is used: it costs ~45 instructions per lane, the
// search by candidate ~130 plus ~14 per candidate of each distinct key (callgrind: 3 to 6 are
// within 1% of each other on N(0,1) rows, 4 the fewest for both formats; 7 costs IQ3_XXS +11%).
constexpr int kIq3ByTrialMax = 4;

// Snap all eight quadruples at the lanes' inverse scales `id` (neighbour distances measured at
// `scale`) and accumulate the fit sums: lane t does what snap_quad + fit_sums do for one trial.
// Only the lanes in `live` search neighbours (the others' results are ignored by the caller).
static inline void iq3_batch(const Iq3LaneIndex& ix, const Iq3GroupIn& in, __m256 id, __m256 scale, unsigned live,
                             Iq3Batch& out) {
    __m256 sq[8];  // scale * (2l+1), the products the scalar distance loop forms
    for (int l = 0; l < 8; ++l) sq[l] = _mm256_mul_ps(scale, _mm256_set1_ps((float)(2 * l + 1)));
    alignas(32) float sc[8];
    _mm256_store_ps(sc, scale);
    // All keys and grid lookups first (independent gathers overlap), then only the quadruples
    // with live lanes off grid are searched, then the fit sums in element order.
    __m256i key[8];
    for (int k = 0; k < 8; ++k) {
        const float* x4 = in.xval + 4 * k;
        __m256i kk = iq_level(id, _mm256_set1_ps(x4[0]), 7);
        for (int i = 1; i < 4; ++i)
            kk = _mm256_or_si256(kk, _mm256_slli_epi32(iq_level(id, _mm256_set1_ps(x4[i]), 7), 3 * i));
        key[k] = kk;
        const __m256i grid = _mm256_i32gather_epi32(ix.grid_of_key, kk, 4);
        const unsigned off = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(grid));
        out.off[k] = (uint8_t)off;
    }
    // bit k: quadruple k has a live lane off grid (a zero test of each byte of off & live)
    const __m128i offs = _mm_and_si128(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(out.off)), _mm_set1_epi8((char)live));
    unsigned need = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(offs, _mm_setzero_si128())) & 0xffu;
    for (; need; need &= need - 1) {
        const int k = __builtin_ctz(need);
        const float* x4 = in.xval + 4 * k;
        const float* w4 = in.waux + 4 * k;
        const unsigned search = out.off[k] & live;
        if (__builtin_popcount(search) > kIq3ByTrialMax) {
            key[k] = iq3_search_by_candidate(ix, key[k], search, sq, x4, w4);
        } else {
            _mm256_store_si256(reinterpret_cast<__m256i*>(out.key[k]), key[k]);
            __m256 xv[4], wv[4];
            for (int i = 0; i < 4; ++i) xv[i] = _mm256_set1_ps(x4[i]), wv[i] = _mm256_set1_ps(w4[i]);
            for (unsigned rem = search; rem; rem &= rem - 1) {
                const int t = __builtin_ctz(rem);
                const __m256 sqt = _mm256_mul_ps(_mm256_set1_ps(sc[t]), iq3_level_values());
                out.key[k][t] = iq3_best_key(ix, out.key[k][t], sqt, xv, wv);
            }
            key[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(out.key[k]));
        }
    }
    __m256 sx = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
    for (int k = 0; k < 8; ++k) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(out.key[k]), key[k]);
        for (int i = 0; i < 4; ++i) {
            const __m256 q = iq_level_value(_mm256_srli_epi32(key[k], 3 * i));
            iq_fit_step(sx, s2, in.wx[4 * k + i], in.weight[4 * k + i], q);
        }
    }
    _mm256_store_ps(out.sumqx, sx);
    _mm256_store_ps(out.sumq2, s2);
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

// Scalar fit sums of packed keys, in element order (for the final refit).
static inline void iq3_fit_keys(const uint32_t* keys, const Iq3GroupIn& in, float* sumqx, float* sumq2) {
    float sx = 0, s2 = 0;
    for (int i = 0; i < 32; ++i) {
        const float q = (float)(2 * ((keys[i / 4] >> (3 * (i % 4))) & 7u) + 1);
        sx += in.wx[i] * q;
        s2 += in.weight[i] * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}

// ref::iq3_search_group with the trials eight at a time: same arguments, same result bits.
static inline float iq3_search_group(const Iq3LaneIndex& ix, const ref::Iq3SearchRule& rule, const float* xval,
                                     const float* weight, const float* waux, float max, uint16_t grid_index[8]) {
    Iq3GroupIn in{xval, weight, waux, {}};
    for (int i = 0; i < 32; ++i) in.wx[i] = weight[i] * xval[i];

    uint32_t best_key[8] = {0};                // all-zero levels: key 0, a point of both grids
    unsigned on_grid = rule.requant_all ? 0u : 0xffu;  // bit k: quadruple k of the accepted trial
    float scale = max / 15;
    float best = 0;
    Iq3Batch bt;
    const __m256 vmax = _mm256_set1_ps(max);
    for (int is0 = -rule.trials; is0 <= rule.trials; is0 += 8) {
        const int nlanes = rule.trials - is0 + 1 < 8 ? rule.trials - is0 + 1 : 8;
        // Spare lanes repeat the last trial; their results are ignored.
        const __m256i is = _mm256_min_epi32(_mm256_add_epi32(_mm256_set1_epi32(is0), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                            _mm256_set1_epi32(rule.trials));
        const __m256 id = _mm256_div_ps(_mm256_add_ps(_mm256_set1_ps(15.f), _mm256_mul_ps(_mm256_cvtepi32_ps(is), _mm256_set1_ps(0.2f))), vmax);
        iq3_batch(ix, in, id, _mm256_div_ps(_mm256_set1_ps(1.f), id), (1u << nlanes) - 1, bt);
        // Acceptance in trial order, as the scalar loop, without branches: each lane's test with
        // the running best, then selects. scale = sumqx/sumq2 and best = scale*sumqx are formed
        // for all lanes at once (the same roundings) and kept only where the test passes. When no
        // lane passes against the batch's starting best, none can be accepted (best only changes
        // on acceptance), so the chain is skipped.
        const __m256 vx = _mm256_load_ps(bt.sumqx), v2 = _mm256_load_ps(bt.sumq2);
        const __m256 x2 = _mm256_mul_ps(vx, vx);
        const __m256 pass = _mm256_and_ps(_mm256_cmp_ps(v2, _mm256_setzero_ps(), _CMP_GT_OQ),
                                          _mm256_cmp_ps(x2, _mm256_mul_ps(_mm256_set1_ps(best), v2), _CMP_GT_OQ));
        const unsigned live = (1u << nlanes) - 1;
        int accepted = -1;  // only the batch's last accepted trial is kept
        alignas(32) float a_sc[8];
        if ((unsigned)_mm256_movemask_ps(pass) & live) {
            alignas(32) float a_x2[8], a_best[8];
            const __m256 vs = _mm256_div_ps(vx, v2);
            // spare lanes: x2 = -inf fails the test
            _mm256_store_ps(a_x2, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), x2, _mm256_castsi256_ps(iq_lane_mask(live))));
            _mm256_store_ps(a_sc, vs);
            _mm256_store_ps(a_best, _mm256_mul_ps(vs, vx));
            __m128 b = _mm_set_ss(best);
            for (int t = 0; t < 8; ++t) {
                const __m128 q2 = _mm_load_ss(bt.sumq2 + t);
                const __m128 c = _mm_and_ps(_mm_cmpgt_ss(q2, _mm_setzero_ps()), _mm_cmpgt_ss(_mm_load_ss(a_x2 + t), _mm_mul_ss(b, q2)));
                b = _mm_blendv_ps(b, _mm_load_ss(a_best + t), c);
                const int m = _mm_cvtsi128_si32(_mm_castps_si128(c));
                accepted = (accepted & ~m) | (t & m);
            }
            best = _mm_cvtss_f32(b);
        }
        if (accepted >= 0) {
            scale = a_sc[accepted];
            on_grid = 0;
            for (int k = 0; k < 8; ++k) {
                best_key[k] = bt.key[k][accepted];
                on_grid |= (((unsigned)bt.off[k] >> accepted & 1u) ^ 1u) << k;
            }
        }
    }

    if (on_grid != 0xffu && scale > 0) {
        // Round again with the fitted scale, then refit it.
        const float id = 1 / scale;
        const __m256 sq = _mm256_mul_ps(_mm256_set1_ps(scale), iq3_level_values());
        alignas(32) uint32_t key[8];
        const unsigned offq = iq3_snap_keys(ix, xval, id, key);
        const unsigned redo = rule.requant_all ? 0xffu : ~on_grid & 0xffu;
        for (int k = 0; k < 8; ++k) best_key[k] = redo >> k & 1u ? key[k] : best_key[k];
        for (unsigned rem = redo & offq; rem; rem &= rem - 1) {
            const int k = __builtin_ctz(rem);
            __m256 xv[4], wv[4];
            for (int i = 0; i < 4; ++i) xv[i] = _mm256_set1_ps(xval[4 * k + i]), wv[i] = _mm256_set1_ps(waux[4 * k + i]);
            best_key[k] = iq3_best_key(ix, key[k], sq, xv, wv);
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
