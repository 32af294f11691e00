// AVX2 pieces of the 32-weight block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): nibble and 5th-bit
// layouts both ways, block statistics with the scalar code's tie rules, and the per-element
// imatrix weights. Lane-exact counterparts of legacy_pack.h; AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_math.h"
#include "dgk/blocks.h"
#include "legacy_pack.h"

namespace dgk::avx2 {

// One 32-weight block of floats in four vectors (elements 8k..8k+7 in v[k]).
struct Block32 {
    __m256 v[4];
};

static inline Block32 load_block32(const float* x) {
    return {{_mm256_loadu_ps(x), _mm256_loadu_ps(x + 8), _mm256_loadu_ps(x + 16), _mm256_loadu_ps(x + 24)}};
}

// The 16 nibble bytes as 32 bytes in element order: low nibbles are elements 0..15, high 16..31.
static inline __m256i unpack_nibbles32(const uint8_t* qs) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(b), _mm_srli_epi16(b, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// Bit j of the little-endian 32-bit word at qh as 0x10 in byte j (the 5th bit of element j).
static inline __m256i unpack_fifth_bits32(const uint8_t* qh) {
    uint32_t bits;
    __builtin_memcpy(&bits, qh, 4);
    // byte j takes byte j/8 of the word, then tests bit j%8
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(static_cast<int>(bits)),
        _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i sel = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, sel), sel);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// Bytes 8k..8k+7 of 32 signed bytes as floats.
static inline __m256 s8_group_to_f32(__m256i bytes32, int k) {
    const __m128i half = k < 2 ? _mm256_castsi256_si128(bytes32) : _mm256_extracti128_si256(bytes32, 1);
    const __m128i group = (k & 1) ? _mm_srli_si128(half, 8) : half;
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(group));
}

// Decode stores: q*d (symmetric formats) and q*d + m (offset formats), mul then add as the scalar.
static inline void store_scaled32(__m256i q, float d, float* dst) {
    const __m256 vd = _mm256_set1_ps(d);
    for (int k = 0; k < 4; ++k) _mm256_storeu_ps(dst + 8 * k, _mm256_mul_ps(s8_group_to_f32(q, k), vd));
}

static inline void store_scaled_offset32(__m256i q, float d, float m, float* dst) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    for (int k = 0; k < 4; ++k)
        _mm256_storeu_ps(dst + 8 * k, _mm256_add_ps(_mm256_mul_ps(s8_group_to_f32(q, k), vd), vm));
}

// signed_absmax of legacy_pack.h: the first element of largest magnitude, +0.0 for a zero block.
static inline float block_signed_absmax(const Block32& b) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a[4] = {_mm256_andnot_ps(sign, b.v[0]), _mm256_andnot_ps(sign, b.v[1]),
                         _mm256_andnot_ps(sign, b.v[2]), _mm256_andnot_ps(sign, b.v[3])};
    const float amax = hmax_ps(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
    if (!(amax > 0.0f)) return 0.0f;
    const int j = first_equal_lane(a, 4, amax);
    return b.v[j >> 3][j & 7];
}

// Largest magnitude (Q8_0's amax; always a non-negative value, so its zero is +0).
static inline float block_absmax(const Block32& b) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, b.v[0]), _mm256_andnot_ps(sign, b.v[1])),
                                   _mm256_max_ps(_mm256_andnot_ps(sign, b.v[2]), _mm256_andnot_ps(sign, b.v[3])));
    return hmax_ps(m);
}

// block_min_max of legacy_pack.h: the first occurrence of the min and of the max, which decides the
// sign of a zero result (-0 vs +0 changes the stored m and d).
static inline void block_min_max(const Block32& b, float* mn, float* mx) {
    const float lo = hmin_ps(_mm256_min_ps(_mm256_min_ps(b.v[0], b.v[1]), _mm256_min_ps(b.v[2], b.v[3])));
    const float hi = hmax_ps(_mm256_max_ps(_mm256_max_ps(b.v[0], b.v[1]), _mm256_max_ps(b.v[2], b.v[3])));
    const int jl = first_equal_lane(b.v, 4, lo), jh = first_equal_lane(b.v, 4, hi);
    *mn = b.v[jl >> 3][jl & 7];
    *mx = b.v[jh >> 3][jh & 7];
}

