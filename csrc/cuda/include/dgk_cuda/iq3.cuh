// IQ3_XXS / IQ3_S encoders, host+device: transcription of csrc/formats/common/iq3_group_search.cpp and
// csrc/formats/iq3_{xxs,s}/encode.cpp. The grid index (dgk::ref::Iq3GridIndex, built on the host by the
// CPU code) is read through Iq3View: host vectors in the emulation, device copies in the kernels.
#pragma once
#include <cfloat>

#include "common.cuh"
#include "formats/common/scale_search.h"
#include "iq_views.h"

namespace dgk::cuda {

constexpr int kIq3MaxNeighbours = 64;

DGKC_HD int iq3_quad_key(const float* xval, float id, int8_t* lv) {
    int key = 0;
    for (int i = 0; i < 4; ++i) {
        const int l = clampi(nearest_int(0.5f * (id * xval[i] - 1)), 0, 7);
        lv[i] = (int8_t)l;
        key |= l << (3 * i);
    }
    return key;
}

DGKC_HD int iq3_best_neighbour(const Iq3View& g, int key, const float* xval, const float* waux, float scale) {
    const uint32_t begin = g.nb_begin[key];
    const int n = (int)(g.nb_begin[key + 1] - begin);
    const float* q0 = g.nb_value + 4 * begin;
    const float* q1 = q0 + n;
    const float* q2 = q1 + n;
    const float* q3 = q2 + n;
    int best = 0;
    float best_d2 = FLT_MAX;
    for (int c = 0; c < n; ++c) {
        const float e0 = scale * q0[c] - xval[0], e1 = scale * q1[c] - xval[1];
        const float e2 = scale * q2[c] - xval[2], e3 = scale * q3[c] - xval[3];
        float s = 0;
        s += waux[0] * e0 * e0;
        s += waux[1] * e1 * e1;
        s += waux[2] * e2 * e2;
        s += waux[3] * e3 * e3;
        if (s < best_d2) {
            best_d2 = s;
            best = c;
        }
    }
    return g.nb[begin + best];
}

DGKC_HD bool iq3_snap_quad(const Iq3View& g, const float* xval, const float* waux, float id, float scale, int8_t* lv) {
    const int key = iq3_quad_key(xval, id, lv);
    if (g.grid_of_key[key] >= 0) return true;
    const int j = iq3_best_neighbour(g, key, xval, waux, scale);
    for (int i = 0; i < 4; ++i) lv[i] = (int8_t)g.level[4 * j + i];
    return false;
}

DGKC_HD void iq3_fit_sums(const float* xval, const float* weight, const int8_t* lv, float* sumqx, float* sumq2) {
    float sx = 0, s2 = 0;
    for (int i = 0; i < 32; ++i) {
        const float w = weight[i];
        const float q = (float)(2 * lv[i] + 1);
        sx += w * xval[i] * q;
        s2 += w * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}

DGKC_HD float iq3_search_group(const Iq3View& g, int trials, bool requant_all, const float* xval,
                               const float* weight, const float* waux, float max, uint16_t* grid_index) {
    int8_t best_lv[32];
    for (int i = 0; i < 32; ++i) best_lv[i] = 0;
    bool on_grid[8];
    for (int k = 0; k < 8; ++k) on_grid[k] = !requant_all;
    float scale = max / 15;
    float best = 0;
    int8_t lv[32];
    bool trial_on_grid[8];
    for (int is = -trials; is <= trials; ++is) {
        const float id = (15.0f + (float)is * 0.2f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 8; ++k) trial_on_grid[k] = iq3_snap_quad(g, xval + 4 * k, waux + 4 * k, id, this_scale, lv + 4 * k);
        float sumqx, sumq2;
        iq3_fit_sums(xval, weight, lv, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < 32; ++i) best_lv[i] = lv[i];
            for (int k = 0; k < 8; ++k) on_grid[k] = trial_on_grid[k];
        }
    }
    bool any_off = false;
    for (int k = 0; k < 8; ++k) any_off |= !on_grid[k];
    if (any_off && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 8; ++k) {
            if (on_grid[k] && !requant_all) continue;
            iq3_snap_quad(g, xval + 4 * k, waux + 4 * k, id, scale, best_lv + 4 * k);
        }
        float sumqx, sumq2;
        iq3_fit_sums(xval, weight, best_lv, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    for (int k = 0; k < 8; ++k) {
        int key = 0;
        for (int i = 0; i < 4; ++i) key |= best_lv[4 * k + i] << (3 * i);
        const int j = g.grid_of_key[key];
        grid_index[k] = (uint16_t)(j < 0 ? 0 : j);
    }
    return scale;
}

DGKC_HD void iq3_weights(const float* xb, const float* qw, float sigma2, float* weight, float* waux) {
    if (qw) {
        for (int i = 0; i < 32; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    } else {
        for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
    }
    for (int i = 0; i < 32; ++i) waux[i] = sqrtf(weight[i]);
}

DGKC_HD void encode_iq3_xxs_block(const Iq3View& g, const float* xs, const float* qw, uint8_t* p) {
    auto& blk = *(block_iq3_xxs*)p;
    for (int i = 0; i < (int)sizeof(block_iq3_xxs); ++i) p[i] = 0;
    uint8_t* idx_bytes = blk.qs;
    uint8_t* sign_words = blk.qs + QK_K / 4;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xs[i] * xs[i];
    const float sigma2 = 2 * sumx2 / QK_K;
    float scales[8];
    float max_scale = 0;
    for (int gi = 0; gi < 8; ++gi) {
        const float* xb = xs + 32 * gi;
        float weight[32], waux[32], xval[32];
        iq3_weights(xb, qw ? qw + 32 * gi : nullptr, sigma2, weight, waux);
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
        if (max < 1e-8f) {
            scales[gi] = 0;
            continue;
        }
        uint16_t grid_index[8];
        float scale = iq3_search_group(g, 15, false, xval, weight, waux, max, grid_index);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 4; ++k) signs[k] = (uint8_t)(~signs[k] & 127u);
        }
        for (int k = 0; k < 8; ++k) idx_bytes[8 * gi + k] = (uint8_t)grid_index[k];
        const uint32_t word = (uint32_t)signs[0] | ((uint32_t)signs[1] << 7) | ((uint32_t)signs[2] << 14) |
                              ((uint32_t)signs[3] << 21);
        for (int b = 0; b < 4; ++b) sign_words[4 * gi + b] = (uint8_t)(word >> (8 * b));
        scales[gi] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (!max_scale) {
        for (int i = 0; i < (int)sizeof(block_iq3_xxs); ++i) p[i] = 0;
        return;
    }
    const float d = max_scale / 31;
    blk.d = f32_to_fp16(d * 1.0125f);
    const float id = 1 / d;
    for (int gi = 0; gi < 8; ++gi) {
        const int l = clampi(nearest_int(0.5f * (id * scales[gi] - 1)), 0, 15);
        sign_words[4 * gi + 3] = (uint8_t)(sign_words[4 * gi + 3] | (l << 4));
    }
}

DGKC_HD void encode_iq3_s_block(const Iq3View& g, const float* xs, const float* qw, uint8_t* p) {
    auto& blk = *(block_iq3_s*)p;
    for (int i = 0; i < (int)sizeof(block_iq3_s); ++i) p[i] = 0;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xs[i] * xs[i];
    const float sigma2 = 2 * sumx2 / QK_K;
    float scales[8];
    float max_scale = 0;
    int qs_pos = 0, signs_pos = 0;  // ggml's write positions skip all-zero groups (see the CPU code)
    for (int gi = 0; gi < 8; ++gi) {
        const float* xb = xs + 32 * gi;
        float weight[32], waux[32], xval[32];
        iq3_weights(xb, qw ? qw + 32 * gi : nullptr, sigma2, weight, waux);
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
        float scale = iq3_search_group(g, 9, true, xval, weight, waux, max, grid_index);
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
    for (int gi = 0; gi < 8; gi += 2) {
        const int l1 = clampi(nearest_int(0.5f * (id * scales[gi] - 1)), 0, 15);
        const int l2 = clampi(nearest_int(0.5f * (id * scales[gi + 1] - 1)), 0, 15);
        blk.scales[gi / 2] = (uint8_t)(l1 | (l2 << 4));
    }
}

}  // namespace dgk::cuda
