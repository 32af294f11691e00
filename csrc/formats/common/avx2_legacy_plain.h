// Fast path of the plain (no imatrix) Q4_0, Q4_1, Q5_0 and Q5_1 AVX2 encoders: eight blocks kept
// in their natural layout (block g's elements in four vectors) instead of transposed. Only the
// per-block min/max reductions cross lanes; the levels are computed per block with its scale
// broadcast, and packed with byte packs. It handles the common octet and declines the rest (a zero
// min or max, whose sign depends on element order; a tie between +a and -a; any level outside
// 0..63: finite blocks give 0..32, a NaN/Inf level INT32_MIN), which the transposed path of avx2_legacy.h then encodes exactly as ref.cpp.
// AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "avx2_legacy.h"

namespace dgk::avx2 {

// Lane g of the result = op over the 8 lanes of v[g] (min and max: exact in any order).
template <class Op>
static inline __m256 reduce8_lanes(const __m256* v, Op op) {
    __m256 r[4];
    for (int k = 0; k < 4; ++k)  // [min(a0,a2) min(b0,b2) min(a1,a3) min(b1,b3) | same for lanes 4..7]
        r[k] = op(_mm256_unpacklo_ps(v[2 * k], v[2 * k + 1]), _mm256_unpackhi_ps(v[2 * k], v[2 * k + 1]));
    const __m256 s0 = op(_mm256_shuffle_ps(r[0], r[1], 0x44), _mm256_shuffle_ps(r[0], r[1], 0xee));
    const __m256 s1 = op(_mm256_shuffle_ps(r[2], r[3], 0x44), _mm256_shuffle_ps(r[2], r[3], 0xee));
    // s0 = [a b c d | a' b' c' d'] (blocks 0..3, halves still to combine); s1 likewise for 4..7
    return op(_mm256_permute2f128_ps(s0, s1, 0x20), _mm256_permute2f128_ps(s0, s1, 0x31));
}

// Per-format constants, as ref.cpp: offset formats d = (max - min) / div, level (x - min)/d + bias;
// symmetric ones d = signed extreme / div, level x/d + bias. Levels are clamped to `clamp` (255: no
// clamp, Q5_1 keeps the low byte). Compile-time, so each format's fast path is straight-line code.
template <bool Offset, bool Q5, int Div, int Clamp>
struct LegacyRule {
    static constexpr bool offset = Offset, q5 = Q5;
    static constexpr float div = Div, bias = Offset ? 0.5f : 0.5f - Div;  // symmetric: 8.5 for Q4_0, 16.5 for Q5_0
    static constexpr int clamp = Clamp;
};
template <class Block>
struct PlainRule;
template <> struct PlainRule<block_q4_0> : LegacyRule<false, false, -8, 15> {};
template <> struct PlainRule<block_q4_1> : LegacyRule<true, false, 15, 15> {};
template <> struct PlainRule<block_q5_0> : LegacyRule<false, true, -16, 31> {};
template <> struct PlainRule<block_q5_1> : LegacyRule<true, true, 31, 255> {};

// Block g's 32 levels as bytes in element order (not yet clamped), from its four vectors at x,
// with m = -min and nid = -1/d for offset formats (x - min)*id = (min - x)*(-id) bit for bit: the
// sign flip is exact and round-to-nearest is symmetric; min - x lets the load fold into the
// subtraction) and nid = 1/d for symmetric ones. Signed packs keep levels 0..127 and turn the
// INT32_MIN of a NaN/Inf level into 0x80, so a bit 6 or 7 in any byte flags an octet to decline.
template <class Rule>
static inline __m256i plain_block_levels(const float* x, __m256 m, __m256 nid) {
    __m256i q[4];
    for (int c = 0; c < 4; ++c) {
        __m256 t;
        if constexpr (Rule::offset) t = _mm256_sub_ps(m, _mm256_loadu_ps(x + 8 * c));
        else t = _mm256_loadu_ps(x + 8 * c);
        q[c] = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(t, nid), _mm256_set1_ps(Rule::bias)));
    }
    const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// The 16 nibble bytes of a block: byte j = level j | level j+16 << 4, each level masked to its
// low nibble first where `mask` (Q5: bit 4 goes to qh).
static inline void store_plain_nibbles(__m256i q, bool mask, uint8_t* qs) {
    if (mask) q = _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
    // levels <= 15: a 16-bit shift moves no bit into the neighbouring byte
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
}

// The Q5 qh word: bit j = bit 4 of level j (levels <= 127: the shift stays inside each byte).
static inline uint32_t plain_fifth_bits(__m256i q) {
    return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(q, 3)));
}

