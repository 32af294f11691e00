// IQ3_XXS AVX2 kernels. Decode: one vector per 8 weights (two 4-weight grid points), each lane the
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

void decode_iq3_xxs(const void* src, float* dst, int64_t nblocks) {
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
                iq_store_signed8(dst + 8 * l, db, pair, ksigns_iq2xs[(aux >> (7 * l)) & 127u]);
            }
        }
    }
}

namespace {

constexpr float kGroupMaxEps = 1e-8f;  // groups whose largest |x| is below this stay zero

// Everything but the search is encode.cpp's encode_block, operation for operation.
void encode_block(const Iq3LaneIndex& ix, const float* xs, const float* qw, block_iq3_xxs& blk) {
    std::memset(&blk, 0, sizeof(blk));
    uint8_t* idx_bytes = blk.qs;
    uint8_t* sign_words = blk.qs + QK_K / 4;

    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xs[i] * xs[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    const ref::Iq3SearchRule rule{15, false};
    float scales[QK_K / 32];
    float max_scale = 0;
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
            const float* x8 = xb + 8 * k;
            float* v8 = xval + 8 * k;
            int nneg = 0;
            unsigned s = 0;
            for (int i = 0; i < 8; ++i) {
                if (x8[i] >= 0) {
                    v8[i] = x8[i];
                } else {
                    v8[i] = -x8[i];
                    ++nneg;
                    s |= 1u << i;
                }
            }
            if (nneg % 2) {  // odd: flip the cheapest weight (w*x*x, first minimum) to even parity
                const float* w8 = weight + 8 * k;
                int imin = 0;
                float vmin = w8[0] * x8[0] * x8[0];
                for (int i = 1; i < 8; ++i) {
                    const float c = w8[i] * x8[i] * x8[i];
                    if (c < vmin) {
                        vmin = c;
                        imin = i;
                    }
                }
                v8[imin] = -v8[imin];
                s ^= 1u << imin;
            }
            signs[k] = (uint8_t)(s & 127u);
        }

        float max = xval[0];
        for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
        if (max < kGroupMaxEps) {
            scales[gi] = 0;
            continue;
        }

        uint16_t grid_index[8];
        float scale = iq3_search_group(ix, rule, xval, weight, waux, max, grid_index);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 4; ++k) signs[k] = (uint8_t)(~signs[k] & 127u);
        }
        for (int k = 0; k < 8; ++k) idx_bytes[8 * gi + k] = (uint8_t)grid_index[k];
        const uint32_t word = (uint32_t)signs[0] | ((uint32_t)signs[1] << 7) | ((uint32_t)signs[2] << 14) |
                              ((uint32_t)signs[3] << 21);
        std::memcpy(sign_words + 4 * gi, &word, 4);
        scales[gi] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }

    if (!max_scale) {
        std::memset(&blk, 0, sizeof(blk));
        return;
    }
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.0125f);
    const float id = 1 / d;
    for (int gi = 0; gi < QK_K / 32; ++gi) {
        int l = nearest_int(0.5f * (id * scales[gi] - 1));
        l = l < 0 ? 0 : (l > 15 ? 15 : l);
        uint32_t word;
        std::memcpy(&word, sign_words + 4 * gi, 4);
        word |= (uint32_t)l << 28;
        std::memcpy(sign_words + 4 * gi, &word, 4);
    }
}

}  // namespace

void encode_iq3_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3LaneIndex& ix = iq3_lane_index(256);
    auto* out = static_cast<block_iq3_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_block(ix, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b]);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq3_xxs = {FormatId::IQ3_XXS, avx2::decode_iq3_xxs, avx2::encode_iq3_xxs};
}
