// AVX2 pieces of the 32-weight block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), lane-exact
// counterparts of legacy_pack.h. Decoding works one block at a time; encoding eight blocks at a
// time, transposed (entry i holds element i of the 8 blocks, one block per lane), so the block
// statistics, scales and searches are plain vertical operations, each lane doing what the scalar
// code does for its block. AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "avx2_math.h"
#include "dgk/blocks.h"
#include "dgk/registry.h"
#include "dgk/scan.h"
#include "legacy_pack.h"
#include "avx2_stream.h"

namespace dgk::avx2 {

// ---- decoding, one block --------------------------------------------------------------------

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
template <class Store = PlainStore>
static inline void store_scaled32(__m256i q, float d, float* dst) {
    const __m256 vd = _mm256_set1_ps(d);
    for (int k = 0; k < 4; ++k) Store::put(dst + 8 * k, _mm256_mul_ps(s8_group_to_f32(q, k), vd));
}

// When q*d and m are both NaN, the hardware returns the first operand's NaN and the compiler may
// order the operands either way; the product's NaN is chosen explicitly (ggml's build does that).
template <class Store = PlainStore>
static inline void store_scaled_offset32(__m256i q, float d, float m, float* dst) {
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    if (m == m) {  // only one operand can be NaN: any operand order gives the same bits
        for (int k = 0; k < 4; ++k) Store::put(dst + 8 * k, _mm256_add_ps(_mm256_mul_ps(s8_group_to_f32(q, k), vd), vm));
        return;
    }
    for (int k = 0; k < 4; ++k) {
        const __m256 p = _mm256_mul_ps(s8_group_to_f32(q, k), vd);
        Store::put(dst + 8 * k, _mm256_blendv_ps(_mm256_add_ps(p, vm), p, _mm256_cmp_ps(p, p, _CMP_UNORD_Q)));
    }
}

// ---- encoding, eight blocks transposed --------------------------------------------------------

// Runs body(xt, wt, b0, cnt) on blocks b0..b0+cnt-1 of the row, cnt <= 8, transposed (xt[i] lane g
// = element i of block b0+g). With an imatrix, wt holds ggml's weights qw*sqrt(sigma2 + x^2), else
// it is null. A last partial octet is padded with zero blocks, whose results the body drops.
// Returns whether every value of the row was finite: the check rides on the loads the encoder makes
// anyway (x - x is 0 unless x is NaN or Inf), so no separate pass over the row is needed.
// Without an imatrix, fast(xs, b0, next_full) may take a whole octet first (avx2_legacy_plain.h):
// it returns true when it wrote blocks b0..b0+7, which it does only for finite values; next_full
// says whether the octet after it is whole (so it may be read ahead).
struct NoFastPath {
    bool operator()(const float*, int64_t, bool) const { return false; }
};
template <class Body, class Fast = NoFastPath>
static inline bool for_each_block_octet(const float* x, const float* qw, int64_t n, Body body, Fast&& fast = NoFastPath{}) {
    const int64_t nb = n / QK;
    // sigma2 is a sequential sum over the row, so it stays scalar
    const __m256 s2 = _mm256_set1_ps(qw ? ref::row_sigma2(x, n) : 0.0f);
    alignas(32) float pad_x[8 * QK], pad_w[8 * QK];
    __m256 xt[QK], wt[QK];
    __m256 nonfinite = _mm256_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int cnt = nb - b0 < 8 ? static_cast<int>(nb - b0) : 8;
        const float* xs = x + b0 * QK;
        const float* ws = qw ? qw + b0 * QK : nullptr;
        if (cnt == 8 && !ws && fast(xs, b0, b0 + 16 <= nb)) continue;
        if (cnt < 8) {
            for (int j = 0; j < 8 * QK; ++j) pad_x[j] = pad_w[j] = 0.0f;
            __builtin_memcpy(pad_x, xs, static_cast<size_t>(cnt) * QK * sizeof(float));
            if (ws) __builtin_memcpy(pad_w, ws, static_cast<size_t>(cnt) * QK * sizeof(float));
            xs = pad_x;
            ws = ws ? pad_w : nullptr;
        }
        for (int c = 0; c < QK / 8; ++c) {
            for (int g = 0; g < 8; ++g) {
                xt[8 * c + g] = _mm256_loadu_ps(xs + g * QK + 8 * c);
                nonfinite = _mm256_or_ps(nonfinite, _mm256_sub_ps(xt[8 * c + g], xt[8 * c + g]));
            }
            transpose8x8_ps(xt + 8 * c);
        }
        if (ws) {
            for (int c = 0; c < QK / 8; ++c) {
                for (int g = 0; g < 8; ++g) wt[8 * c + g] = _mm256_loadu_ps(ws + g * QK + 8 * c);
                transpose8x8_ps(wt + 8 * c);
            }
            for (int i = 0; i < QK; ++i)
                wt[i] = _mm256_mul_ps(wt[i], _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]))));
        }
        body(xt, ws ? wt : nullptr, b0, cnt);
    }
    const __m256i bits = _mm256_castps_si256(nonfinite);  // all bits: a NaN's sign may be clear
    return _mm256_testz_si256(bits, bits);
}

