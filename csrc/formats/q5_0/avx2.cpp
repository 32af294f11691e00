// Q5_0 with AVX2: the bytes of ref.cpp for every input (structure as q4_0/avx2.cpp).
#include <cstring>

#include "../common/avx2_legacy.h"
#include "../common/avx2_legacy_plain.h"
#include "../common/avx2_scale_search.h"
#include "../common/avx2_stream.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q5_0_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const __m256i q5 = _mm256_or_si256(unpack_nibbles32(blocks[b].qs), unpack_fifth_bits32(blocks[b].qh));
        store_scaled32<Store>(_mm256_sub_epi8(q5, _mm256_set1_epi8(16)), fp16_scale(blocks[b].d), dst);
    }
}
DGK_AVX2_DECODE_PAIR(decode_q5_0)

int64_t encode_q5_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q5_0*>(dst);
    // plain: most octets take the natural-layout fast path (avx2_legacy_plain.h)
    PlainOctetEncoder<block_q5_0> fast(out);
    const bool finite = for_each_block_octet(x, imatrix, n, [out](const __m256* xt, const __m256* wt, int64_t b0, int cnt) {
        __m256i qt[QK];
        __m256 d;
        if (wt) {
            d = qx_search8(QK, 16, xt, wt, qt);  // weighted symmetric search, L = level + 16
        } else {
            // d = max / -16 (signed extreme), q = MIN(31, (int8)(x/d + 16.5)), as ref.cpp
            d = _mm256_div_ps(block_signed_absmax_t(xt), _mm256_set1_ps(-16.0f));
            const __m256 id = recip_or_zero(d), bias = _mm256_set1_ps(16.5f);
            clamped_levels_t([&](int i) { return _mm256_add_ps(_mm256_mul_ps(xt[i], id), bias); }, 31, qt);
        }
        OctetBlocks<block_q5_0> o(out, b0, cnt);
        uint16_t d16[8];
        uint8_t* qs[8];
        alignas(32) uint32_t qh[8];
        fp16x8(d, d16);
        _mm256_store_si256(reinterpret_cast<__m256i*>(qh), fifth_bits_t(qt));
        for (int g = 0; g < 8; ++g) {
            o.b[g].d = d16[g];
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
extern const IsaKernels avx2_kernels_q5_0 = {FormatId::Q5_0, avx2::decode_q5_0,
                                             avx2::encode_unchecked<avx2::encode_q5_0>, avx2::encode_q5_0,
                                             avx2::decode_q5_0_stream};
}
