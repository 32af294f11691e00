// IQ2_XXS / IQ2_XS / IQ2_S encoders, host+device: transcription of csrc/formats/common/iq2_grid_index.{h,cpp}
// (searches) and csrc/formats/iq2_*/encode.cpp. The lattice index (dgk::iq2::GridIndex, built on the host by
// the CPU code) is read through Iq2View: its host arrays in the emulation, device copies in the kernels.
#pragma once
#include <cfloat>

#include "common.cuh"
#include "iq_views.h"
#include "formats/common/scale_search.h"

namespace dgk::cuda {


DGKC_HD int iq2_level_of(const Iq2View& g, int point, int j) { return (g.grid_keys[point] >> (2 * j)) & 3; }

DGKC_HD uint16_t iq2_pack_key(const int8_t* L) {
    uint32_t u = 0;
    for (int j = 0; j < 8; ++j) u |= (uint32_t)(L[j] & 3) << (2 * j);
    return (uint16_t)u;
}
DGKC_HD void iq2_levels(const float* xval, float id, int8_t* L) {
    for (int j = 0; j < 8; ++j) L[j] = (int8_t)clampi(nearest_int(0.5f * (id * xval[j] - 1)), 0, 2);
}
DGKC_HD void iq2_fit_sums(int n, const float* xval, const float* w, const int8_t* L, float* sumqx, float* sumq2) {
    float sx = 0, s2 = 0;
    for (int i = 0; i < n; ++i) {
        const float q = (float)(2 * L[i] + 1);
        sx += w[i] * xval[i] * q;
        s2 += w[i] * q * q;
    }
    *sumqx = sx;
    *sumq2 = s2;
}
DGKC_HD uint8_t iq2_fold_signs(const float* xb, const float* w, bool parity, float* xval) {
    uint8_t s = 0;
    int nneg = 0;
    for (int j = 0; j < 8; ++j) {
        if (xb[j] >= 0) {
            xval[j] = xb[j];
        } else {
            xval[j] = -xb[j];
            s |= (uint8_t)(1u << j);
            ++nneg;
        }
    }
    if (!parity) return s;
    if (nneg & 1) {
        int jmin = 0;
        float vmin = w[0] * xb[0] * xb[0];
        for (int j = 1; j < 8; ++j) {
            const float v = w[j] * xb[j] * xb[j];
            if (v < vmin) {
                vmin = v;
                jmin = j;
            }
        }
        xval[jmin] = -xval[jmin];
        s ^= (uint8_t)(1u << jmin);
    }
    return s & 127;
}
DGKC_HD int iq2_best_neighbour(const Iq2View& g, uint16_t key, const float* xval, const float* w, float scale, int8_t* L) {
    const uint32_t at = g.nb_offset[key];
    const int count = g.nb_points[at];
    const uint16_t* nb = g.nb_points + at + 1;
    float best = FLT_MAX;
    int pick = -1;
    for (int c = 0; c < count; ++c) {
        const int p = nb[c];
        float t[8];
        for (int j = 0; j < 8; ++j) {
            const float diff = scale * (float)(2 * iq2_level_of(g, p, j) + 1) - xval[j];
            t[j] = w[j] * diff * diff;
        }
        float d2 = 0;
        for (int j = 0; j < 8; ++j) d2 += t[j];
        if (d2 < best) {
            best = d2;
            pick = p;
        }
    }
    if (pick < 0) pick = nb[0];
    for (int j = 0; j < 8; ++j) L[j] = (int8_t)iq2_level_of(g, pick, j);
    return pick;
}
DGKC_HD void iq2_snap(const Iq2View& g, const float* xval, const float* waux, float id, float scale, int8_t* L,
                      bool* on_grid) {
    iq2_levels(xval, id, L);
    const uint16_t key = iq2_pack_key(L);
    const bool on = g.map[key] >= 0;
    if (on_grid) *on_grid = on;
    if (!on) iq2_best_neighbour(g, key, xval, waux, scale, L);
}

DGKC_HD float iq2_search_group16(const Iq2View& g, const float* xval, const float* weight, const float* waux, float max,
                                 int8_t* L) {
    int8_t Laux[16];
    bool on_grid[2] = {true, true}, on_grid_aux[2];
    for (int i = 0; i < 16; ++i) L[i] = 0;
    float best = 0;
    float scale = max / 5;
    for (int is = -9; is <= 9; ++is) {
        const float id = (5 + is * 0.1f) / max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 2; ++k) iq2_snap(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k, &on_grid_aux[k]);
        float sumqx, sumq2;
        iq2_fit_sums(16, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < 16; ++i) L[i] = Laux[i];
            on_grid[0] = on_grid_aux[0];
            on_grid[1] = on_grid_aux[1];
        }
    }
    if ((!on_grid[0] || !on_grid[1]) && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 2; ++k) {
            if (on_grid[k]) continue;
            iq2_snap(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k, nullptr);
        }
        float sumqx, sumq2;
        iq2_fit_sums(16, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}

DGKC_HD int iq2_find(const Iq2View& g, const int8_t* L) {
    const int p = g.map[iq2_pack_key(L)];
    return p < 0 ? 0 : p;
}