// The plain EncodeFn of a checked encoder, for callers that validated the row themselves.
template <CheckedEncodeFn Checked>
static void encode_unchecked(const float* x, void* dst, int64_t n, const float* imatrix) {
    Checked(x, dst, n, imatrix);
}

// Where an octet's blocks are written: straight into the row when all eight exist, else into a
// scratch array whose first cnt blocks flush() copies to the row.
template <class Block>
struct OctetBlocks {
    Block* row_part;
    int cnt;
    Block scratch[8];
    Block* b;
    OctetBlocks(Block* row, int64_t b0, int count) : row_part(row + b0), cnt(count), b(count == 8 ? row + b0 : scratch) {}
    void flush() {
        if (b == scratch) __builtin_memcpy(row_part, scratch, static_cast<size_t>(cnt) * sizeof(Block));
    }
};

// Per block, the first element equal to zero (with its sign), +0 if there is none. A scalar
// min (max) scan with strict comparisons that ends at zero ends at exactly that element.
static inline __m256 first_zero_t(const __m256* xt) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 found = zero, res = zero;
    for (int i = 0; i < QK; ++i) {
        const __m256 hit = _mm256_andnot_ps(found, _mm256_cmp_ps(xt[i], zero, _CMP_EQ_OQ));
        res = _mm256_blendv_ps(res, xt[i], hit);
        found = _mm256_or_ps(found, hit);
    }
    return res;
}

// Exact per-block min and max values (lane order is irrelevant for them; signs of zeros are not).
static inline void tree_min_max_t(const __m256* xt, __m256* mn, __m256* mx) {
    __m256 lo[8], hi[8];
    for (int k = 0; k < 8; ++k) {
        lo[k] = _mm256_min_ps(_mm256_min_ps(xt[k], xt[k + 8]), _mm256_min_ps(xt[k + 16], xt[k + 24]));
        hi[k] = _mm256_max_ps(_mm256_max_ps(xt[k], xt[k + 8]), _mm256_max_ps(xt[k + 16], xt[k + 24]));
    }
    *mn = _mm256_min_ps(_mm256_min_ps(_mm256_min_ps(lo[0], lo[1]), _mm256_min_ps(lo[2], lo[3])),
                        _mm256_min_ps(_mm256_min_ps(lo[4], lo[5]), _mm256_min_ps(lo[6], lo[7])));
    *mx = _mm256_max_ps(_mm256_max_ps(_mm256_max_ps(hi[0], hi[1]), _mm256_max_ps(hi[2], hi[3])),
                        _mm256_max_ps(_mm256_max_ps(hi[4], hi[5]), _mm256_max_ps(hi[6], hi[7])));
}

// legacy_pack.h's block_min_max per block. min/max values are exact in any order; only the sign of
// a zero result depends on which element the scalar scan kept (see first_zero_t).
static inline void block_min_max_t(const __m256* xt, __m256* mn, __m256* mx) {
    tree_min_max_t(xt, mn, mx);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 zmin = _mm256_cmp_ps(*mn, zero, _CMP_EQ_OQ), zmax = _mm256_cmp_ps(*mx, zero, _CMP_EQ_OQ);
    if (_mm256_movemask_ps(_mm256_or_ps(zmin, zmax))) {
        const __m256 z = first_zero_t(xt);
        *mn = _mm256_blendv_ps(*mn, z, zmin);
        *mx = _mm256_blendv_ps(*mx, z, zmax);
    }
}

