// IQ1_S / IQ1_M encoders, host+device: transcription of csrc/formats/iq1_{s,m}/encode.cpp and the IQ1
// neighbour search of csrc/formats/common/iq2_grid_index.h, over the IQ1 lattice index (Iq2View).
#pragma once
#include <cfloat>

#include "common.cuh"
#include "iq2.cuh"

namespace dgk::cuda {

// Dequantized values of levels 0, 1, 2 under a positive / negative shift (delta 0.125).
DGKC_HD const float* iq1_values(bool negative, float* buf) {
    buf[0] = negative ? -1 - 0.125f : -1 + 0.125f;
    buf[1] = negative ? -0.125f : 0.125f;
    buf[2] = negative ? 1 - 0.125f : 1 + 0.125f;
    return buf;
}

DGKC_HD float iq1_score(const Iq2View& g, int p, const float* xval, const float* w, float scale, const float* xg) {
    float d2 = 0;
    for (int j = 0; j < 8; ++j) {
        const float diff = scale * xg[iq2::grid_level(g, p, j)] - xval[j];
        d2 += w[j] * diff * diff;
    }
    return d2;
}
DGKC_HD int iq1_best_neighbour(const Iq2View& g, uint16_t key, const float* xval, const float* w, float scale,
                               const float* xg, int8_t* L) {
    const uint32_t at = g.nb_offset[key];
    const int count = g.nb_points[at];
    const uint16_t* nb = g.nb_points + at + 1;
    float best = FLT_MAX;
    int pick = -1;
    for (int c = 0; c < count; ++c) {
        const float d2 = iq1_score(g, nb[c], xval, w, scale, xg);
        if (d2 < best) {
            best = d2;
            pick = nb[c];
        }
    }
    if (pick < 0) {
        for (int p = 0; p < g.size; ++p) {
            const float d2 = iq1_score(g, p, xval, w, scale, xg);
            if (d2 < best) {
                best = d2;
                pick = p;
            }
        }
    }
    if (pick < 0) pick = nb[0];
    for (int j = 0; j < 8; ++j) L[j] = (int8_t)iq2::grid_level(g, pick, j);
    return pick;
}

// Stable ascending sort of indices 0..n-1 by x (insertion sort: equal keys keep index order, as the
// CPU's std::stable_sort and glibc's merge-sort qsort).
DGKC_HD void stable_order(const float* x, int n, int* order) {
    for (int j = 0; j < n; ++j) {
        const int cur = j;
        int i = j;
        while (i > 0 && x[cur] < x[order[i - 1]]) {
            order[i] = order[i - 1];
            --i;
        }
        order[i] = cur;
    }
}

// ---- IQ1_S (imatrix required) ----------------------------------------------------------------------
struct Iq1sGroup {
    float scale;
    int shift;
    uint16_t index[4];
};

DGKC_HD Iq1sGroup iq1_s_group(const Iq2View& g, const float* xb, const float* weight) {
    Iq1sGroup r;
    r.scale = 0;
    r.shift = 1;
    for (int k = 0; k < 4; ++k) r.index[k] = 0;
    float max = fabsf(xb[0]);
    for (int i = 1; i < 32; ++i) max = max > fabsf(xb[i]) ? max : fabsf(xb[i]);
    if (max < 1e-12f) return r;
    int order[32];
    stable_order(xb, 32, order);
    float sumx[33], sumw[33];
    sumx[0] = sumw[0] = 0;
    for (int j = 0; j < 32; ++j) {
        const int i = order[j];
        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
        sumw[j + 1] = sumw[j] + weight[i];
    }
    float plus[3], minus[3];
    iq1_values(false, plus);
    iq1_values(true, minus);
    float best = -FLT_MAX, scale = max;
    int best1 = -1, best2 = -1, shift = 0;
    for (int i1 = 0; i1 <= 32; ++i1) {
        for (int i2 = i1; i2 <= 32; ++i2) {
            for (int s = 0; s < 2; ++s) {
                const float* v = s == 0 ? plus : minus;
                const float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] +
                                    (sumx[32] - sumx[i2]) * v[2];
                const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] + (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                                    (sumw[32] - sumw[i2]) * v[2] * v[2];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    best1 = i1;
                    best2 = i2;
                    shift = s == 0 ? 1 : -1;
                }
            }
        }
    }
    if (best1 < 0 || best2 < 0 || shift == 0) return r;
    int8_t L[32];
    for (int j = 0; j < 32; ++j) L[order[j]] = (int8_t)(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {
        for (int j = 0; j < 32; ++j) L[j] = (int8_t)(2 - L[j]);
        scale = -scale;
        shift = -shift;
    }
    const float* v = shift == 1 ? plus : minus;
    bool all_on_grid = true;
    for (int k = 0; k < 4; ++k) {
        const uint16_t key = iq2::pack_key(L + 8 * k);
        int p = g.map[key];
        if (p < 0) {
            all_on_grid = false;
            p = iq1_best_neighbour(g, key, xb + 8 * k, weight + 8 * k, scale, v, L + 8 * k);
        }
        r.index[k] = (uint16_t)p;
    }
    if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < 4; ++k) {
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = v[iq2::grid_level(g, r.index[k], j)];
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    r.scale = scale;
    r.shift = shift;
    return r;
}

