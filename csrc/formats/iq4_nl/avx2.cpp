// IQ4_NL AVX2 kernels: same arithmetic as ref.cpp, vectorized over the weights of a block.
#include <immintrin.h>

#include "../common/avx2_iq4.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_iq4_nl(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_iq4_nl*>(src);
    const __m128i levels = iq4_levels_i8();
    for (int64_t i = 0; i < nblocks; ++i, dst += QK)
        iq4_decode_group(blk[i].qs, _mm256_set1_ps(fp16_to_f32(blk[i].d)), levels, dst);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq4_nl = {FormatId::IQ4_NL, avx2::decode_iq4_nl, nullptr};
}
