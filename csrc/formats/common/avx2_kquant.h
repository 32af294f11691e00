// AVX2 building blocks of the K-quant kernels: lane-wise twins of fp.h's rounding helpers,
// 8x8 transposes that put 8 sub-blocks in the 8 lanes and back, the final requantization, and
// K-quant scale (un)packing.
// Every helper gives, lane by lane, the bits of its scalar counterpart.
// AVX2-compiled files only; everything is `static` so no AVX2 copy is shared with scalar code.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "avx2_math.h"
#include "avx2_stream.h"

namespace dgk::avx2::kq {

// v < lo ? lo : (v > hi ? hi : v) for lo <= hi.
static inline __m256i clamp8(__m256i v, int lo, int hi) {
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

// Level as float, the operand every scalar sum multiplies with: clamp(nearest_int(v), lo, hi).
static inline __m256 level8(__m256 v, int lo, int hi) { return _mm256_cvtepi32_ps(clamp8(nearest_int_ps(v), lo, hi)); }

static inline __m256 abs8(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// a where mask is clear, b where it is set.
static inline __m256 pick(__m256 a, __m256 b, __m256 mask) { return _mm256_blendv_ps(a, b, mask); }

// 8 groups of n floats (n a multiple of 8), group j at src + j*stride -> t[i] = element i of
// every group (lane j = group j).
static inline void load_lanes(const float* src, int stride, int n, __m256* t) {
    for (int c = 0; c < n; c += 8) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src + j * stride + c);
        transpose8x8_ps(r);
        for (int k = 0; k < 8; ++k) t[c + k] = r[k];
    }
}

// Inverse of load_lanes for levels held as small non-negative floats: group j's n levels become
// bytes at dst + j*stride.
static inline void store_lanes_u8(const __m256* t, int n, uint8_t* dst, int stride) {
    for (int c = 0; c < n; c += 8) {
        __m256 r[8];
        for (int k = 0; k < 8; ++k) r[k] = t[c + k];
        transpose8x8_ps(r);
        for (int j = 0; j < 8; j += 2) {
            const __m256i a = _mm256_cvtps_epi32(r[j]), b = _mm256_cvtps_epi32(r[j + 1]);
            // u16 lanes a0-3 b0-3 | a4-7 b4-7, then bytes a0-3 b0-3 a4-7 b4-7, reordered to a0-7 b0-7
            const __m256i w = _mm256_packus_epi32(a, b);
            const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            const __m128i ordered = _mm_shuffle_epi32(bytes, 0xd8);
            _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + j * stride + c), ordered);
            _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + (j + 1) * stride + c),
                             _mm_unpackhi_epi64(ordered, ordered));
        }
    }
}

// 8 bytes at p (any alignment), zero-extended to 8 int32 lanes.
static inline __m256i load_u8x8(const uint8_t* p) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// y[0..31] = d*q - m for 32 unsigned byte quants q (the scalar decoders' product, then difference).
template <class Store = PlainStore>
static inline void store_affine32(__m256i q, __m256 d, __m256 m, float* y) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int g = 0; g < 4; ++g) {
        const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part[g]));
        Store::put(y + 8 * g, _mm256_sub_ps(_mm256_mul_ps(d, v), m));
    }
}

// ---- final requantization with the stored scales, in lane layout ------------------------------
// Lanes whose stored scale d is 0 keep the search's levels, as the scalar `if (d == 0) continue`
// (a NaN d requantizes, as there).

// L = clamp(nearest_int((x + dm) / d), 0, nmax)
template <int N>
static inline void requant_asym(const __m256* x, __m256 d, __m256 dm, int nmax, __m256* L) {
    const __m256 use = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    for (int i = 0; i < N; ++i) L[i] = pick(L[i], level8(_mm256_div_ps(_mm256_add_ps(x[i], dm), d), 0, nmax), use);
}

// L = clamp(nearest_int(x / d), -nmax, nmax - 1) + nmax
template <int N>
static inline void requant_sym(const __m256* x, __m256 d, int nmax, __m256* L) {
    const __m256 use = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ);
    const __m256i offset = _mm256_set1_epi32(nmax);
    for (int i = 0; i < N; ++i) {
        const __m256i l = _mm256_add_epi32(clamp8(nearest_int_ps(_mm256_div_ps(x[i], d)), -nmax, nmax - 1), offset);
        L[i] = pick(L[i], _mm256_cvtepi32_ps(l), use);
    }
}

// ---- sums over a super-block ------------------------------------------------------------------

// Sequential sum of x*x over each super-block of 256 (the scalar loop's order), for nsb
// consecutive super-blocks; 8 at a time with one super-block per lane.
static inline void superblock_sumsq(const float* x, int64_t nsb, float* out) {
    int64_t sb = 0;
    for (; sb + 8 <= nsb; sb += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int c = 0; c < 256; c += 8) {
            __m256 t[8];
            load_lanes(x + 256 * sb + c, 256, 8, t);
            for (int k = 0; k < 8; ++k) acc = _mm256_add_ps(acc, _mm256_mul_ps(t[k], t[k]));
        }
        _mm256_storeu_ps(out + sb, acc);
    }
    for (; sb < nsb; ++sb) {
        float acc = 0.0f;
        for (int i = 0; i < 256; ++i) acc += x[256 * sb + i] * x[256 * sb + i];
        out[sb] = acc;
    }
}

