// Q6_K AVX2 kernels (layout and reference: ref.cpp). Decode keeps the scalar (d*sc)*q order.
// Encode: the 16 sub-block searches of a super-block run as two sets of 8, one sub-block per lane
// (common/avx2_search.h); the per-super-block steps on 16 values stay scalar, as in ref.cpp.
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "../common/avx2_search.h"
#include "../common/avx2_stream.h"
#include "encode_block.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q6_k_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q6_k*>(src);
    const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30), bias = _mm256_set1_epi8(32);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q6_k& b = blocks[ib];
        const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
        float* y = dst + ib * 256;
        // ds[s] = d * scale of sub-block s, as the scalar code's first product
        __m256 ds[2];
        for (int k = 0; k < 2; ++k) {
            const __m128i sc = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.scales + 8 * k));
            ds[k] = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
        }
        for (int h = 0; h < 2; ++h) {
            const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
            const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
            // 32 quants each for elements 128h + 32k + l; the 16-bit shifts only move bits within a
            // byte after masking
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
            for (int k = 0; k < 4; ++k) {
                const __m256i v = _mm256_sub_epi8(q[k], bias);  // -32..31
                const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
                const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
                for (int g = 0; g < 4; ++g) {
                    // element 128h + 32k + 8g.. lies in sub-block 8h + 2k + g/2
                    const int s = 8 * h + 2 * k + (g >> 1);
                    const __m256 f = _mm256_permutevar8x32_ps(ds[s >> 3], _mm256_set1_epi32(s & 7));
                    const __m256 qf = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(part[g]));
                    Store::put(y + 128 * h + 32 * k + 8 * g, _mm256_mul_ps(f, qf));
                }
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_q6_k)

namespace {

// Levels (0..63, element e of the super-block in q[e]) into ql/qh: per 128-weight half h,
// ql[64h + l] holds elements l (low nibble) and l+64 (high), ql[64h + 32 + l] elements l+32 and
// l+96, qh[32h + l] the top 2 bits of all four at bits 0, 2, 4, 6.
void pack_levels(const uint8_t* q, block_q6_k& b) {
    const __m256i low4 = _mm256_set1_epi8(0x0F), two = _mm256_set1_epi8(0x03);
    for (int h = 0; h < 2; ++h) {
        __m256i v[4];
        for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 128 * h + 32 * k));
        // masked before every 16-bit shift, so no bit crosses into the neighbouring byte
        auto nib = [&](__m256i a) { return _mm256_and_si256(a, low4); };
        auto top = [&](__m256i a) { return _mm256_and_si256(_mm256_srli_epi16(a, 4), two); };
        const __m256i ql0 = _mm256_or_si256(nib(v[0]), _mm256_slli_epi16(nib(v[2]), 4));
        const __m256i ql1 = _mm256_or_si256(nib(v[1]), _mm256_slli_epi16(nib(v[3]), 4));
        const __m256i qh01 = _mm256_or_si256(top(v[0]), _mm256_slli_epi16(top(v[1]), 2));
        const __m256i qh23 = _mm256_or_si256(_mm256_slli_epi16(top(v[2]), 4), _mm256_slli_epi16(top(v[3]), 6));
        const __m256i qh = _mm256_or_si256(qh01, qh23);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.ql + 64 * h), ql0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.ql + 64 * h + 32), ql1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qh + 32 * h), qh);
    }
}

// One super-block; qw (the imatrix) replaces the x*x weights when given.
void encode_block(const float* xb, const float* qw, block_q6_k& b) {
    __m256 x[2][16], w[2][16], L[2][16];
    for (int h = 0; h < 2; ++h) {
        kq::load_lanes(xb + 128 * h, 16, 16, x[h]);
        if (qw) {
            kq::load_lanes(qw + 128 * h, 16, 16, w[h]);
        } else {
            for (int i = 0; i < 16; ++i) w[h][i] = _mm256_mul_ps(x[h][i], x[h][i]);
        }
    }
    __m256 sc[2];
    kq::qx_search<16, 2>(&x[0][0], &w[0][0], 32, &L[0][0], sc);
    float scales[16];
    _mm256_storeu_ps(scales, sc[0]);
    _mm256_storeu_ps(scales + 8, sc[1]);

    if (!ref::set_q6_k_scales(scales, b)) return;  // an all-zero block

    const __m256 d_all = _mm256_set1_ps(fp16_to_f32(b.d));
    alignas(32) uint8_t q[256];
    for (int h = 0; h < 2; ++h) {
        const __m128i sc = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.scales + 8 * h));
        const __m256 d = _mm256_mul_ps(d_all, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
        kq::requant_sym<16>(x[h], d, 32, L[h]);
        kq::store_lanes_u8(L[h], 16, q + 128 * h, 16);
    }
    pack_levels(q, b);
}

}  // namespace

void encode_q6_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q6_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib) {
        encode_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q6_k = {FormatId::Q6_K, avx2::decode_q6_k, avx2::encode_q6_k, nullptr,
                                             avx2::decode_q6_k_stream};
}  // namespace dgk