// legacy_pack.h's signed_absmax per block: the first element of largest magnitude, +0.0 for a
// zero block. Only a tie between +a and -a needs the element order.
static inline __m256 block_signed_absmax_t(const __m256* xt) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mn, mx;
    tree_min_max_t(xt, &mn, &mx);
    const __m256 neg_mn = _mm256_xor_ps(mn, sign);
    __m256 res = _mm256_blendv_ps(mn, mx, _mm256_cmp_ps(mx, neg_mn, _CMP_GT_OQ));
    const __m256 tie = _mm256_cmp_ps(mx, neg_mn, _CMP_EQ_OQ);
    if (_mm256_movemask_ps(tie)) {
        const __m256 amax = mx;  // in tied lanes
        __m256 found = _mm256_setzero_ps(), first = _mm256_setzero_ps();
        for (int i = 0; i < QK; ++i) {
            const __m256 hit = _mm256_andnot_ps(found, _mm256_cmp_ps(_mm256_andnot_ps(sign, xt[i]), amax, _CMP_EQ_OQ));
            first = _mm256_blendv_ps(first, xt[i], hit);
            found = _mm256_or_ps(found, hit);
        }
        // a zero block keeps the scan's starting +0.0
        first = _mm256_and_ps(first, _mm256_cmp_ps(amax, _mm256_setzero_ps(), _CMP_GT_OQ));
        res = _mm256_blendv_ps(res, first, tie);
    }
    return res;
}

// Largest magnitude per block (Q8_0's amax: non-negative, so a zero result is +0).
static inline __m256 block_absmax_t(const __m256* xt) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m[8];
    for (int k = 0; k < 8; ++k)
        m[k] = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, xt[k]), _mm256_andnot_ps(sign, xt[k + 8])),
                             _mm256_max_ps(_mm256_andnot_ps(sign, xt[k + 16]), _mm256_andnot_ps(sign, xt[k + 24])));
    return _mm256_max_ps(_mm256_max_ps(_mm256_max_ps(m[0], m[1]), _mm256_max_ps(m[2], m[3])),
                         _mm256_max_ps(_mm256_max_ps(m[4], m[5]), _mm256_max_ps(m[6], m[7])));
}

// `d != 0.0f ? 1.0f / d : 0.0f` (a NaN d counts as nonzero, as in C).
static inline __m256 recip_or_zero(__m256 d) {
    return _mm256_and_ps(_mm256_div_ps(_mm256_set1_ps(1.0f), d), _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ));
}

// ggml's `MIN(hi, (int8_t)v)` kept in a uint8_t, for v = value(i) (float) of element i of 8 blocks.
// When every truncated v is in 0..127 (every block with a normal scale) that is MIN(hi, v);
// otherwise the levels are recomputed with the low byte sign-extended first (x86 truncation gives
// INT32_MIN for NaN and out-of-range values). Returns whether all levels are in 0..hi.
template <class Value>
static inline bool clamped_levels_t(Value value, int hi, __m256i* q) {
    const __m256i vhi = _mm256_set1_epi32(hi);
    __m256i any = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int i = 0; i < QK; ++i) {
        const __m256i v = _mm256_cvttps_epi32(value(i));
        any = _mm256_or_si256(any, v);
        q[i] = _mm256_min_epi32(v, vhi);
    }
    if (_mm256_testz_si256(any, _mm256_set1_epi32(~0x7f))) return true;
    for (int i = 0; i < QK; ++i)
        q[i] = _mm256_and_si256(_mm256_min_epi32(cvtt_low_s8(value(i)), vhi), _mm256_set1_epi32(0xff));
    return false;
}

// How store_nibbles_t forms byte j from the levels q[j] (low nibble) and q[j+16] (high nibble).
enum class NibblePack {
    Clean,  // every level already in 0..15
    Q4,     // (q[j] | q[j+16] << 4) & 0xff: the Q4 packers store q[j] unmasked
    Q5,     // (q[j] & 15) | (q[j+16] & 15) << 4: the Q5 packers, whose bit 4 goes to qh
};

