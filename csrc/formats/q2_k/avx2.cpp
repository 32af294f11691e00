// Q2_K AVX2 kernels (layout and reference: ref.cpp). Decode: each sub-block's four possible values
// dl*q - ml (q = 0..3) are computed once, with the scalar operations, and looked up per weight.
// Encode: the 16 sub-block searches of a super-block run as two sets of 8, one sub-block per lane
// (common/avx2_search.h); the per-super-block steps on 16 values stay scalar, as in ref.cpp.
#include <immintrin.h>

#include "../common/avx2_kquant.h"
#include "../common/kquant_scale_min.h"
#include "../common/avx2_search.h"
#include "../common/scale_search.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q2_k_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q2_k*>(src);
    const __m256 q0123 = _mm256_setr_ps(0, 1, 2, 3, 0, 1, 2, 3);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q2_k& b = blocks[ib];
        const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d));
        const __m256 dmin = _mm256_set1_ps(fp16_to_f32(b.dmin));
        float* y = dst + ib * 256;
        // table[s] lane k (and k+4) = dl*k - ml of sub-block s
        __m256 table[16];
        for (int half = 0; half < 2; ++half) {
            const __m256i sc = kq::load_u8x8(b.scales + 8 * half);
            const __m256 dl = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(sc, _mm256_set1_epi32(0xF))));
            const __m256 ml = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_srli_epi32(sc, 4)));
            for (int s = 0; s < 8; ++s) {
                const __m256i lane = _mm256_set1_epi32(s);
                table[8 * half + s] = _mm256_sub_ps(_mm256_mul_ps(_mm256_permutevar8x32_ps(dl, lane), q0123),
                                                    _mm256_permutevar8x32_ps(ml, lane));
            }
        }
        // qs byte 32h + l holds elements 128h + 32k + l at bits 2k; permutevar reads bits 0-1 only.
        // Stores in address order: streaming stores fill each line before the next one opens.
        for (int h = 0; h < 2; ++h) {
            __m256i q[4];
            for (int g = 0; g < 4; ++g) q[g] = kq::load_u8x8(b.qs + 32 * h + 8 * g);
            for (int k = 0; k < 4; ++k) {
                for (int g = 0; g < 4; ++g) {
                    const __m256i idx = _mm256_srli_epi32(q[g], 2 * k);
                    const __m256 t = table[8 * h + 2 * k + (g >> 1)];
                    Store::put(y + 128 * h + 32 * k + 8 * g, _mm256_permutevar_ps(t, idx));
                }
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_q2_k)

namespace {

// Sub-blocks 8h..8h+7 of a super-block in lane layout (element i of sub-block 8h+j: x[h][i] lane j).
struct Lanes {
    __m256 x[2][16], w[2][16], L[2][16];
    void load(const float* xb) {
        for (int h = 0; h < 2; ++h) kq::load_lanes(xb + 128 * h, 16, 16, x[h]);
    }
    // Both sets at once (interleaved); scales/mins of sub-block j to scales[j], mins[j].
    void search(const kq::AsymSearch& p, float* scales, float* mins) {
        __m256 sc[2], mn[2];
        kq::asym_search<16, 2>(&x[0][0], &w[0][0], p, &L[0][0], sc, mn);
        for (int h = 0; h < 2; ++h) {
            _mm256_storeu_ps(scales + 8 * h, sc[h]);
            _mm256_storeu_ps(mins + 8 * h, mn[h]);
        }
    }
};

// Final pass: requantize with the stored factors (sub-blocks with a zero scale keep the search's
// levels), then the 2-bit packing.
void requantize_and_pack(Lanes& t, block_q2_k& b) {
    const __m256 d = _mm256_set1_ps(fp16_to_f32(b.d)), dmin = _mm256_set1_ps(fp16_to_f32(b.dmin));
    alignas(32) uint8_t q[256];
    for (int h = 0; h < 2; ++h) {
        const __m256i sc = kq::load_u8x8(b.scales + 8 * h);
        const __m256 dl = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_and_si256(sc, _mm256_set1_epi32(0xF))));
        const __m256 ml = _mm256_mul_ps(dmin, _mm256_cvtepi32_ps(_mm256_srli_epi32(sc, 4)));
        kq::requant_asym<16>(t.x[h], dl, ml, 3, t.L[h]);
        kq::store_lanes_u8(t.L[h], 16, q + 128 * h, 16);
    }
    kq::pack_2bit(q, b.qs);
}

void encode_block_plain(const float* xb, block_q2_k& b) {
    Lanes t;
    t.load(xb);
    for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < 16; ++i) t.w[h][i] = kq::abs8(t.x[h][i]);
    }
    float scales[16], mins[16];
    t.search({3, -0.5f, 0.1f, 15, true, false}, scales, mins);
    dgk::kq::quantize_scale_min4_q2k(scales, mins, b);
    requantize_and_pack(t, b);
}

void encode_block_imatrix(const float* xb, const float* qwb, float sum_x2, block_q2_k& b) {
    Lanes t;
    t.load(xb);
    const __m256 sigma2 = _mm256_set1_ps(sum_x2 / 256.f);
    float sw[16], scales[16], mins[16];
    for (int h = 0; h < 2; ++h) {
        __m256* w = t.w[h];
        const __m256* x = t.x[h];
        kq::load_lanes(qwb + 128 * h, 16, 16, w);
        kq::imatrix_weights<16>(x, sigma2, w);
        _mm256_storeu_ps(sw + 8 * h, kq::lane_sum<16>(w));
    }
    t.search({3, -0.9f, 0.05f, 36, false, true}, scales, mins);
    uint8_t Ls[16], Lm[16];
    const float dm = ref::make_qp_quants(16, 15, scales, Ls, sw);
    const float mm = ref::make_qp_quants(16, 15, mins, Lm, sw);
    b.d = f32_to_fp16(dm);
    b.dmin = f32_to_fp16(mm);
    for (int j = 0; j < 16; ++j) b.scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
    requantize_and_pack(t, b);
}

}  // namespace

void encode_q2_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q2_k*>(dst);
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
extern const IsaKernels avx2_kernels_q2_k = {FormatId::Q2_K, avx2::decode_q2_k, avx2::encode_q2_k, nullptr,
                                             avx2::decode_q2_k_stream};
}  // namespace dgk
