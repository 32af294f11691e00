// Q5_K AVX2 kernels (layout and reference: ref.cpp). Decode keeps the scalar (d*sc)*q - (dmin*m).
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

namespace {

// Bit `from` of every byte moved to bit 4 (other bits: garbage, to be masked).
inline __m256i bit_to_4(__m256i v, int from) {
    return from <= 4 ? _mm256_slli_epi16(v, 4 - from) : _mm256_srli_epi16(v, from - 4);
}

// Final pass: requantize with the stored scales (unpacked from the bytes, as ref.cpp does), then
// split each level into its low nibble (qs, as Q4_K) and its 5th bit (qh).
void requantize_and_pack(const __m256* x, __m256* L, block_q5_k& b) {
    __m256i sc, m;
    kq::scale_min6_x8(b.scales, &sc, &m);
    const __m256 d = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.d)), _mm256_cvtepi32_ps(sc));
    const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.dmin)), _mm256_cvtepi32_ps(m));
    kq::requant_asym<32>(x, d, dm, 31, L);
    alignas(32) uint8_t q[256];
    kq::store_lanes_u8(L, 32, q, 32);
    const __m256i nibble = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    __m256i qh = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
        const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 64 * c));
        const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 64 * c + 32));
        // bytes < 32: after masking, the 16-bit shifts below never cross a byte
        const __m256i hi4 = _mm256_slli_epi16(_mm256_and_si256(hi, nibble), 4);
        const __m256i packed = _mm256_or_si256(_mm256_and_si256(lo, nibble), hi4);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qs + 32 * c), packed);
        const __m256i hb_lo = _mm256_srli_epi16(_mm256_and_si256(lo, bit4), 4);  // 0 or 1
        const __m256i hb_hi = _mm256_srli_epi16(_mm256_and_si256(hi, bit4), 4);
        qh = _mm256_or_si256(qh, _mm256_slli_epi16(_mm256_or_si256(hb_lo, _mm256_slli_epi16(hb_hi, 1)), 2 * c));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.qh), qh);
}

void encode_block_plain(const float* xb, block_q5_k& b) {
    __m256 x[32], w[32], L[32];
    kq::load_lanes(xb, 32, 32, x);
    __m256 sum_x2 = _mm256_setzero_ps();
    for (int i = 0; i < 32; ++i) sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(x[i], x[i]));
    const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.f)));
    for (int i = 0; i < 32; ++i) w[i] = _mm256_add_ps(av_x, kq::abs8(x[i]));
    __m256 the_min;
    __m256 scale;
    kq::asym_search<32, 1>(x, w, {31, -0.5f, 0.1f, 15, false, false}, L, &scale, &the_min);
    float scales[8], mins[8];
    _mm256_storeu_ps(scales, scale);
    _mm256_storeu_ps(mins, the_min);

    dgk::kq::quantize_scale_min_plain(scales, mins, b);
    requantize_and_pack(x, L, b);
}

void encode_block_imatrix(const float* xb, const float* qwb, float sum_x2, block_q5_k& b) {
    __m256 x[32], w[32], L[32];
    kq::load_lanes(xb, 32, 32, x);
    kq::load_lanes(qwb, 32, 32, w);
    const __m256 sigma2 = _mm256_set1_ps(2 * sum_x2 / 256.f);
    kq::imatrix_weights<32>(x, sigma2, w);
    float sw[8], scales[8], mins[8];
    _mm256_storeu_ps(sw, kq::lane_sum<32>(w));
    __m256 the_min;
    __m256 scale;
    kq::asym_search<32, 1>(x, w, {31, -0.9f, 0.05f, 36, false, true}, L, &scale, &the_min);
    _mm256_storeu_ps(scales, scale);
    _mm256_storeu_ps(mins, the_min);

    dgk::kq::quantize_scale_min_imatrix(scales, mins, sw, true, b);
    requantize_and_pack(x, L, b);
}

}  // namespace

template <class Store>
static void decode_q5_k_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_k*>(src);
    const __m256i nibble = _mm256_set1_epi8(0x0F), bit4 = _mm256_set1_epi8(0x10);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q5_k& b = blocks[ib];
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
        __m256i sc, m;
        kq::scale_min6_x8(b.scales, &sc, &m);
        const __m256 dl = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.d)), _mm256_cvtepi32_ps(sc));
        const __m256 ml = _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(b.dmin)), _mm256_cvtepi32_ps(m));
        float* y = dst + ib * 256;
        for (int c = 0; c < 4; ++c) {
            const __m256 d1 = kq::lane(dl, 2 * c), m1 = kq::lane(ml, 2 * c);
            const __m256 d2 = kq::lane(dl, 2 * c + 1), m2 = kq::lane(ml, 2 * c + 1);
            // bit 2c (low nibbles) and 2c+1 (high nibbles) of qh[l] become the value 16; masks keep
            // the 16-bit shifts inside their bytes
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
            const __m256i h_lo = _mm256_and_si256(bit_to_4(qh, 2 * c), bit4);
            const __m256i h_hi = _mm256_and_si256(bit_to_4(qh, 2 * c + 1), bit4);
            kq::store_affine32<Store>(_mm256_or_si256(_mm256_and_si256(q, nibble), h_lo), d1, m1, y + 64 * c);
            kq::store_affine32<Store>(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), nibble), h_hi), d2, m2,
                               y + 64 * c + 32);
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_q5_k)

void encode_q5_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q5_k*>(dst);
    const int64_t nsb = n / 256;
    if (!imatrix) {
        for (int64_t ib = 0; ib < nsb; ++ib) encode_block_plain(x + 256 * ib, blocks[ib]);
        return;
    }
    kq::for_each_sumsq_chunk(x, nsb, [&](int64_t c0, int64_t nc, const float* sumsq) {
        for (int64_t k = 0; k < nc; ++k) {
            const int64_t ib = c0 + k;
            encode_block_imatrix(x + 256 * ib, imatrix + 256 * ib, sumsq[k], blocks[ib]);
        }
    });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q5_k = {FormatId::Q5_K, avx2::decode_q5_k, avx2::encode_q5_k, nullptr,
                                             avx2::decode_q5_k_stream};
}  // namespace dgk