// Q4 layout: byte j = q[j] | q[j+16] << 4, low byte kept (q[j] unmasked, as the scalar packer).
static inline void pack_q4_block(const __m256i q[4], uint8_t* qs) {
    const __m256i ff = _mm256_set1_epi32(0xff);
    const __m256i lo = _mm256_and_si256(_mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4)), ff);
    const __m256i hi = _mm256_and_si256(_mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4)), ff);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), pack_u8x16(lo, hi));
}

// Q5 layout: low nibbles as Q4 (both masked), bit 4 of element j to bit j of the qh word.
static inline void pack_q5_block(const __m256i q[4], uint8_t* qs, uint8_t* qh) {
    const __m256i f = _mm256_set1_epi32(0x0f);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(q[0], f), _mm256_slli_epi32(_mm256_and_si256(q[2], f), 4));
    const __m256i hi = _mm256_or_si256(_mm256_and_si256(q[1], f), _mm256_slli_epi32(_mm256_and_si256(q[3], f), 4));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), pack_u8x16(lo, hi));
    uint32_t high = 0;
    for (int k = 0; k < 4; ++k)  // bit 4 moved to the sign bit, then one bit per lane
        high |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(q[k], 27)))) << (8 * k);
    for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(high >> (8 * b));
}

// Imatrix encoders: the row's blocks go through `search` eight at a time, one block per lane.
//   search(xt, wt, Lt, &neg_min) -> scales   (xt/wt/Lt: element i of the 8 blocks in entry i)
//   emit(block, q[4], scale, neg_min)         (q: the block's 32 levels in element order)
// A last partial octet is padded with zero blocks (zero weights), whose results are dropped.
template <class Search, class Emit>
static inline void encode_block_octets(const float* x, const float* qw, int64_t n, Search search, Emit emit) {
    const int64_t nb = n / QK;
    const __m256 s2 = _mm256_set1_ps(ref::row_sigma2(x, n));  // sequential sum: stays scalar
    alignas(32) float pad_x[8 * QK], pad_w[8 * QK];
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int64_t cnt = nb - b0 < 8 ? nb - b0 : 8;
        const float* xs = x + b0 * QK;
        const float* ws = qw + b0 * QK;
        if (cnt < 8) {
            for (int j = 0; j < 8 * QK; ++j) pad_x[j] = pad_w[j] = 0.0f;
            __builtin_memcpy(pad_x, xs, static_cast<size_t>(cnt) * QK * sizeof(float));
            __builtin_memcpy(pad_w, ws, static_cast<size_t>(cnt) * QK * sizeof(float));
            xs = pad_x;
            ws = pad_w;
        }
        __m256 xt[QK], wt[QK];
        for (int c = 0; c < QK / 8; ++c) {
            for (int g = 0; g < 8; ++g) {
                xt[8 * c + g] = _mm256_loadu_ps(xs + g * QK + 8 * c);
                wt[8 * c + g] = _mm256_loadu_ps(ws + g * QK + 8 * c);
            }
            transpose8x8_ps(xt + 8 * c);
            transpose8x8_ps(wt + 8 * c);
        }
        for (int i = 0; i < QK; ++i)  // qw * sqrt(sigma2 + x^2), per element as the scalar code
            wt[i] = _mm256_mul_ps(wt[i], _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]))));
        __m256i Lt[QK];
        __m256 neg_min = _mm256_setzero_ps();
        alignas(32) float scale[8], mins[8];
        _mm256_store_ps(scale, search(xt, wt, Lt, &neg_min));
        _mm256_store_ps(mins, neg_min);
        // back to block order: rows[c][g] = elements 8c..8c+7 of block g
        __m256 rows[QK / 8][8];
        for (int c = 0; c < QK / 8; ++c) {
            for (int g = 0; g < 8; ++g) rows[c][g] = _mm256_castsi256_ps(Lt[8 * c + g]);
            transpose8x8_ps(rows[c]);
        }
        for (int g = 0; g < cnt; ++g) {
            const __m256i q[4] = {_mm256_castps_si256(rows[0][g]), _mm256_castps_si256(rows[1][g]),
                                  _mm256_castps_si256(rows[2][g]), _mm256_castps_si256(rows[3][g])};
            emit(b0 + g, q, scale[g], mins[g]);
        }
    }
}

}  // namespace dgk::avx2
