// IQ1_S AVX2 decode: each lane is the scalar decoder's dl * ((float)v + shift) (the add is exact;
// one rounding in the multiply). Grid values v are -1, 0 or 1, so the three products of a group are
// computed once and each weight picks its own with a lane permute: the int32 of v, taken mod 8, is
// 0, 1 or 7, the lanes where those products sit.
#include "../common/avx2_iq_decode.h"
#include "../common/avx2_stream.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq1_s_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq1_s*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq1_s& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const unsigned h = blk.qh[g];
            const __m256 dl = _mm256_set1_ps(d * (float)(2 * ((h >> 12) & 7u) + 1));
            // +-0.125f built from the bit (a data-dependent branch would mispredict half the time).
            const __m256 shift = _mm256_castsi256_ps(_mm256_set1_epi32((int)(0x3e000000u | ((h & 0x8000u) << 16))));
            const __m256 products = _mm256_mul_ps(dl, _mm256_add_ps(_mm256_setr_ps(0, 1, 0, 0, 0, 0, 0, -1), shift));
            for (int l = 0; l < 4; ++l) {
                const unsigned idx = blk.qs[4 * g + l] | (((h >> (3 * l)) & 7u) << 8);  // < 2048
                const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(&iq1s_grid[idx])));
                Store::put(dst + 8 * l, _mm256_permutevar8x32_ps(products, v));
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq1_s)

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq1_s = {FormatId::IQ1_S, avx2::decode_iq1_s, nullptr, nullptr,
                                              avx2::decode_iq1_s_stream};
}
