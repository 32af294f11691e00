// IQ3_S AVX2 kernels. Decode: one vector per 8 weights (two 4-weight grid points), each lane the
// scalar decoder's operations. Encode: the scalar encoder (encode.cpp) around the lane-parallel
// group search of avx2_iq3_search.h.
#include <cmath>
#include <cstring>

#include "../common/avx2_iq3_search.h"
#include "../common/avx2_iq_decode.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

void decode_iq3_s(const void* src, float* dst, int64_t nblocks) {
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
                iq_store_signed8(dst + 8 * l, db, (uint64_t)p0 | ((uint64_t)p1 << 32), blk.signs[4 * g + l]);
            }
        }
    }
}

namespace {

// Everything but the search is encode.cpp's encode_block, operation for operation (including
// ggml's qs/signs slot reuse after all-zero groups).
void encode_block(const Iq3LaneIndex& ix, const float* xs, const float* qw, block_iq3_s& blk) {
    std::memset(&blk, 0, sizeof(blk));

    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xs[i] * xs[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    const ref::Iq3SearchRule rule{9, true};
    float scales[QK_K / 32];
    float max_scale = 0;
    int qs_pos = 0, signs_pos = 0;
    for (int gi = 0; gi < QK_K / 32; ++gi) {
        const float* xb = xs + 32 * gi;
        float weight[32], waux[32], xval[32];
        if (qw) {
            for (int i = 0; i < 32; ++i) weight[i] = qw[32 * gi + i] * sqrtf(sigma2 + xb[i] * xb[i]);
        } else {
            for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
        }
        for (int i = 0; i < 32; ++i) waux[i] = sqrtf(weight[i]);

        uint8_t signs[4];
        for (int k = 0; k < 4; ++k) {
            unsigned s = 0;
            for (int i = 0; i < 8; ++i) {
                const float v = xb[8 * k + i];
                if (v >= 0) {
                    xval[8 * k + i] = v;
                } else {
                    xval[8 * k + i] = -v;
                    s |= 1u << i;
                }
            }
            signs[k] = (uint8_t)s;
        }

        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
        if (!max) {
            scales[gi] = 0;
            continue;
        }

        uint16_t grid_index[8];
        float scale = iq3_search_group(ix, rule, xval, weight, waux, max, grid_index);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 4; ++k) signs[k] = (uint8_t)~signs[k];
        }
        for (int k = 0; k < 8; ++k) {
            blk.qs[qs_pos + k] = (uint8_t)(grid_index[k] & 255u);
            blk.qh[gi] |= (uint8_t)((grid_index[k] >> 8) << k);
        }
        qs_pos += 8;
        for (int k = 0; k < 4; ++k) blk.signs[signs_pos + k] = signs[k];
        signs_pos += 4;
        scales[gi] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }

    if (!max_scale) return;
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.033f);
    const float id = 1 / d;
    for (int gi = 0; gi < QK_K / 32; gi += 2) {
        int l1 = nearest_int(0.5f * (id * scales[gi] - 1));
        l1 = l1 < 0 ? 0 : (l1 > 15 ? 15 : l1);
        int l2 = nearest_int(0.5f * (id * scales[gi + 1] - 1));
        l2 = l2 < 0 ? 0 : (l2 > 15 ? 15 : l2);
        blk.scales[gi / 2] = (uint8_t)(l1 | (l2 << 4));
    }
}

}  // namespace

void encode_iq3_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3LaneIndex& ix = iq3_lane_index(512);
    auto* out = static_cast<block_iq3_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_block(ix, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b]);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq3_s = {FormatId::IQ3_S, avx2::decode_iq3_s, avx2::encode_iq3_s};
}