// Encodes the 8 blocks at xs (8 * QK floats) into b[0..7], or returns false where the transposed
// path must run (it then rewrites all eight blocks). Every NaN or Inf input declines: its level is
// NaN * anything or Inf * (0, NaN or a finite nonzero), which truncates to INT32_MIN.
template <class Block>
static inline bool encode_plain_octet(const float* xs, Block* b) {
    using Rule = PlainRule<Block>;
    // the next-but-one octet (1 KiB each): the hardware prefetcher alone falls behind when the row streams from L3
    for (int k = 0; k < 16; ++k) _mm_prefetch(reinterpret_cast<const char*>(xs + 2 * 8 * QK) + 64 * k, _MM_HINT_T0);
    __m256 lo[8], hi[8];
    for (int g = 0; g < 8; ++g) {
        __m256 v[4];
        for (int c = 0; c < 4; ++c) v[c] = _mm256_loadu_ps(xs + g * QK + 8 * c);
        lo[g] = _mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3]));
        hi[g] = _mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3]));
    }
    const __m256 mn = reduce8_lanes(lo, [](__m256 a, __m256 c) { return _mm256_min_ps(a, c); });
    const __m256 mx = reduce8_lanes(hi, [](__m256 a, __m256 c) { return _mm256_max_ps(a, c); });
    const __m256 zero = _mm256_setzero_ps();
    __m256 d;
    if constexpr (Rule::offset) {
        // a zero min or max takes the sign of the block's first zero: the transposed path knows it
        if (_mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(mn, zero, _CMP_EQ_OQ), _mm256_cmp_ps(mx, zero, _CMP_EQ_OQ))))
            return false;
        d = _mm256_div_ps(_mm256_sub_ps(mx, mn), _mm256_set1_ps(Rule::div));
    } else {
        // the signed extreme: max where max > -min; a tie (zero blocks too) needs the first element
        const __m256 neg_mn = _mm256_xor_ps(mn, _mm256_set1_ps(-0.0f));
        if (_mm256_movemask_ps(_mm256_cmp_ps(mx, neg_mn, _CMP_EQ_OQ))) return false;
        d = _mm256_div_ps(_mm256_blendv_ps(mn, mx, _mm256_cmp_ps(mx, neg_mn, _CMP_GT_OQ)), _mm256_set1_ps(Rule::div));
    }
    const __m256 id = recip_or_zero(d);
    // scale (and min) fields of the 8 blocks as 32-bit words: d | m << 16 for the offset formats,
    // whose d and m are the first 4 bytes of a block
    const __m128i d16 = fp16x8v(d);
    alignas(32) uint32_t head[8];
    if constexpr (Rule::offset) {
        static_assert(offsetof(Block, m) == 2, "d, m lead the block");
        const __m128i m16 = fp16x8v(mn);
        _mm_store_si128(reinterpret_cast<__m128i*>(head), _mm_unpacklo_epi16(d16, m16));
        _mm_store_si128(reinterpret_cast<__m128i*>(head + 4), _mm_unpackhi_epi16(d16, m16));
    } else {
        _mm256_store_si256(reinterpret_cast<__m256i*>(head), _mm256_cvtepu16_epi32(d16));
    }
    alignas(32) float mv[8], nidv[8];
    _mm256_store_ps(mv, mn);
    _mm256_store_ps(nidv, Rule::offset ? _mm256_xor_ps(id, _mm256_set1_ps(-0.0f)) : id);
    __m256i any = _mm256_setzero_si256();
    for (int g = 0; g < 8; ++g) {
        __m256i q = plain_block_levels<Rule>(xs + g * QK, _mm256_set1_ps(mv[g]), _mm256_set1_ps(nidv[g]));
        any = _mm256_or_si256(any, q);
        if constexpr (Rule::clamp < 255) q = _mm256_min_epu8(q, _mm256_set1_epi8(static_cast<char>(Rule::clamp)));
        std::memcpy(&b[g], head + g, Rule::offset ? 4 : 2);
        if constexpr (Rule::q5) {
            const uint32_t qh = plain_fifth_bits(q);
            std::memcpy(b[g].qh, &qh, 4);  // little-endian word, as ref.cpp writes it
        }
        store_plain_nibbles(q, Rule::q5, b[g].qs);
    }
    return _mm256_testz_si256(any, _mm256_set1_epi8(static_cast<char>(0xc0)));  // every level < 64
}

}  // namespace dgk::avx2
