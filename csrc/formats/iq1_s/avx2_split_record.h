// The IQ1_S split search's result without replaying its whole acceptance chain. For AVX2-compiled
// files only.
//
// The scalar scan keeps (best, split) and accepts candidate c when fl(qx*qx) > fl(best*q2); then
// best = fl(fl(qx/q2)*qx). After an acceptance the state no longer depends on the past, so the
// result is: an accepted candidate f, then the scan from f on. With score(c) = qx^2/q2 (exact, of
// the scan's floats) and u = 2^-24:
//  * best never exceeds (1 + 2.01u) * max score of the candidates accepted so far, so f is surely
//    accepted if score(f) > (1 + 4.03u) * score(c) for every earlier c ("clear record");
//  * an acceptance lowers best by at most a factor (1 - 4.02u), and there are at most 1122
//    candidates, so after f, best >= (1 - 2.71e-4) * score(f) and a candidate with
//    score(c) <= (1 - 2.72e-4) * score(f) surely fails.
// Scores are estimated for every candidate at once as a = fl(qx^2) * rcp(q2) refined by one Newton
// step: relative error <= 2e-6 (rcp's error <= 1.5 * 2^-12 squared, plus a few roundings), given
// the guards below (no overflow; q2 >= W[32] / 64 >= 2^-47 with non-negative weights, so the
// absolute error of a subnormal qx^2 is negligible against scores >= 2^-60). Then, in estimates:
//  * f = the first candidate with a >= X_j, where X_j = X_{j-1} * 0.99999 (X_0 = max a), for the
//    first level j whose first candidate equals level j-1's: every earlier a is < X_j, a(f) is
//    >= X_{j-1}, and 1e-5 covers 4.03u plus twice the estimate error;
//  * after f only the candidates with a >= 0.9995 * a(f) can pass (5e-4 covers 2.72e-4 plus twice
//    the estimate error): they take the exact scalar test in scan order.
// Returns false (the caller runs the whole chain) when a guard fails or no level gives f.
#pragma once
#include <immintrin.h>

#include <cfloat>
#include <cmath>

#include "../common/avx2_clear_record.h"
#include "avx2_split_sums.h"
#include "pack.h"

namespace dgk::avx2 {
namespace {

// The chunks of the scan in order: rows i1 = 0..32, in each i2 = i1, i1 + 8, ... <= 32.
struct Iq1sChunks {
    int8_t i1[85], i2[85];
    constexpr Iq1sChunks() : i1(), i2() {
        int p = 0;
        for (int a = 0; a <= 32; ++a)
            for (int b = a; b <= 32; b += 8, ++p) {
                i1[p] = static_cast<int8_t>(a);
                i2[p] = static_cast<int8_t>(b);
            }
    }
};
constexpr Iq1sChunks kIq1sChunks{};
static_assert(kIq1sChunks.i1[84] == 32 && kIq1sChunks.i2[84] == 32 && kIq1sChunks.i1[83] == 31,
              "85 chunks, the last one i1 = i2 = 32");

inline bool iq1s_search_record(const Iq1sSplitSums& S, const float* weight, iq1s::Split* out) {
    constexpr int kGroup = Iq1sSplitSums::kGroup;
    constexpr int kChunks = 85;  // vectors of 8 consecutive i2 >= i1, over all rows i1
    // Guards: weights >= 0, |sumx| <= 2^50, 2^-40 <= sumw[32] <= 2^50 (false on NaN).
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 wmin = _mm256_load_ps(weight), sabs = _mm256_setzero_ps();
    for (int i = 8; i < kGroup; i += 8) wmin = _mm256_min_ps(wmin, _mm256_load_ps(weight + i));
    for (int i = 0; i < kGroup + 8; i += 8) sabs = _mm256_max_ps(sabs, _mm256_andnot_ps(sign, _mm256_load_ps(S.sumx + i)));
    const int fine = _mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(wmin, _mm256_setzero_ps(), _CMP_GE_OQ),
                                                      _mm256_cmp_ps(sabs, _mm256_set1_ps(0x1p50f), _CMP_LE_OQ)));
    const float w32 = S.sumw[kGroup];
    if (fine != 0xff || !(w32 >= 0x1p-40f && w32 <= 0x1p50f)) return false;

