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

// Block g's 32 levels as bytes (not yet clamped), from its four vectors at x, with m = -min and
// nid = -1/d for offset formats ((x - min)*id = (min - x)*(-id) bit for bit: the sign flip is exact
// and round-to-nearest is symmetric; min - x lets the load fold into the subtraction) and nid = 1/d
// for symmetric ones. Signed packs keep levels 0..127 and turn the INT32_MIN of a NaN/Inf level
// into 0x80, so a bit 6 or 7 in any byte flags an octet to decline. Byte order is the packs':
// lane 0 holds elements 0-3, 8-11, 16-19, 24-27 and lane 1 elements 4-7, 12-15, 20-23, 28-31.
template <class Rule>
static inline __m256i plain_block_levels_packed(const float* x, __m256 m, __m256 nid) {
    __m256i q[4];
    for (int c = 0; c < 4; ++c) {
        __m256 t;
        if constexpr (Rule::offset) t = _mm256_sub_ps(m, _mm256_loadu_ps(x + 8 * c));
        else t = _mm256_loadu_ps(x + 8 * c);
        q[c] = _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(t, nid), _mm256_set1_ps(Rule::bias)));
    }
    return _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
}

// Dword order of both the element-order bytes of one packed block and the nibbles of a pair.
static inline __m256i plain_dword_order() { return _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7); }

template <class Rule>
static inline __m256i plain_clamp(__m256i q) {
    if constexpr (Rule::clamp < 255) return _mm256_min_epu8(q, _mm256_set1_epi8(static_cast<char>(Rule::clamp)));
    else return q;
}

// The 16 nibble bytes of a Q5 block (byte j = level j | level j+16 << 4, bit 4 of each level
// masked off: it goes to qh) from its clamped levels in element order.
static inline void store_q5_nibbles(__m256i q, uint8_t* qs) {
    q = _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
    // levels <= 15: a 16-bit shift moves no bit into the neighbouring byte
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
}

// The nibbles of two 4-bit blocks from their packed levels with one shift, or and permute: the
// 64-bit unpacks pair elements j (0-3, 8-11 per lane) with j + 16 of the same block.
template <class Rule>
static inline void store_plain_nibbles_pair(__m256i a, __m256i b, uint8_t* qs_a, uint8_t* qs_b) {
    const __m256i lo = plain_clamp<Rule>(_mm256_unpacklo_epi64(a, b)), hi = plain_clamp<Rule>(_mm256_unpackhi_epi64(a, b));
    const __m256i nib = _mm256_permutevar8x32_epi32(_mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)), plain_dword_order());
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs_a), _mm256_castsi256_si128(nib));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs_b), _mm256_extracti128_si256(nib, 1));
}

// The Q5 qh word: bit j = bit 4 of level j (levels <= 127: the shift stays inside each byte).
static inline uint32_t plain_fifth_bits(__m256i q) {
    return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(q, 3)));
}

// An octet's per-block scale fields and level parameters (plain_block_levels_packed's m and nid), or
// ok = false where the transposed path must run.
struct PlainOctetStats {
    alignas(32) float m[8];
    alignas(32) float nid[8];
    alignas(32) uint32_t head[8];  // d | m << 16 (offset formats) or d, as the block's first bytes
    bool ok;
};

