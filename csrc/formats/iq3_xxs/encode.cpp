// IQ3_XXS encode: ggml's quantize_iq3_xxs (quantize_row_iq3_xxs_impl with the 256-point grid),
// with and without an importance matrix. Per 32 weights: 8 grid indices, then a u32 of four
// 7-bit sign codes (the 8th sign of each 8 is implied by even parity) and a 4-bit scale.
#include <cstring>

#include "../common/iq3_group_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

constexpr float kGroupMaxEps = 1e-8f;  // groups whose largest |x| is below this stay zero

void encode_block(const Iq3GridIndex& g, const float* xs, const float* qw, block_iq3_xxs& blk) {
    std::memset(&blk, 0, sizeof(blk));  // also d = fp16(0)
    uint8_t* idx_bytes = blk.qs;
    uint8_t* sign_words = blk.qs + QK_K / 4;

    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xs[i] * xs[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    const Iq3SearchRule rule{15, false};
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
            if (nneg % 2) {
                // Only 7 signs are stored; the 8th follows from even parity. Flip the weight whose
                // sign error costs least, measured as w*x*x (first minimum wins).
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
        float scale = iq3_search_group(g, rule, xval, weight, waux, max, grid_index);
        if (scale < 0) {  // ggml's guard: keep the scale unsigned by flipping the stored signs
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
    blk.d = f32_to_fp16(d * 1.0125f);  // ggml's fudge factor on the stored scale
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
    const Iq3GridIndex& g = iq3_grid_index(256);
    auto* out = static_cast<block_iq3_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_block(g, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b]);
}

}  // namespace dgk::ref