DGKC_HD void encode_iq1_s_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    auto& y = *(block_iq1_s*)p;
    for (int i = 0; i < (int)sizeof(block_iq1_s); ++i) p[i] = 0;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;
    float scales[8];
    int shifts[8];
    float max_scale = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = xbl + 32 * ib;
        const float* qw = qwbl + 32 * ib;
        float weight[32];
        for (int i = 0; i < 32; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
        const Iq1sGroup r = iq1_s_group(g, xb, weight);
        uint16_t h = 0;
        for (int k = 0; k < 4; ++k) {
            y.qs[4 * ib + k] = (uint8_t)(r.index[k] & 255);
            h |= (uint16_t)((r.index[k] >> 8) << (3 * k));
        }
        y.qh[ib] = h;
        scales[ib] = r.scale;
        shifts[ib] = r.shift;
        max_scale = max_scale > r.scale ? max_scale : r.scale;
    }
    if (!max_scale) return;
    const float d = max_scale / 15;
    y.d = f32_to_fp16(d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
        int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
        if (shifts[ib] == -1) l |= 8;
        y.qh[ib] |= (uint16_t)(l << 12);
    }
}

// ---- IQ1_M (imatrix optional) ----------------------------------------------------------------------
// Shift combination c (0..3) of the two halves: bit 1 = first half negative, bit 0 = second.
DGKC_HD bool iq1m_negative(int combo, int half) { return half == 0 ? combo >= 2 : (combo & 1) != 0; }

struct Iq1mGroup {
    float scale;
    int combo;
    uint16_t index[2];
};

DGKC_HD Iq1mGroup iq1_m_group(const Iq2View& g, const float* xb, const float* weight) {
    Iq1mGroup r;
    r.scale = 0;
    r.combo = 0;
    r.index[0] = r.index[1] = 0;
    float max = fabsf(xb[0]);
    for (int i = 1; i < 16; ++i) max = max > fabsf(xb[i]) ? max : fabsf(xb[i]);
    if (max < 1e-7f) return r;
    int order[16];
    stable_order(xb, 16, order);
    float vals[2][3];  // [negative][level]
    iq1_values(false, vals[0]);
    iq1_values(true, vals[1]);
    float term[16][3][8];
    for (int j = 0; j < 16; ++j) {
        const int i = order[j];
        const int half = i < 8 ? 0 : 1;
        for (int lvl = 0; lvl < 3; ++lvl) {
            for (int c = 0; c < 4; ++c) {
                const float q = vals[iq1m_negative(c, half)][lvl];
                term[j][lvl][c] = weight[i] * q * xb[i];
                term[j][lvl][4 + c] = weight[i] * q * q;
            }
        }
    }
    float prefix[17][8];
    for (int c = 0; c < 8; ++c) prefix[0][c] = 0;
    for (int j = 0; j < 16; ++j)
        for (int c = 0; c < 8; ++c) prefix[j + 1][c] = prefix[j][c] + term[j][0][c];
    float best = -FLT_MAX, scale = max;
    int best1 = -1, best2 = -1, combo = -1;
    for (int i1 = 0; i1 <= 16; ++i1) {
        float mid[8];
        for (int c = 0; c < 8; ++c) mid[c] = prefix[i1][c];
        for (int i2 = i1; i2 <= 16; ++i2) {
            float s[8];
            for (int c = 0; c < 8; ++c) s[c] = mid[c];
            for (int j = i2; j < 16; ++j)
                for (int c = 0; c < 8; ++c) s[c] += term[j][2][c];
            for (int c = 0; c < 4; ++c) {
                const float sumqx = s[c], sumq2 = s[4 + c];
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    scale = sumqx / sumq2;
                    best = scale * sumqx;
                    best1 = i1;
                    best2 = i2;
                    combo = c;
                }
            }
            if (i2 < 16)
                for (int c = 0; c < 8; ++c) mid[c] += term[i2][1][c];
        }
    }
    if (best1 < 0 || best2 < 0 || combo < 0) return r;
    int8_t L[16];
    for (int j = 0; j < 16; ++j) L[order[j]] = (int8_t)(j < best1 ? 0 : j < best2 ? 1 : 2);
    if (scale < 0) {
        for (int j = 0; j < 16; ++j) L[j] = (int8_t)(2 - L[j]);
        scale = -scale;
        combo = 3 - combo;
    }
    bool all_on_grid = true;
    for (int k = 0; k < 2; ++k) {
        const uint16_t key = iq2::pack_key(L + 8 * k);
        int p = g.map[key];
        if (p < 0) {
            all_on_grid = false;
            p = iq1_best_neighbour(g, key, xb + 8 * k, weight + 8 * k, scale, vals[iq1m_negative(combo, k)], L + 8 * k);
        }
        r.index[k] = (uint16_t)p;
    }
    if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < 2; ++k) {
            const float* v = vals[iq1m_negative(combo, k)];
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = v[iq2::grid_level(g, r.index[k], j)];
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
    }
    r.scale = scale;
    r.combo = combo;
    return r;
}