// ---- IQ2_XXS (imatrix required) --------------------------------------------------------------------
DGKC_HD float iq2_xxs_group(const Iq2View& g, const float* xb, const float* weight, uint32_t* idx_word,
                            uint32_t* sign_word) {
    float xval[32], waux[32];
    int8_t L[32], Laux[32];
    uint8_t signs[4];
    for (int i = 0; i < 32; ++i) waux[i] = sqrtf(weight[i]);
    for (int k = 0; k < 4; ++k) signs[k] = iq2_fold_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);
    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
    if (max < 1e-15f) return 0;
    float scale = make_qp_quants(32, 4, xval, (uint8_t*)L, weight);
    const float eff_max = scale * 3;
    if (eff_max <= 0) return 0;
    float best = 0;
    for (int is = -6; is <= 6; ++is) {
        const float id = (5 + is * 0.1f) / eff_max;
        const float this_scale = 1 / id;
        for (int k = 0; k < 4; ++k) iq2_snap(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k, nullptr);
        float sumqx, sumq2;
        iq2_fit_sums(32, xval, weight, Laux, &sumqx, &sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < 32; ++i) L[i] = Laux[i];
        }
    }
    if (scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < 4; ++k) iq2_snap(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k, nullptr);
        float sumqx, sumq2;
        iq2_fit_sums(32, xval, weight, L, &sumqx, &sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 4; ++k) signs[k] = (uint8_t)(~signs[k] & 127);
    }
    uint32_t iw = 0, sw = 0;
    for (int k = 0; k < 4; ++k) {
        iw |= (uint32_t)iq2_find(g, L + 8 * k) << (8 * k);
        sw |= (uint32_t)signs[k] << (7 * k);
    }
    *idx_word = iw;
    *sign_word = sw;
    return scale;
}

DGKC_HD void encode_iq2_xxs_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    auto& y = *(block_iq2_xxs*)p;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = sumx2 / QK_K;
    uint32_t words[16];
    for (int i = 0; i < 16; ++i) words[i] = 0;
    float scales[8];
    float max_scale = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        const float* qw = qwbl + 32 * ib;
        float weight[32];
        for (int i = 0; i < 32; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        scales[ib] = iq2_xxs_group(g, xb, weight, &words[2 * ib], &words[2 * ib + 1]);
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
    }
    y.d = f32_to_fp16(0.f);
    if (!max_scale) {
        for (int i = 0; i < 64; ++i) p[2 + i] = 0;
        return;
    }
    const float d = max_scale / 31;
    y.d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
        const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
        words[2 * ib + 1] |= (uint32_t)l << 28;
    }
    for (int i = 0; i < 16; ++i)
        for (int b = 0; b < 4; ++b) p[2 + 4 * i + b] = (uint8_t)(words[i] >> (8 * b));
}

// ---- IQ2_XS (imatrix required) ---------------------------------------------------------------------
DGKC_HD void encode_iq2_xs_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    auto& y = *(block_iq2_xs*)p;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = sumx2 / QK_K;
    uint16_t q2[32];
    for (int i = 0; i < 32; ++i) q2[i] = 0;
    float scales[16];
    float max_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        const float* qw = qwbl + 16 * ib;
        float weight[16], waux[16], xval[16];
        for (int i = 0; i < 16; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        for (int i = 0; i < 16; ++i) waux[i] = sqrtf(weight[i]);
        uint8_t signs[2];
        for (int k = 0; k < 2; ++k) signs[k] = iq2_fold_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = max > xval[i] ? max : xval[i];
        if (max < 1e-15f) {
            scales[ib] = 0;
            continue;
        }
        int8_t L[16];
        float scale = iq2_search_group16(g, xval, weight, waux, max, L);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 2; ++k) signs[k] = (uint8_t)(~signs[k] & 127);
        }
        for (int k = 0; k < 2; ++k) q2[2 * ib + k] = (uint16_t)(iq2_find(g, L + 8 * k) | (signs[k] << 9));
        scales[ib] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    y.d = f32_to_fp16(0.f);
    for (int i = 0; i < 8; ++i) y.scales[i] = 0;
    if (!max_scale) {
        for (int i = 0; i < 32; ++i) y.qs[i] = 0;
        return;
    }
    const float d = max_scale / 31;
    y.d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
        y.scales[ib / 2] |= (uint8_t)(l << (4 * (ib % 2)));
    }
    for (int i = 0; i < 32; ++i) y.qs[i] = q2[i];
}

// ---- IQ2_S (imatrix optional) ----------------------------------------------------------------------
DGKC_HD void encode_iq2_s_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    auto& y = *(block_iq2_s*)p;
    for (int i = 0; i < (int)sizeof(block_iq2_s); ++i) p[i] = 0;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;
    uint8_t* signs_out = y.qs + QK_K / 8;
    float scales[16];
    float max_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        float weight[16], waux[16], xval[16];
        if (qwbl) {
            const float* qw = qwbl + 16 * ib;
            for (int i = 0; i < 16; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        } else {
            for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        for (int i = 0; i < 16; ++i) waux[i] = sqrtf(weight[i]);
        uint8_t signs[2];
        for (int k = 0; k < 2; ++k) signs[k] = iq2_fold_signs(xb + 8 * k, weight + 8 * k, false, xval + 8 * k);
        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = max > xval[i] ? max : xval[i];
        if (max < 1e-8f) {
            scales[ib] = 0;
            continue;
        }
        int8_t L[16];
        float scale = iq2_search_group16(g, xval, weight, waux, max, L);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 2; ++k) signs[k] = (uint8_t)~signs[k];
        }
        for (int k = 0; k < 2; ++k) {
            const int gp = iq2_find(g, L + 8 * k);
            const int i8 = 2 * ib + k;
            y.qs[i8] = (uint8_t)(gp & 255);
            y.qh[i8 / 4] |= (uint8_t)((gp >> 8) << (2 * (i8 % 4)));
            signs_out[i8] = signs[k];
        }
        scales[ib] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (!max_scale) return;
    const float d = max_scale / 31;
    y.d = f32_to_fp16(d * 0.9875f);
    const float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 15);
        y.scales[ib / 2] |= (uint8_t)(l << (4 * (ib % 2)));
    }
}

}  // namespace dgk::cuda