    // Estimates of every candidate's score; -inf for lanes past i2 = 32 (q2 = -inf there, see
    // avx2_split_sums.h) and for q2 <= 0. cmax: per lane, the larger of the two shifts' estimates;
    // run: per lane, the largest estimate of chunks 0..p (so "some lane of run[p] >= x" is
    // monotone in p), with a padding chunk of +inf.
    alignas(32) float est[kChunks][2][8];
    alignas(32) float cmax[kChunks][8];
    alignas(32) float run[kChunks + 1][8];
    const int8_t* chunk_i1 = kIq1sChunks.i1;
    const int8_t* chunk_i2 = kIq1sChunks.i2;
    __m256 top = _mm256_set1_ps(-INFINITY);
    for (int p = 0; p < kChunks; ++p) {  // one loop over all chunks: no per-row setup or exit
        const SplitVec v = S.at(chunk_i1[p], chunk_i2[p]);
        const __m256 e0 = split_score_estimate(v.qx[0], v.q2[0]);
        const __m256 e1 = split_score_estimate(v.qx[1], v.q2[1]);
        _mm256_store_ps(est[p][0], e0);
        _mm256_store_ps(est[p][1], e1);
        _mm256_store_ps(cmax[p], _mm256_max_ps(e0, e1));
        top = _mm256_max_ps(_mm256_max_ps(top, e0), e1);
        _mm256_store_ps(run[p], top);
    }
    _mm256_store_ps(run[kChunks], _mm256_set1_ps(INFINITY));
    const float m = hmax_ps(top);
    if (!(m >= 0x1p-60f && m <= FLT_MAX)) return false;

    // First candidate (code (chunk * 8 + lane) * 2 + shift, scan order) with an estimate >= x in
    // chunks 0..last: its chunk is the first whose run has a lane >= x (binary search, no
    // data-dependent branch), then the first such lane and shift there.
    auto first_at_least = [&](float x, int last) {
        const __m256 vx = _mm256_set1_ps(x);
        int q = 0;  // every chunk before q has no estimate >= x
        for (int step = 64; step; step >>= 1) {
            const int t = q + step - 1 < kChunks ? q + step - 1 : kChunks;
            const int none = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(run[t]), vx, _CMP_GE_OQ)) == 0;
            q += step & -none;
        }
        if (q > last) return -1;
        const unsigned m0 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(est[q][0]), vx, _CMP_GE_OQ)));
        const unsigned m1 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(est[q][1]), vx, _CMP_GE_OQ)));
        if (!(m0 | m1)) return -1;  // not reached: run[q] >= x and run[q - 1] < x in some lane
        const int l = __builtin_ctz(m0 | m1);
        return (q * 8 + l) * 2 + (((m0 >> l) & 1) ? 0 : 1);
    };
    const int f = clear_record(m, kChunks - 1, first_at_least, [](int code) { return code >> 4; });
    if (f < 0) return false;

    // Accept f, then the scan from f on over the candidates that can pass.
    const int q0 = f >> 4, l0 = (f >> 1) & 7, s0 = f & 1;
    alignas(32) float vx[2][8], v2[2][8];
    auto load = [&](int q) {
        const SplitVec v = S.at(chunk_i1[q], chunk_i2[q]);
        for (int s = 0; s < 2; ++s) {
            _mm256_store_ps(vx[s], v.qx[s]);
            _mm256_store_ps(v2[s], v.q2[s]);
        }
    };
    load(q0);
    iq1s::Split b;
    b.scale = vx[s0][l0] / v2[s0][l0];
    float best = b.scale * vx[s0][l0];
    b.i1 = chunk_i1[q0];
    b.i2 = chunk_i2[q0] + l0;
    b.shift = s0 == 0 ? 1 : -1;
    const __m256 band = _mm256_set1_ps(est[q0][s0][l0] * 0.9995f);
    for (int q = q0; q < kChunks; ++q) {
        if (q != q0 && !_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(cmax[q]), band, _CMP_GE_OQ))) continue;
        unsigned m0 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(est[q][0]), band, _CMP_GE_OQ)));
        unsigned m1 = static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_load_ps(est[q][1]), band, _CMP_GE_OQ)));
        if (q == q0) {  // only the candidates after f
            const unsigned later = 0xffu & ~((2u << l0) - 1);
            m0 &= later;
            m1 &= later | (s0 == 0 ? 1u << l0 : 0u);
        }
        if (!(m0 | m1)) continue;
        load(q);
        for (unsigned mm = m0 | m1; mm; mm &= mm - 1) {
            const int l = __builtin_ctz(mm);
            for (int s = 0; s < 2; ++s) {
                if (!(((s == 0 ? m0 : m1) >> l) & 1)) continue;
                const float sumqx = vx[s][l], sumq2 = v2[s][l];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    b.scale = sumqx / sumq2;
                    best = b.scale * sumqx;
                    b.i1 = chunk_i1[q];
                    b.i2 = chunk_i2[q] + l;
                    b.shift = s == 0 ? 1 : -1;
                }
            }
        }
    }
    *out = b;
    return true;
}

}  // namespace
}  // namespace dgk::avx2
