// Q3_K AVX2 kernels (layout and reference: ref.cpp). Decode: each sub-block's eight possible values
// dl*v (v = -4..3) are computed once, with the scalar operation, and looked up per weight.
// Encode: sub-block searches run one sub-block per lane (common/avx2_search.h, avx2_search_q3.h),
// for up to 8 super-blocks together; the steps on a super-block's 16 scales stay scalar as in
// ref.cpp, except the imatrix scale search, which runs one super-block per lane.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "../common/avx2_kquant.h"
#include "../common/kquant_scale_min.h"
#include "../common/avx2_search.h"
#include "../common/avx2_search_q3.h"
#include "../common/scale_search.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q3_k_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q3_k*>(src);
    const __m256 levels = _mm256_setr_ps(-4, -3, -2, -1, 0, 1, 2, 3);
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q3_k& b = blocks[ib];
        const __m256 d_all = _mm256_set1_ps(fp16_to_f32(b.d));
        float* y = dst + ib * 256;
        // table[s] lane v + 4 = dl*v of sub-block s, v = -4..3
        __m256 table[16];
        for (int k = 0; k < 2; ++k) {
            const __m256 dl = _mm256_mul_ps(d_all, _mm256_cvtepi32_ps(kq::scale6_q3_x8(b.scales, k)));
            for (int j = 0; j < 8; ++j) table[8 * k + j] = _mm256_mul_ps(kq::lane(dl, j), levels);
        }
        const __m256i hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask));
        for (int h = 0; h < 2; ++h) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * h));
            for (int k = 0; k < 4; ++k) {
                // Element 128h + 32k + l: 2 bits at 2k of qs[32h + l], high bit 4h + k of hmask[l];
                // index v + 4 = low bits | high bit << 2. Masks keep 16-bit shifts inside bytes.
                const int p = 4 * h + k;
                const __m256i hb = p >= 2 ? _mm256_srli_epi16(hm, p - 2) : _mm256_slli_epi16(hm, 2 - p);
                const __m256i idx = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k), three),
                                                    _mm256_and_si256(hb, four));
                const __m128i lo = _mm256_castsi256_si128(idx), hi = _mm256_extracti128_si256(idx, 1);
                const __m128i part[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
                for (int g = 0; g < 4; ++g) {
                    const __m256 t = table[8 * h + 2 * k + (g >> 1)];
                    Store::put(y + 128 * h + 32 * k + 8 * g,
                                     _mm256_permutevar8x32_ps(t, _mm256_cvtepu8_epi32(part[g])));
                }
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_q3_k)

namespace {

// A super-block in lane layout: half h holds sub-blocks 8h..8h+7, x[h][i] lane j = element i of
// sub-block 8h+j, L[h][i] its level.
struct Halves {
    const __m256* x[2];
    __m256* L[2];
};

// Final pass: requantize with the stored scales (levels 0..7; zero-scale sub-blocks keep the
// search's), then 2 low bits to qs and the high bit to hmask (element e: byte e%32, bit e/32).
void requantize_and_pack(const Halves& t, block_q3_k& b) {
    const __m256* const* x = t.x;
    __m256* const* L = t.L;
    const __m256 d_all = _mm256_set1_ps(fp16_to_f32(b.d));
    alignas(32) uint8_t q[256];
    for (int h = 0; h < 2; ++h) {
        const __m256 d = _mm256_mul_ps(d_all, _mm256_cvtepi32_ps(kq::scale6_q3_x8(b.scales, h)));
        kq::requant_sym<16>(x[h], d, 4, L[h]);
        kq::store_lanes_u8(L[h], 16, q + 128 * h, 16);
    }
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    __m256i hmask = _mm256_setzero_si256();
    for (int m = 0; m < 8; ++m) {
        __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32 * m));
        // (v & 4) >> 2 is 0 or 1; moved to bit m it stays inside its byte
        hmask = _mm256_or_si256(hmask, _mm256_slli_epi16(_mm256_srli_epi16(_mm256_and_si256(v, four), 2), m));
        _mm256_store_si256(reinterpret_cast<__m256i*>(q + 32 * m), _mm256_and_si256(v, three));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(b.hmask), hmask);
    kq::pack_2bit(q, b.qs);
}

// Scale quantization of quantize_row_q3_K_ref, then the final pass.
void finish_plain(const float* scales, const Halves& t, block_q3_k& b) {
    dgk::kq::quantize_scales_q3k(scales, b);
    requantize_and_pack(t, b);
}