// The imatrix encoders' driver: super-blocks in chunks of 64, f(c0, nc, sumsq) for each chunk of
// nc super-blocks from c0, with sumsq[k] = super-block c0+k's sum of x*x.
template <class F>
static inline void for_each_sumsq_chunk(const float* x, int64_t nsb, F&& f) {
    constexpr int64_t kChunk = 64;
    float sumsq[kChunk];
    for (int64_t c0 = 0; c0 < nsb; c0 += kChunk) {
        const int64_t nc = nsb - c0 < kChunk ? nsb - c0 : kChunk;
        superblock_sumsq(x + 256 * c0, nc, sumsq);
        f(c0, nc, static_cast<const float*>(sumsq));
    }
}

// K-quant imatrix weights, in place: w = qw * sqrtf(sigma2 + x*x) (w holds qw on entry).
template <int N>
static inline void imatrix_weights(const __m256* x, __m256 sigma2, __m256* w) {
    for (int i = 0; i < N; ++i) {
        w[i] = _mm256_mul_ps(w[i], _mm256_sqrt_ps(_mm256_add_ps(sigma2, _mm256_mul_ps(x[i], x[i]))));
    }
}

// Per lane (sub-block), the sequential sum of w over its N elements.
template <int N>
static inline __m256 lane_sum(const __m256* w) {
    __m256 s = _mm256_setzero_ps();
    for (int i = 0; i < N; ++i) s = _mm256_add_ps(s, w[i]);
    return s;
}

// ---- scale unpacking, 8 sub-blocks at a time --------------------------------------------------

static inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Q4_K/Q5_K: the 8 (scale, min) pairs of 6 bits (layout: common/kquant_scales.h) in the 8 lanes.
static inline void scale_min6_x8(const uint8_t* s, __m256i* sc, __m256i* mn) {
    const int a = (int)load_u32(s), b = (int)load_u32(s + 4), c = (int)load_u32(s + 8);
    const __m256i p = _mm256_cvtepu8_epi32(_mm_setr_epi32(a, c, 0, 0));  // s0-3, s8-11
    const __m256i q = _mm256_cvtepu8_epi32(_mm_setr_epi32(b, a, 0, 0));  // s4-7, s0-3
    const __m256i r = _mm256_cvtepu8_epi32(_mm_setr_epi32(b, b, 0, 0));  // s4-7, s4-7
    const __m256i m63 = _mm256_set1_epi32(63), m15 = _mm256_set1_epi32(15);
    const __m256i top2_q = _mm256_slli_epi32(_mm256_srli_epi32(q, 6), 4);
    const __m256i top2_r = _mm256_slli_epi32(_mm256_srli_epi32(r, 6), 4);
    // lanes 0-3: plain 6-bit fields; lanes 4-7: a nibble plus 2 high bits from another byte
    *sc = _mm256_blend_epi32(_mm256_and_si256(p, m63), _mm256_or_si256(_mm256_and_si256(p, m15), top2_q), 0xF0);
    *mn = _mm256_blend_epi32(_mm256_and_si256(q, m63), _mm256_or_si256(_mm256_srli_epi32(p, 4), top2_r), 0xF0);
}

// Q3_K: the signed 6-bit scales of sub-blocks 8k..8k+7 (layout: common/kquant_scales.h) in the
// 8 lanes.
static inline __m256i scale6_q3_x8(const uint8_t* s, int k) {
    const __m256i low = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s)));
    const __m256i nib = k == 0 ? _mm256_and_si256(low, _mm256_set1_epi32(15)) : _mm256_srli_epi32(low, 4);
    // high 2 bits of scale j: byte 8 + j%4 of s at bit 2*(j/4), i.e. bit 8*(j%4) + 2*(j/4) of s[8..11]
    const __m256i shifts = k == 0 ? _mm256_setr_epi32(0, 8, 16, 24, 2, 10, 18, 26)
                                  : _mm256_setr_epi32(4, 12, 20, 28, 6, 14, 22, 30);
    const __m256i high = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)load_u32(s + 8)), shifts),
                                          _mm256_set1_epi32(3));
    return _mm256_sub_epi32(_mm256_or_si256(nib, _mm256_slli_epi32(high, 4)), _mm256_set1_epi32(32));
}

// Lane j of v in every lane.
static inline __m256 lane(__m256 v, int j) { return _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(j)); }

// ---- scale packing (the byte layouts of common/kquant_scales.h) -------------------------------

// Q4_K/Q5_K: 8 (scale, min) byte pairs into 12 bytes, values taken as given (see kquant_scales.h).
static inline void pack_scale_min6(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
    for (int j = 0; j < 4; ++j) {
        s[j] = (uint8_t)(ls[j] | ((ls[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(lm[j] | ((lm[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
}

// Q3_K: 16 values in [0, 63] into 12 bytes.
static inline void pack_scale6_q3(const int* q, uint8_t* s) {
    for (int j = 0; j < 8; ++j) s[j] = (uint8_t)((q[j] & 0xF) | ((q[j + 8] & 0xF) << 4));
    for (int j = 0; j < 4; ++j) {
        s[8 + j] = (uint8_t)((q[j] >> 4) | ((q[j + 4] >> 4) << 2) | ((q[j + 8] >> 4) << 4) | ((q[j + 12] >> 4) << 6));
    }
}

// 2-bit layout of Q2_K/Q3_K: per 128-weight half, byte l holds elements l, l+32, l+64, l+96 at
// bits 0, 2, 4, 6. L holds 256 values in [0, 3].
static inline void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int h = 0; h < 2; ++h) {
        const uint8_t* src = L + 128 * h;
        __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
        for (int k = 1; k < 4; ++k) {
            // bytes are < 4, so a 16-bit shift by <= 6 never carries into the next byte
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * k));
            acc = _mm256_or_si256(acc, _mm256_slli_epi16(v, 2 * k));
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * h), acc);
    }
}

}  // namespace dgk::avx2::kq
