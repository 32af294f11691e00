// Q8_0 with AVX2: the bytes of ref.cpp for every input. Decoding takes one block at a time;
// encoding eight (one per lane, see avx2_legacy.h). The imatrix is ignored, as by ggml.
#include "../common/avx2_legacy.h"
#include "../common/avx2_stream.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_q8_0_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q8_0*>(src);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK)
        store_scaled32<Store>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[b].qs)), fp16_scale(blocks[b].d), dst);
}
DGK_AVX2_DECODE_PAIR(decode_q8_0)

// d = amax / 127, q = roundf(x * (1/d)) (half away from zero), as ref.cpp.
int64_t encode_q8_0(const float* x, void* dst, int64_t n, const float*) {
    auto* out = static_cast<block_q8_0*>(dst);
    const bool finite = for_each_block_octet(x, nullptr, n, [out](const __m256* xt, const __m256*, int64_t b0, int cnt) {
        const __m256 d = _mm256_div_ps(block_absmax_t(xt), _mm256_set1_ps(127.0f));
        const __m256 id = recip_or_zero(d);
        __m256i qt[QK];
#pragma GCC unroll 8
        for (int i = 0; i < QK; ++i) qt[i] = cvtt_low_s8(round_away_ps(_mm256_mul_ps(xt[i], id)));
        OctetBlocks<block_q8_0> o(out, b0, cnt);
        uint16_t d16[8];
        uint8_t* qs[8];
        fp16x8(d, d16);
        for (int g = 0; g < 8; ++g) {
            o.b[g].d = d16[g];
            qs[g] = reinterpret_cast<uint8_t*>(o.b[g].qs);
        }
        store_bytes32_t(qt, qs);
        o.flush();
    });
    return finite ? -1 : find_nonfinite(x, n);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_q8_0 = {FormatId::Q8_0, avx2::decode_q8_0,
                                             avx2::encode_unchecked<avx2::encode_q8_0>, avx2::encode_q8_0,
                                             avx2::decode_q8_0_stream};
}