// Nibble bytes of 8 blocks: byte j of block g comes from lane g of q[j] and q[j+16].
static inline void store_nibbles_t(const __m256i* qt, NibblePack how, uint8_t* const dst[8]) {
    const __m256i f = _mm256_set1_epi32(0x0f), ff = _mm256_set1_epi32(0xff);
    __m256i w[4];
    for (int k = 0; k < 4; ++k) {  // bytes 4k..4k+3 of each block as one dword per lane
        __m256i acc = _mm256_setzero_si256();
        for (int t = 0; t < 4; ++t) {
            const int j = 4 * k + t;
            __m256i byte;
            if (how == NibblePack::Clean) {
                byte = _mm256_or_si256(qt[j], _mm256_slli_epi32(qt[j + 16], 4));
            } else if (how == NibblePack::Q4) {
                byte = _mm256_and_si256(_mm256_or_si256(qt[j], _mm256_slli_epi32(qt[j + 16], 4)), ff);
            } else {
                byte = _mm256_or_si256(_mm256_and_si256(qt[j], f), _mm256_slli_epi32(_mm256_and_si256(qt[j + 16], f), 4));
            }
            acc = t ? _mm256_or_si256(acc, _mm256_slli_epi32(byte, 8 * t)) : byte;
        }
        w[k] = acc;
    }
    // 4 x 8 dword transpose: each 128-bit half of c[k] is one block's 16 bytes
    const __m256i a0 = _mm256_unpacklo_epi32(w[0], w[1]), a1 = _mm256_unpackhi_epi32(w[0], w[1]);
    const __m256i b0 = _mm256_unpacklo_epi32(w[2], w[3]), b1 = _mm256_unpackhi_epi32(w[2], w[3]);
    const __m256i c[4] = {_mm256_unpacklo_epi64(a0, b0), _mm256_unpackhi_epi64(a0, b0),
                          _mm256_unpacklo_epi64(a1, b1), _mm256_unpackhi_epi64(a1, b1)};
    for (int k = 0; k < 4; ++k) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[k]), _mm256_castsi256_si128(c[k]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[k + 4]), _mm256_extracti128_si256(c[k], 1));
    }
}

// 32 bytes per block (Q8_0): byte j of block g = low byte of q[j] lane g.
static inline void store_bytes32_t(const __m256i* qt, uint8_t* const dst[8]) {
    const __m256i ff = _mm256_set1_epi32(0xff);
    __m256 w[8];
    for (int k = 0; k < 8; ++k) {  // bytes 4k..4k+3 of each block as one dword per lane
        __m256i acc = _mm256_and_si256(qt[4 * k], ff);
        for (int t = 1; t < 4; ++t) acc = _mm256_or_si256(acc, _mm256_slli_epi32(_mm256_and_si256(qt[4 * k + t], ff), 8 * t));
        w[k] = _mm256_castsi256_ps(acc);
    }
    transpose8x8_ps(w);  // w[g] = the 8 dwords of block g
    for (int g = 0; g < 8; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst[g]), _mm256_castps_si256(w[g]));
}

// The Q5 qh word of 8 blocks: bit j = bit 4 of q[j].
static inline __m256i fifth_bits_t(const __m256i* qt) {
    const __m256i bit4 = _mm256_set1_epi32(0x10);
    __m256i acc = _mm256_setzero_si256();
#pragma GCC unroll 32
    for (int j = 0; j < QK; ++j) {
        const __m256i b = _mm256_and_si256(qt[j], bit4);
        acc = _mm256_or_si256(acc, j >= 4 ? _mm256_slli_epi32(b, j - 4) : _mm256_srli_epi32(b, 4 - j));
    }
    return acc;
}

// fp.h's f32_to_fp16 for 8 values (F16C rounds the same; every NaN becomes sign|0x7E00).
static inline __m128i fp16x8v(__m256 v) {
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    const __m256 canon = _mm256_or_ps(_mm256_and_ps(v, _mm256_set1_ps(-0.0f)),
                                      _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)));
    return _mm256_cvtps_ph(_mm256_blendv_ps(v, canon, nan), _MM_FROUND_TO_NEAREST_INT);
}
static inline void fp16x8(__m256 v, uint16_t out[8]) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), fp16x8v(v));
}

}  // namespace dgk::avx2