// The min/max reductions and scales of the 8 blocks at xs (8 * QK floats).
template <class Rule>
static inline void plain_octet_stats(const float* xs, PlainOctetStats& st) {
    // two octets ahead of the stats (three of the levels): the hardware prefetcher alone falls
    // behind when the row streams from L3
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
        st.ok = !_mm256_movemask_ps(_mm256_or_ps(_mm256_cmp_ps(mn, zero, _CMP_EQ_OQ), _mm256_cmp_ps(mx, zero, _CMP_EQ_OQ)));
        d = _mm256_div_ps(_mm256_sub_ps(mx, mn), _mm256_set1_ps(Rule::div));
    } else {
        // the signed extreme: max where max > -min; a tie (zero blocks too) needs the first element
        const __m256 neg_mn = _mm256_xor_ps(mn, _mm256_set1_ps(-0.0f));
        st.ok = !_mm256_movemask_ps(_mm256_cmp_ps(mx, neg_mn, _CMP_EQ_OQ));
        d = _mm256_div_ps(_mm256_blendv_ps(mn, mx, _mm256_cmp_ps(mx, neg_mn, _CMP_GT_OQ)), _mm256_set1_ps(Rule::div));
    }
    const __m256 id = recip_or_zero(d);
    const __m128i d16 = fp16x8v(d);
    if constexpr (Rule::offset) {
        const __m128i m16 = fp16x8v(mn);
        _mm_store_si128(reinterpret_cast<__m128i*>(st.head), _mm_unpacklo_epi16(d16, m16));
        _mm_store_si128(reinterpret_cast<__m128i*>(st.head + 4), _mm_unpackhi_epi16(d16, m16));
    } else {
        _mm256_store_si256(reinterpret_cast<__m256i*>(st.head), _mm256_cvtepu16_epi32(d16));
    }
    _mm256_store_ps(st.m, mn);
    _mm256_store_ps(st.nid, Rule::offset ? _mm256_xor_ps(id, _mm256_set1_ps(-0.0f)) : id);
}

// Writes the 8 blocks at xs into b[0..7] from their stats; false where a level is out of range
// (the transposed path then rewrites all eight). Every NaN or Inf input lands there: its level is
// NaN * anything or Inf * (0, NaN or a finite nonzero), which truncates to INT32_MIN.
template <class Block>
static inline bool plain_octet_levels(const float* xs, const PlainOctetStats& st, Block* b) {
    using Rule = PlainRule<Block>;
    if constexpr (Rule::offset) static_assert(offsetof(Block, m) == 2, "d, m lead the block");
    __m256i any = _mm256_setzero_si256();
    const auto levels = [&](int g) {
        std::memcpy(&b[g], st.head + g, Rule::offset ? 4 : 2);
        const __m256i q = plain_block_levels_packed<Rule>(xs + g * QK, _mm256_set1_ps(st.m[g]), _mm256_set1_ps(st.nid[g]));
        any = _mm256_or_si256(any, q);
        return q;
    };
    for (int g = 0; g < 8; g += 2) {
        if constexpr (Rule::q5) {
            for (int h = g; h < g + 2; ++h) {
                const __m256i q = plain_clamp<Rule>(_mm256_permutevar8x32_epi32(levels(h), plain_dword_order()));
                const uint32_t qh = plain_fifth_bits(q);
                std::memcpy(b[h].qh, &qh, 4);  // little-endian word, as ref.cpp writes it
                store_q5_nibbles(q, b[h].qs);
            }
        } else {
            const __m256i qa = levels(g), qb = levels(g + 1);
            store_plain_nibbles_pair<Rule>(qa, qb, b[g].qs, b[g + 1].qs);
        }
    }
    return _mm256_testz_si256(any, _mm256_set1_epi8(static_cast<char>(0xc0)));  // every level < 64
}

// The fast path as for_each_block_octet's `fast`, software-pipelined: the next octet's stats (a
// reduction, then two dependent divisions) are computed before this octet's levels, so their
// latency hides behind independent work instead of stalling every octet.
template <class Block>
struct PlainOctetEncoder {
    Block* out;
    PlainOctetStats st[2];
    int cur = 0;
    int64_t ready = -1;  // the octet whose stats st[cur] holds
    explicit PlainOctetEncoder(Block* row) : out(row) {}
    bool operator()(const float* xs, int64_t b0, bool next_full) {
        using Rule = PlainRule<Block>;
        if (ready != b0) plain_octet_stats<Rule>(xs, st[cur]);
        if (next_full) plain_octet_stats<Rule>(xs + 8 * QK, st[cur ^ 1]);
        const bool ok = st[cur].ok && plain_octet_levels(xs, st[cur], out + b0);
        ready = next_full ? b0 + 8 : -1;
        cur ^= 1;
        return ok;
    }
};

}  // namespace dgk::avx2
