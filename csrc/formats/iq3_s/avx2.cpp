// IQ3_S AVX2 kernels. Decode: one vector per 8 weights (two 4-weight grid points), each lane the
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
static void decode_iq3_s_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq3_s*>(src);
    for (int64_t b = 0; b < nblocks; ++b) {
        const block_iq3_s& blk = blocks[b];
        const float d = fp16_to_f32(blk.d);
        for (int g = 0; g < QK_K / 32; ++g, dst += 32) {
            const unsigned s = (blk.scales[g / 2] >> (4 * (g % 2))) & 0xfu;
            const __m256 db = _mm256_set1_ps(d * (float)(1 + 2 * s));
            const uint8_t* idx = blk.qs + 8 * g;
            const unsigned high = blk.qh[g];
            for (int l = 0; l < 4; ++l) {
                const uint32_t p0 = iq3s_grid[idx[2 * l] | (((high >> (2 * l)) & 1u) << 8)];
                const uint32_t p1 = iq3s_grid[idx[2 * l + 1] | (((high >> (2 * l + 1)) & 1u) << 8)];
                iq_store_signed8<Store>(dst + 8 * l, db, (uint64_t)p0 | ((uint64_t)p1 << 32), blk.signs[4 * g + l]);
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq3_s)

void encode_iq3_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3LaneIndex& ix = iq3_lane_index(512);
    const ref::Iq3SearchRule rule{9, true};
    auto search = [&](const float* xval, const float* w, const float* waux, float max, uint16_t* grid_index) {
        return iq3_search_group(ix, rule, xval, w, waux, max, grid_index);
    };
    auto* out = static_cast<block_iq3_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq3s::encode_block(x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b], search);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq3_s = {FormatId::IQ3_S, avx2::decode_iq3_s, avx2::encode_iq3_s, nullptr,
                                              avx2::decode_iq3_s_stream};
}
