// IQ3_XXS AVX2 kernels. Decode: one vector per 8 weights (two 4-weight grid points), each lane the
// scalar decoder's operations. Encode: pack.h's encoder (shared with encode.cpp) around the
// lane-parallel group search of avx2_iq3_search.h.
#include <cmath>
#include <cstring>

#include "../common/avx2_iq3_search.h"
#include "../common/avx2_iq_decode.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

template <class Store>
static void decode_iq3_xxs_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq3_xxs*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq3_xxs& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            uint32_t aux;
            std::memcpy(&aux, blk.qs + QK_K / 4 + 4 * g, sizeof(aux));
            const __m256 db = _mm256_set1_ps(d * (0.5f + (float)(aux >> 28)) * 0.5f);
            const uint8_t* idx = blk.qs + 8 * g;
            for (int l = 0; l < 4; ++l) {
                const uint64_t pair = (uint64_t)iq3xxs_grid[idx[2 * l]] | ((uint64_t)iq3xxs_grid[idx[2 * l + 1]] << 32);
                iq_store_signed8<Store>(dst + 8 * l, db, pair, ksigns_iq2xs[(aux >> (7 * l)) & 127u]);
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq3_xxs)

void encode_iq3_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3LaneIndex& ix = iq3_lane_index(256);
    auto search = [&](const float* xval, const float* w, const float* waux, float max, uint16_t* grid_index) {
        return iq3_search_group<15, false>(ix, xval, w, waux, max, grid_index);
    };
    auto* out = static_cast<block_iq3_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq3xxs::encode_block(x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b], search, Iq3Fold{}, Iq3Weights{});
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq3_xxs = {FormatId::IQ3_XXS, avx2::decode_iq3_xxs, avx2::encode_iq3_xxs,
                                                nullptr, avx2::decode_iq3_xxs_stream};
}