// Up to 8 consecutive super-blocks without imatrix: their sub-block searches run together.
void encode_plain(const float* xb, block_q3_k* b, int nsb) {
    kq::Q3Set sets[kq::kQ3MaxSets];
    for (int k = 0; k < 2 * nsb; ++k) kq::load_lanes(xb + 128 * k, 16, 16, sets[k].x);
    __m256 sc[kq::kQ3MaxSets];
    kq::q3_search_sets(sets, 2 * nsb, 4, sc);
    for (int g = 0; g < nsb; ++g) {
        float scales[16];
        _mm256_storeu_ps(scales, sc[2 * g]);
        _mm256_storeu_ps(scales + 8, sc[2 * g + 1]);
        finish_plain(scales, {{sets[2 * g].x, sets[2 * g + 1].x}, {sets[2 * g].L, sets[2 * g + 1].L}}, b[g]);
    }
}

// Up to 8 consecutive super-blocks with imatrix (sum_x2[g]: super-block g's sum of x*x). Each
// super-block's 16 scales get a make_qx_quants of their own; those searches run one super-block
// per lane.
void encode_imatrix(const float* xb, const float* qwb, const float* sum_x2, block_q3_k* b, int nsb) {
    __m256 x[8][2][16], L[8][2][16];
    alignas(32) float scales[8][16] = {}, sw[8][16] = {};  // unused lanes: zero scales, ignored
    for (int g = 0; g < nsb; ++g) {
        const __m256 sigma2 = _mm256_set1_ps(2 * sum_x2[g] / 256.f);
        __m256 w[2][16];
        for (int h = 0; h < 2; ++h) {
            kq::load_lanes(xb + 256 * g + 128 * h, 16, 16, x[g][h]);
            kq::load_lanes(qwb + 256 * g + 128 * h, 16, 16, w[h]);
            kq::imatrix_weights<16>(x[g][h], sigma2, w[h]);
            _mm256_storeu_ps(sw[g] + 8 * h, kq::lane_sum<16>(w[h]));
        }
        __m256 sc[2];
        kq::qx_search<16, 2>(&x[g][0][0], &w[0][0], 4, &L[g][0][0], sc);
        _mm256_storeu_ps(scales[g], sc[0]);
        _mm256_storeu_ps(scales[g] + 8, sc[1]);
    }
    // the 16 scales get a symmetric 6-bit quantization of their own (d may be negative)
    __m256 st[16], swt[16], Lst[16];
    kq::load_lanes(&scales[0][0], 16, 16, st);
    kq::load_lanes(&sw[0][0], 16, 16, swt);
    __m256 d;
    kq::qx_search<16, 1>(st, swt, 32, Lst, &d);
    alignas(32) float d_block[8];
    _mm256_store_ps(d_block, d);
    alignas(32) uint8_t Ls[8][16];
    kq::store_lanes_u8(Lst, 16, &Ls[0][0], 16);
    for (int g = 0; g < nsb; ++g) {
        int q[16];
        for (int j = 0; j < 16; ++j) q[j] = Ls[g][j];
        kq::pack_scale6_q3(q, b[g].scales);
        b[g].d = f32_to_fp16(d_block[g]);
        requantize_and_pack({{x[g][0], x[g][1]}, {L[g][0], L[g][1]}}, b[g]);
    }
}

}  // namespace

void encode_q3_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q3_k*>(dst);
    const int64_t nsb = n / 256;
    if (!imatrix) {
        constexpr int64_t kGroup = kq::kQ3MaxSets / 2;
        for (int64_t ib = 0; ib < nsb; ib += kGroup) {
            encode_plain(x + 256 * ib, blocks + ib, (int)(nsb - ib < kGroup ? nsb - ib : kGroup));
        }
        return;
    }
    kq::for_each_sumsq_chunk(x, nsb, [&](int64_t c0, int64_t nc, const float* sumsq) {
        for (int64_t k = 0; k < nc; k += 8) {
            const int64_t ib = c0 + k;
            const int count = (int)(nc - k < 8 ? nc - k : 8);
            encode_imatrix(x + 256 * ib, imatrix + 256 * ib, sumsq + k, blocks + ib, count);
        }
    });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q3_k = {FormatId::Q3_K, avx2::decode_q3_k, avx2::encode_q3_k, nullptr,
                                             avx2::decode_q3_k_stream};
}  // namespace dgk