DGKC_HD void iq1m_weights(const float* xb, const float* qw, float sigma2, float* weight) {
    if (qw) {
        for (int i = 0; i < 16; ++i) weight[i] = qw[i] * sqrtf(sigma2 + xb[i] * xb[i]);
    } else {
        for (int i = 0; i < 16; ++i) weight[i] = xb[i] * xb[i];
    }
}

DGKC_HD void encode_iq1_m_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    auto& y = *(block_iq1_m*)p;
    for (int i = 0; i < (int)sizeof(block_iq1_m); ++i) p[i] = 0;
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;
    float scales[16];
    int combos[16];
    uint16_t index[16][2];
    float max_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        float weight[16];
        iq1m_weights(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, weight);
        const Iq1mGroup r = iq1_m_group(g, xb, weight);
        y.qs[2 * ib + 0] = (uint8_t)(r.index[0] & 255);
        y.qs[2 * ib + 1] = (uint8_t)(r.index[1] & 255);
        y.qh[ib] = (uint8_t)((r.index[0] >> 8) | ((r.index[1] >> 8) << 4));
        index[ib][0] = r.index[0];
        index[ib][1] = r.index[1];
        scales[ib] = r.scale;
        combos[ib] = r.combo;
        max_scale = max_scale > r.scale ? max_scale : r.scale;
    }
    if (!max_scale) return;
    const uint8_t shift_bits[4] = {0x00, 0x80, 0x08, 0x88};
    float vals[2][3];
    iq1_values(false, vals[0]);
    iq1_values(true, vals[1]);
    uint16_t sc[4] = {0, 0, 0, 0};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = clampi(nearest_int(0.5f * (id * scales[ib] - 1)), 0, 7);
        sc[ib / 4] |= (uint16_t)(l << (3 * (ib % 4)));
        y.qh[ib] |= shift_bits[combos[ib]];
        const float* xb = xbl + 16 * ib;
        float weight[16];
        iq1m_weights(xb, qwbl ? qwbl + 16 * ib : nullptr, sigma2, weight);
        for (int k = 0; k < 2; ++k) {
            const float* v = vals[iq1m_negative(combos[ib], k)];
            for (int j = 0; j < 8; ++j) {
                const float w = weight[8 * k + j];
                const float q = v[iq2::grid_level(g, index[ib][k], j)] * (float)(2 * l + 1);
                sumqx += w * q * xb[8 * k + j];
                sumq2 += w * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t h = f32_to_fp16(d * 1.1125f);
    sc[0] |= (uint16_t)((h & 0x000f) << 12);
    sc[1] |= (uint16_t)((h & 0x00f0) << 8);
    sc[2] |= (uint16_t)((h & 0x0f00) << 4);
    sc[3] |= (uint16_t)(h & 0xf000);
    for (int w = 0; w < 4; ++w) {
        y.scales[2 * w] = (uint8_t)(sc[w] & 0xff);
        y.scales[2 * w + 1] = (uint8_t)(sc[w] >> 8);
    }
}

}  // namespace dgk::cuda
