// IQ3_S encode: ggml's quantize_iq3_s (quantize_row_iq3_s_impl, groups of 32, 512-point grid),
// with and without an importance matrix. Stores 8 explicit sign bits per 8 weights.
#include <cstring>

#include "../common/iq3_group_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

void encode_block(const Iq3GridIndex& g, const float* xs, const float* qw, block_iq3_s& blk) {
    std::memset(&blk, 0, sizeof(blk));  // also d = fp16(0)

    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xs[i] * xs[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    const Iq3SearchRule rule{9, true};
    float scales[QK_K / 32];
    float max_scale = 0;
    // ggml advances its qs/signs write positions only for groups it does not skip as all-zero,
    // so a later group's indices and signs land in the skipped group's slots (qh and scales
    // stay at the true group position). Reproduced because it decides the bytes.
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
        float scale = iq3_search_group(g, rule, xval, weight, waux, max, grid_index);
        if (scale < 0) {  // ggml's guard: keep the scale unsigned by flipping the stored signs
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
    blk.d = f32_to_fp16(d * 1.033f);  // ggml's fudge factor on the stored scale
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
    const Iq3GridIndex& g = iq3_grid_index(512);
    auto* out = static_cast<block_iq3_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_block(g, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b]);
}

}  // namespace dgk::ref
