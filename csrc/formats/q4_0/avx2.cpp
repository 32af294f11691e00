// Q4_0 with AVX2: the bytes of ref.cpp for every input. Decoding takes one block at a time;
// encoding eight (one per lane, see avx2_legacy.h), with or without the imatrix search.
#include "../common/avx2_legacy.h"
#include "../common/avx2_legacy_plain.h"
#include "../common/avx2_scale_search.h"
#include "../common/avx2_stream.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q4_0_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK) {
        const __m256i q = _mm256_sub_epi8(unpack_nibbles32(blocks[b].qs), _mm256_set1_epi8(8));
        store_scaled32<Store>(q, fp16_scale(blocks[b].d), dst);
    }
}
DGK_AVX2_DECODE_PAIR(decode_q4_0)

int64_t encode_q4_0(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* out = static_cast<block_q4_0*>(dst);
    // plain: most octets take the natural-layout fast path (avx2_legacy_plain.h)
    PlainOctetEncoder<block_q4_0> fast(out);
    const bool finite = for_each_block_octet(x, imatrix, n, [out](const __m256* xt, const __m256* wt, int64_t b0, int cnt) {
        __m256i qt[QK];
        __m256 d;
        bool clean = true;  // levels known to be 0..15 (the imatrix search's are)
        if (wt) {
            d = qx_search8(QK, 8, xt, wt, qt);  // weighted symmetric search, L = level + 8
        } else {
            // d = max / -8 (signed extreme), q = MIN(15, (int8)(x/d + 8.5)), as ref.cpp
            d = _mm256_div_ps(block_signed_absmax_t(xt), _mm256_set1_ps(-8.0f));
            const __m256 id = recip_or_zero(d), bias = _mm256_set1_ps(8.5f);
            clean = clamped_levels_t([&](int i) { return _mm256_add_ps(_mm256_mul_ps(xt[i], id), bias); }, 15, qt);
        }
        OctetBlocks<block_q4_0> o(out, b0, cnt);
        uint16_t d16[8];
        uint8_t* qs[8];
        fp16x8(d, d16);
        for (int g = 0; g < 8; ++g) {
            o.b[g].d = d16[g];
            qs[g] = o.b[g].qs;
        }
        store_nibbles_t(qt, clean ? NibblePack::Clean : NibblePack::Q4, qs);
        o.flush();
    }, fast);
    return finite ? -1 : find_nonfinite(x, n);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q4_0 = {FormatId::Q4_0, avx2::decode_q4_0,
                                             avx2::encode_unchecked<avx2::encode_q4_0>, avx2::encode_q4_0,
                                             avx2::decode_q4_0_stream};
}
