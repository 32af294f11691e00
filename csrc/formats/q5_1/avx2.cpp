// Q5_1 with AVX2: the bytes of ref.cpp for every input (structure as q4_1/avx2.cpp).
#include <cstring>

#include "../common/avx2_legacy.h"
#include "../common/avx2_legacy_plain.h"
#include "../common/avx2_scale_search.h"
#include "../common/avx2_stream.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q5_1_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_1*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const __m256i q5 = _mm256_or_si256(unpack_nibbles32(blocks[b].qs), unpack_fifth_bits32(blocks[b].qh));
        store_scaled_offset32<Store>(q5, fp16_scale(blocks[b].d), fp16_scale(blocks[b].m), dst);
    }
}
DGK_AVX2_DECODE_PAIR(decode_q5_1)

int64_t encode_q5_1(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q5_1*>(dst);
    // plain: most octets take the natural-layout fast path (avx2_legacy_plain.h)
    PlainOctetEncoder<block_q5_1> fast(out);
    const bool finite = for_each_block_octet(x, imatrix, n, [out](const __m256* xt, const __m256* wt, int64_t b0, int cnt) {
        __m256i qt[QK];
        __m256 d, m;
        if (wt) {
            // weighted (scale, min) search; it reports -min, stored negated back
            __m256 neg_min;
            d = qkx_search8(QK, 31, xt, wt, qt, &neg_min, -0.9f, 0.05f, 36, false, true);
            m = _mm256_xor_ps(neg_min, _mm256_set1_ps(-0.0f));
        } else {
            // d = (max - min) / 31, q = (uint8)((x - min)/d + 0.5) unclamped, as ref.cpp
            __m256 mx;
            block_min_max_t(xt, &m, &mx);
            d = _mm256_div_ps(_mm256_sub_ps(mx, m), _mm256_set1_ps(31.0f));
            const __m256 id = recip_or_zero(d), half = _mm256_set1_ps(0.5f);
#pragma GCC unroll 8
            for (int i = 0; i < QK; ++i)
                qt[i] = cvtt_low_u8(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(xt[i], m), id), half));
        }
        OctetBlocks<block_q5_1> o(out, b0, cnt);
        uint16_t d16[8], m16[8];
        uint8_t* qs[8];
        alignas(32) uint32_t qh[8];
        fp16x8(d, d16);
        fp16x8(m, m16);
        _mm256_store_si256(reinterpret_cast<__m256i*>(qh), fifth_bits_t(qt));
        for (int g = 0; g < 8; ++g) {
            o.b[g].d = d16[g];
            o.b[g].m = m16[g];
            std::memcpy(o.b[g].qh, &qh[g], 4);  // little-endian word, as ref.cpp writes it
            qs[g] = o.b[g].qs;
        }
        store_nibbles_t(qt, NibblePack::Q5, qs);
        o.flush();
    }, fast);
    return finite ? -1 : find_nonfinite(x, n);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q5_1 = {FormatId::Q5_1, avx2::decode_q5_1,
                                             avx2::encode_unchecked<avx2::encode_q5_1>, avx2::encode_q5_1,
                                             avx2::decode_q5_1_stream};
}
