// IQ4_NL AVX2 kernels: same arithmetic as ref.cpp, vectorized over the weights of a block
// (decode) and over the 16 candidate scales of the search (encode, see avx2_iq4.h).
#include <immintrin.h>

#include "../common/avx2_iq4.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq4_nl_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_iq4_nl*>(src);
    const __m128i levels = iq4_levels_i8();
    for (int64_t i = 0; i < nblocks; ++i, dst += QK)
        iq4_decode_group<Store>(blk[i].qs, _mm256_set1_ps(fp16_to_f32(blk[i].d)), levels, dst);
}
DGK_AVX2_DECODE_PAIR(decode_iq4_nl)

void encode_iq4_nl(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blk = static_cast<block_iq4_nl*>(dst);
    const Iq4Tables t = Iq4Tables::make();
    alignas(32) float w[QK];
    for (int64_t i = 0; i < n / QK; ++i, x += QK) {
        const float* qw = imatrix ? imatrix + i * QK : nullptr;
        group_weights32(x, qw, qw ? iq4_sigma2(x, QK) : 0.f, w);
        const float d = iq4_group_scale(x, w, t);
        blk[i].d = f32_to_fp16(d);
        iq4_levels_pack(x, d ? 1 / d : 0, t, blk[i].qs);
    }
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq4_nl = {FormatId::IQ4_NL, avx2::decode_iq4_nl, avx2::encode_iq4_nl, nullptr,
                                               avx2::decode_iq4_nl_stream};
}
