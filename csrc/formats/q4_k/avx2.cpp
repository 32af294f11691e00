// Q4_K AVX2 kernels (layout and reference: ref.cpp). Decode keeps the scalar (d*sc)*q - (dmin*m).
// Encode runs the 8 sub-block searches of a super-block in the 8 lanes (common/avx2_search.h);
// the few per-super-block steps on 8 values stay scalar, as in ref.cpp.
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "../common/avx2_search.h"
#include "../common/kquant_scale_min.h"
#include "../common/scale_search.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q4_k_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_k*>(src);
    const __m256i nibble = _mm256_set1_epi32(0xF);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q4_k& b = blocks[ib];
        __m256i sc, m;
        kq::scale_min6_x8(b.scales, &sc, &m);
        const __m256 dl = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.d)), _mm256_cvtepi32_ps(sc));
        const __m256 ml = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.dmin)), _mm256_cvtepi32_ps(m));
        float* y = dst + ib * 256;
        for (int c = 0; c < 4; ++c) {
            const __m256 d1 = kq::lane(dl, 2 * c), m1 = kq::lane(ml, 2 * c);
            const __m256 d2 = kq::lane(dl, 2 * c + 1), m2 = kq::lane(ml, 2 * c + 1);
            for (int g = 0; g < 4; ++g) {
                const __m256i q = kq::load_u8x8(b.qs + 32 * c + 8 * g);
                const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(q, nibble));
                const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(q, 4));
                Store::put(y + 64 * c + 8 * g, _mm256_sub_ps(_mm256_mul_ps(d1, lo), m1));
                Store::put(y + 64 * c + 32 + 8 * g, _mm256_sub_ps(_mm256_mul_ps(d2, hi), m2));
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_q4_k)

namespace {

// Final pass: requantize with the stored scales (unpacked from the bytes, as ref.cpp does), then
// pack sub-blocks 2c (low nibbles) and 2c+1 (high nibbles) into bytes 32c..32c+31.
void requantize_and_pack(const __m256* x, __m256* L, block_q4_k& b) {
    __m256i sc, m;
    kq::scale_min6_x8(b.scales, &sc, &m);
    const __m256 d = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.d)), _mm256_cvtepi32_ps(sc));
    const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.dmin)), _mm256_cvtepi32_ps(m));
    kq::requant_asym<32>(x, d, dm, 15, L);
    alignas(32) uint8_t q[256];
    kq::store_lanes_u8(L, 32, q, 32);
    for (int c = 0; c < 4; ++c) {
        const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 64 * c));
        const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 64 * c + 32));
        // levels are <= 15: the 16-bit shift cannot carry into the neighbouring byte
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + 32 * c), _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4)));
    }
}

// Scale/min quantization of the reference encoder without imatrix, then the final pass.
void finish_plain(const float* scales, const float* mins, const __m256* x, __m256* L, block_q4_k& b) {
    dgk::kq::quantize_scale_min_plain(scales, mins, b);
    requantize_and_pack(x, L, b);
}

// G consecutive super-blocks without imatrix; their searches run interleaved (one trial depends
// on the previous one's outcome, so a single set would leave the core waiting on latencies).
template <int G>
void encode_plain(const float* xb, block_q4_k* b) {
    __m256 x[G][32], w[G][32], L[G][32], scale[G], the_min[G];
    for (int g = 0; g < G; ++g) {
        kq::load_lanes(xb + 256 * g, 32, 32, x[g]);
        // weights: the sub-block's rms plus |x|
        __m256 sum_x2 = _mm256_setzero_ps();
        for (int i = 0; i < 32; ++i) sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(x[g][i], x[g][i]));
        const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.f)));
        for (int i = 0; i < 32; ++i) w[g][i] = _mm256_add_ps(av_x, kq::abs8(x[g][i]));
    }
    kq::asym_search<32, G>(&x[0][0], &w[0][0], {15, -1.f, 0.1f, 20, false, false}, &L[0][0], scale, the_min);
    for (int g = 0; g < G; ++g) {
        float scales[8], mins[8];
        _mm256_storeu_ps(scales, scale[g]);
        _mm256_storeu_ps(mins, the_min[g]);
        finish_plain(scales, mins, x[g], L[g], b[g]);
    }
}

// G consecutive super-blocks with imatrix; sum_x2[g] is super-block g's sum of x*x.
template <int G>
void encode_imatrix(const float* xb, const float* qwb, const float* sum_x2, block_q4_k* b) {
    __m256 x[G][32], w[G][32], L[G][32], scale[G], the_min[G];
    float sw[G][8];
    for (int g = 0; g < G; ++g) {
        kq::load_lanes(xb + 256 * g, 32, 32, x[g]);
        kq::load_lanes(qwb + 256 * g, 32, 32, w[g]);
        const __m256 sigma2 = _mm256_set1_ps(2 * sum_x2[g] / 256.f);
        kq::imatrix_weights<32>(x[g], sigma2, w[g]);
        _mm256_storeu_ps(sw[g], kq::lane_sum<32>(w[g]));
    }
    kq::asym_search<32, G>(&x[0][0], &w[0][0], {15, -0.9f, 0.05f, 36, false, true}, &L[0][0], scale, the_min);
    for (int g = 0; g < G; ++g) {
        float scales[8], mins[8];
        _mm256_storeu_ps(scales, scale[g]);
        _mm256_storeu_ps(mins, the_min[g]);
        dgk::kq::quantize_scale_min_imatrix(scales, mins, sw[g], false, b[g]);  // unclamped, as ref.cpp
        requantize_and_pack(x[g], L[g], b[g]);
    }
}

}  // namespace

void encode_q4_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q4_k*>(dst);
    const int64_t nsb = n / 256;
    if (!imatrix) {
        int64_t ib = 0;
        for (; ib + 2 <= nsb; ib += 2) encode_plain<2>(x + 256 * ib, blocks + ib);
        if (ib < nsb) encode_plain<1>(x + 256 * ib, blocks + ib);
        return;
    }
    kq::for_each_sumsq_chunk(x, nsb, [&](int64_t c0, int64_t nc, const float* sumsq) {
        int64_t k = 0;
        for (; k + 2 <= nc; k += 2) {
            encode_imatrix<2>(x + 256 * (c0 + k), imatrix + 256 * (c0 + k), sumsq + k, blocks + c0 + k);
        }
        if (k < nc) encode_imatrix<1>(x + 256 * (c0 + k), imatrix + 256 * (c0 + k), sumsq + k, blocks + c0 + k);
    });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q4_k = {FormatId::Q4_K, avx2::decode_q4_k, avx2::encode_q4_k, nullptr,
                                             avx2::decode_q4_k_stream};
}  // namespace dgk
