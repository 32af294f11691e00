// Per-block encoders, host+device: Enc<F>::run(x, qw, row_sigma2, out) encodes one block of F from its
// weights x (and, when qw is not null, the block's slice of the importance matrix). row_sigma2 is the
// mean square of the whole row (row_sigma2 of legacy_pack.h); only the legacy imatrix encoders read it.
#pragma once
#include "common.cuh"
#include "formats.cuh"
#include "formats/common/legacy_encode.h"
#include "formats/common/scale_search.h"
#include "decode.cuh"  // e8m0_half

namespace dgk::cuda {

template <int F> struct Enc { static constexpr bool available = false; };

// ---- legacy (csrc/formats/common/legacy_encode.h) ------------------------------------------------
template <> struct Enc<F_Q4_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float sigma2, uint8_t* p) {
        auto* out = (block_q4_0*)p;
        uint8_t q[QK];
        encode_symmetric_block<8>(x, qw, sigma2, &out->d, q);
        pack_q4(q, out->qs);
    }
};
template <> struct Enc<F_Q5_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float sigma2, uint8_t* p) {
        auto* out = (block_q5_0*)p;
        uint8_t q[QK];
        encode_symmetric_block<16>(x, qw, sigma2, &out->d, q);
        pack_q5(q, out->qs, out->qh);
    }
};
template <> struct Enc<F_Q4_1> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float sigma2, uint8_t* p) {
        auto* out = (block_q4_1*)p;
        uint8_t q[QK];
        encode_asymmetric_block<15>(x, qw, sigma2, &out->d, &out->m, q);
        pack_q4(q, out->qs);
    }
};
template <> struct Enc<F_Q5_1> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float sigma2, uint8_t* p) {
        auto* out = (block_q5_1*)p;
        uint8_t q[QK];
        encode_asymmetric_block<31>(x, qw, sigma2, &out->d, &out->m, q);
        pack_q5(q, out->qs, out->qh);
    }
};
template <> struct Enc<F_Q8_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) { encode_q8_0_block(x, *(block_q8_0*)p); }
};

// ---- K-quants ----------------------------------------------------------------------------------
DGKC_HD void pack_scale_min6(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
    for (int j = 0; j < 4; ++j) {
        s[j] = ls[j];
        s[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; ++j) {
        s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        s[j - 4] = (uint8_t)(s[j - 4] | ((ls[j] >> 4) << 6));
        s[j] = (uint8_t)(s[j] | ((lm[j] >> 4) << 6));
    }
}
DGKC_HD void unpack_scale_min6(const uint8_t* s, int j, uint8_t* sc, uint8_t* mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *mn = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}
DGKC_HD void pack_scale6_q3(const int* q, uint8_t* s) {
    for (int j = 0; j < 12; ++j) s[j] = 0;
    for (int j = 0; j < 16; ++j) {
        const int v = q[j];
        if (j < 8) s[j] = (uint8_t)(v & 0xF);
        else s[j - 8] = (uint8_t)(s[j - 8] | ((v & 0xF) << 4));
        s[8 + (j & 3)] = (uint8_t)(s[8 + (j & 3)] | ((v >> 4) << (2 * (j >> 2))));
    }
}
DGKC_HD int unpack_scale6_q3(const uint8_t* s, int j) {
    const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    return (lo | (hi << 4)) - 32;
}
DGKC_HD void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int h = 0; h < 2; ++h) {
        const uint8_t* src = L + 128 * h;
        for (int l = 0; l < 32; ++l)
            qs[32 * h + l] = (uint8_t)(src[l] | (src[l + 32] << 2) | (src[l + 64] << 4) | (src[l + 96] << 6));
    }
}
DGKC_HD float sum_sq256(const float* x) {
    float s = 0.0f;
    for (int i = 0; i < 256; ++i) s += x[i] * x[i];
    return s;
}

template <> struct Enc<F_Q2_K> {
    static constexpr bool available = true;
    DGKC_HD static void requantize(const float* x, const block_q2_k& b, uint8_t* L) {
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        for (int j = 0; j < 16; ++j) {
            const float dl = d * (float)(b.scales[j] & 0xF);
            if (dl == 0.0f) continue;
            const float ml = dmin * (float)(b.scales[j] >> 4);
            for (int i = 0; i < 16; ++i) L[16 * j + i] = (uint8_t)clampi(nearest_int((x[16 * j + i] + ml) / dl), 0, 3);
        }
    }
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_q2_k*)p;
        uint8_t L[256], Laux[16];
        float w[16], scales[16], mins[16];
        if (!qw) {
            float max_scale = 0.0f, max_min = 0.0f;
            for (int j = 0; j < 16; ++j) {
                for (int i = 0; i < 16; ++i) w[i] = fabsf(x[16 * j + i]);
                scales[j] = asymmetric_search(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true, false);
                if (scales[j] > max_scale) max_scale = scales[j];
                if (mins[j] > max_min) max_min = mins[j];
            }
            if (max_scale > 0.0f) {
                const float iscale = 15.f / max_scale;
                for (int j = 0; j < 16; ++j) b.scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
                b.d = f32_to_fp16(max_scale / 15.f);
            } else {
                for (int j = 0; j < 16; ++j) b.scales[j] = 0;
                b.d = f32_to_fp16(0.0f);
            }
            if (max_min > 0.0f) {
                const float iscale = 15.f / max_min;
                for (int j = 0; j < 16; ++j) {
                    const unsigned l = (unsigned)nearest_int(iscale * mins[j]);
                    b.scales[j] = (uint8_t)(b.scales[j] | (l << 4));
                }
                b.dmin = f32_to_fp16(max_min / 15.f);
            } else {
                b.dmin = f32_to_fp16(0.0f);
            }
        } else {
            uint8_t Ls[16], Lm[16];
            float sw[16];
            const float sigma2 = sum_sq256(x) / 256.f;
            for (int j = 0; j < 16; ++j) {
                const float* xs = x + 16 * j;
                for (int i = 0; i < 16; ++i) w[i] = qw[16 * j + i] * sqrtf(sigma2 + xs[i] * xs[i]);
                float s = 0.0f;
                for (int i = 0; i < 16; ++i) s += w[i];
                sw[j] = s;
                scales[j] = asymmetric_search(16, 3, xs, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false, true);
            }
            const float dm = make_qp_quants(16, 15, scales, Ls, sw);
            const float mm = make_qp_quants(16, 15, mins, Lm, sw);
            b.d = f32_to_fp16(dm);
            b.dmin = f32_to_fp16(mm);
            for (int j = 0; j < 16; ++j) b.scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        }
        requantize(x, b, L);
        pack_2bit(L, b.qs);
    }
};

template <> struct Enc<F_Q3_K> {
    static constexpr bool available = true;
    DGKC_HD static void requantize_and_pack(const float* x, block_q3_k& b, int8_t* L) {
        const float d_all = fp16_to_f32(b.d);
        for (int j = 0; j < 16; ++j) {
            const float d = d_all * (float)unpack_scale6_q3(b.scales, j);
            if (d == 0.0f) continue;
            for (int i = 0; i < 16; ++i) L[16 * j + i] = (int8_t)(clampi(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
        }
        for (int i = 0; i < 32; ++i) b.hmask[i] = 0;
        uint8_t low[256];
        for (int e = 0; e < 256; ++e) {
            int l = L[e];
            if (l > 3) {
                b.hmask[e & 31] = (uint8_t)(b.hmask[e & 31] | (1u << (e >> 5)));
                l -= 4;
            }
            low[e] = (uint8_t)l;
        }
        pack_2bit(low, b.qs);
    }
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_q3_k*)p;
        int8_t L[256];
        float scales[16];
        if (!qw) {
            float max_scale = 0.0f, amax = 0.0f;
            for (int j = 0; j < 16; ++j) {
                scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
                const float a = fabsf(scales[j]);
                if (a > amax) {
                    amax = a;
                    max_scale = scales[j];
                }
            }
            if (max_scale != 0.0f) {
                const float iscale = -32.f / max_scale;
                int q[16];
                for (int j = 0; j < 16; ++j) {
                    const int8_t l = (int8_t)nearest_int(iscale * scales[j]);
                    q[j] = clampi(l, -32, 31) + 32;
                }
                pack_scale6_q3(q, b.scales);
                b.d = f32_to_fp16(1 / iscale);
            } else {
                for (int j = 0; j < 12; ++j) b.scales[j] = 0;
                b.d = f32_to_fp16(0.0f);
            }
        } else {
            int8_t Ls[16];
            float w[16], sw[16];
            const float sigma2 = 2 * sum_sq256(x) / 256.f;
            for (int j = 0; j < 16; ++j) {
                const float* xs = x + 16 * j;
                for (int i = 0; i < 16; ++i) w[i] = qw[16 * j + i] * sqrtf(sigma2 + xs[i] * xs[i]);
                float s = 0.0f;
                for (int i = 0; i < 16; ++i) s += w[i];
                sw[j] = s;
                scales[j] = make_qx_quants(16, 4, xs, L + 16 * j, 1, w);
            }
            const float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
            int q[16];
            for (int j = 0; j < 16; ++j) q[j] = Ls[j];
            pack_scale6_q3(q, b.scales);
            b.d = f32_to_fp16(d_block);
        }
        requantize_and_pack(x, b, L);
    }
};

// Q4_K (NMAX 15) and Q5_K (NMAX 31) share the search; they differ in packing and in the clamp of the
// imatrix path's scale codes (Q4_K packs them unclamped, as ggml).
template <int NMAX> DGKC_HD void kq45_scales(const float* x, const float* qw, uint8_t* L, uint8_t* ls, uint8_t* lm,
                                             float* d_out, float* m_out) {
    uint8_t Laux[32];
    float w[32], scales[8], mins[8];
    if (!qw) {
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; ++j) {
            const float* xs = x + 32 * j;
            float sum_x2 = 0.0f;
            for (int i = 0; i < 32; ++i) sum_x2 += xs[i] * xs[i];
            const float av_x = sqrtf(sum_x2 / 32.f);
            for (int i = 0; i < 32; ++i) w[i] = av_x + fabsf(xs[i]);
            scales[j] = NMAX == 15
                ? asymmetric_search(32, 15, xs, w, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20, false, false)
                : asymmetric_search(32, 31, xs, w, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15, false, false);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_scale = max_scale > 0.0f ? 63.f / max_scale : 0.0f;
        const float inv_min = max_min > 0.0f ? 63.f / max_min : 0.0f;
        for (int j = 0; j < 8; ++j) {
            const uint8_t a = (uint8_t)nearest_int(inv_scale * scales[j]);
            const uint8_t c = (uint8_t)nearest_int(inv_min * mins[j]);
            ls[j] = a < 63 ? a : 63;
            lm[j] = c < 63 ? c : 63;
        }
        *d_out = max_scale / 63.f;
        *m_out = max_min / 63.f;
    } else {
        float sw[8];
        const float sigma2 = 2 * sum_sq256(x) / 256.f;
        for (int j = 0; j < 8; ++j) {
            const float* xs = x + 32 * j;
            for (int i = 0; i < 32; ++i) w[i] = qw[32 * j + i] * sqrtf(sigma2 + xs[i] * xs[i]);
            float s = 0.0f;
            for (int i = 0; i < 32; ++i) s += w[i];
            sw[j] = s;
            scales[j] = asymmetric_search(32, NMAX, xs, w, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false, true);
        }
        *d_out = make_qp_quants(8, 63, scales, ls, sw);
        *m_out = make_qp_quants(8, 63, mins, lm, sw);
        if (NMAX == 31) {
            for (int j = 0; j < 8; ++j) {
                ls[j] = ls[j] < 63 ? ls[j] : 63;
                lm[j] = lm[j] < 63 ? lm[j] : 63;
            }
        }
    }
}
template <int NMAX> DGKC_HD void kq45_requantize(const float* x, const uint8_t* scales, uint16_t dh, uint16_t mh,
                                                 uint8_t* L) {
    const float d_all = fp16_to_f32(dh);
    const float m_all = fp16_to_f32(mh);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        unpack_scale_min6(scales, j, &sc, &m);
        const float d = d_all * (float)sc;
        if (d == 0.0f) continue;
        const float dm = m_all * (float)m;
        for (int i = 0; i < 32; ++i) L[32 * j + i] = (uint8_t)clampi(nearest_int((x[32 * j + i] + dm) / d), 0, NMAX);
    }
}
// Q4_K / Q5_K: scales and mins (6-bit codes), super-block d/dmin, then the levels requantized with the
// stored (rounded) scales, as ggml does.
template <int NMAX, class Block> DGKC_HD void kq45_levels(const float* x, const float* qw, Block& b, uint8_t* L) {
    uint8_t ls[8], lm[8];
    float d, m;
    kq45_scales<NMAX>(x, qw, L, ls, lm, &d, &m);
    pack_scale_min6(ls, lm, b.scales);
    b.d = f32_to_fp16(d);
    b.dmin = f32_to_fp16(m);
    kq45_requantize<NMAX>(x, b.scales, b.d, b.dmin, L);
}
template <> struct Enc<F_Q4_K> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_q4_k*)p;
        uint8_t L[256];
        kq45_levels<15>(x, qw, b, L);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
};
template <> struct Enc<F_Q5_K> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_q5_k*)p;
        uint8_t L[256];
        kq45_levels<31>(x, qw, b, L);
        for (int i = 0; i < 32; ++i) b.qh[i] = 0;
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                if (lo > 15) b.qh[l] = (uint8_t)(b.qh[l] | (1u << (2 * c)));
                if (hi > 15) b.qh[l] = (uint8_t)(b.qh[l] | (2u << (2 * c)));
                b.qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
            }
        }
    }
};
template <> struct Enc<F_Q6_K> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_q6_k*)p;
        int8_t L[256];
        float scales[16];
        float max_scale = 0.0f, max_abs_scale = 0.0f;
        for (int s = 0; s < 16; ++s) {
            scales[s] = make_qx_quants(16, 32, x + 16 * s, L + 16 * s, 1, qw ? qw + 16 * s : nullptr);
            const float a = fabsf(scales[s]);
            if (a > max_abs_scale) {
                max_abs_scale = a;
                max_scale = scales[s];
            }
        }
        if (max_abs_scale < kGroupMaxEps) {
            for (int i = 0; i < (int)sizeof(block_q6_k); ++i) p[i] = 0;
            return;
        }
        const float iscale = -128.f / max_scale;
        b.d = f32_to_fp16(1 / iscale);
        for (int s = 0; s < 16; ++s) {
            const int v = nearest_int(iscale * scales[s]);
            b.scales[s] = (int8_t)(v < 127 ? v : 127);
        }
        const float d_all = fp16_to_f32(b.d);
        for (int s = 0; s < 16; ++s) {
            const float d = d_all * (float)b.scales[s];
            if (d == 0.0f) continue;
            for (int i = 0; i < 16; ++i) L[16 * s + i] = (int8_t)(clampi(nearest_int(x[16 * s + i] / d), -32, 31) + 32);
        }
        for (int h = 0; h < 2; ++h) {
            const int8_t* q = L + 128 * h;
            uint8_t* ql = b.ql + 64 * h;
            uint8_t* qh = b.qh + 32 * h;
            for (int l = 0; l < 32; ++l) {
                const unsigned q0 = (uint8_t)q[l], q1 = (uint8_t)q[l + 32];
                const unsigned q2 = (uint8_t)q[l + 64], q3 = (uint8_t)q[l + 96];
                ql[l] = (uint8_t)((q0 & 0xF) | ((q2 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                qh[l] = (uint8_t)((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
            }
        }
    }
};
template <> struct Enc<F_Q8_K> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) {
        auto& b = *(block_q8_k*)p;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            const float a = fabsf(x[j]);
            if (a > amax) {
                amax = a;
                max = x[j];
            }
        }
        if (!amax) {
            for (int i = 0; i < (int)sizeof(block_q8_k); ++i) p[i] = 0;
            return;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            const int v = nearest_int(iscale * x[j]);
            b.qs[j] = (int8_t)(uint8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
            b.bsums[g] = (int16_t)sum;
        }
        b.d = 1 / iscale;
    }
};

// ---- IQ4_NL / IQ4_XS ---------------------------------------------------------------------------
DGKC_HD int iq4_nearest_level(float v) {
    const int8_t* k = DGKC_TAB(kvalues_iq4nl);
    if (v <= k[0]) return 0;
    if (v >= k[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < k[mid]) hi = mid;
        else lo = mid;
    }
    return v - k[hi - 1] < k[hi] - v ? hi - 1 : hi;
}
DGKC_HD float iq4_sigma2(const float* x, int len) {
    float s = 0;
    for (int j = 0; j < len; ++j) s += x[j] * x[j];
    return s * (2.f / len);
}
DGKC_HD void iq4_group_weights(const float* xb, const float* qw, float sigma2, float* w) {
    if (qw) {
        for (int j = 0; j < 32; ++j) w[j] = qw[j] * sqrtf(sigma2 + xb[j] * xb[j]);
    } else {
        for (int j = 0; j < 32; ++j) w[j] = xb[j] * xb[j];
    }
}
DGKC_HD void iq4_fit_sums(const float* xb, const float* w, float id, float& sumqx, float& sumq2) {
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
        const float q = DGKC_TAB(kvalues_iq4nl)[iq4_nearest_level(id * xb[j])];
        sumqx += w[j] * q * xb[j];
        sumq2 += w[j] * q * q;
    }
}
DGKC_HD float iq4_group_scale(const float* xb, const float* w) {
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
        const float a = fabsf(xb[j]);
        if (a > amax) {
            amax = a;
            max = xb[j];
        }
    }
    if (amax < kGroupMaxEps) return 0.f;
    const int k0 = DGKC_TAB(kvalues_iq4nl)[0];
    const float d0 = -max / k0;
    float sumqx, sumq2;
    iq4_fit_sums(xb, w, 1 / d0, sumqx, sumq2);
    float d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int t = -7; t <= 7; ++t) {
        const float id = (t + k0) / max;
        iq4_fit_sums(xb, w, id, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}
DGKC_HD void iq4_levels_pack(const float* xb, float id, uint8_t* qs) {
    uint8_t L[32];
    for (int j = 0; j < 32; ++j) L[j] = (uint8_t)iq4_nearest_level(id * xb[j]);
    for (int j = 0; j < 16; ++j) qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}
template <> struct Enc<F_IQ4_NL> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_iq4_nl*)p;
        float w[32];
        iq4_group_weights(x, qw, iq4_sigma2(x, 32), w);
        const float d = iq4_group_scale(x, w);
        b.d = f32_to_fp16(d);
        iq4_levels_pack(x, d ? 1 / d : 0, b.qs);
    }
};
template <> struct Enc<F_IQ4_XS> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        auto& b = *(block_iq4_xs*)p;
        float w[32], scales[8];
        const float sigma2 = iq4_sigma2(x, QK_K);
        float max_scale = 0, amax_scale = 0;
        for (int g = 0; g < 8; ++g) {
            iq4_group_weights(x + 32 * g, qw ? qw + 32 * g : nullptr, sigma2, w);
            scales[g] = iq4_group_scale(x + 32 * g, w);
            const float a = fabsf(scales[g]);
            if (a > amax_scale) {
                amax_scale = a;
                max_scale = scales[g];
            }
        }
        const float d = -max_scale / 32;
        b.d = f32_to_fp16(d);
        const float id = d ? 1 / d : 0.f;
        b.scales_h = 0;
        for (int g = 0; g < 8; ++g) {
            const int l = clampi(nearest_int(id * scales[g]), -32, 31);
            const float dl = d * l;
            iq4_levels_pack(x + 32 * g, dl ? 1 / dl : 0.f, b.qs + 16 * g);
            const int ls = l + 32;
            if (g % 2 == 0) b.scales_l[g / 2] = (uint8_t)(ls & 0x0f);
            else b.scales_l[g / 2] |= (uint8_t)((ls & 0x0f) << 4);
            b.scales_h |= (uint16_t)((ls >> 4) << 2 * g);
        }
    }
};

// ---- ternary, MXFP4 ----------------------------------------------------------------------------
DGKC_HD float ternary_amax(const float* x) {
    float amax = 0.0f;
    for (int j = 0; j < QK_K; ++j) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}
// lroundf(v) + 1 clamped to 0..2; non-finite or |v| > 2 gives code 1 (see csrc/formats/common/ternary.h).
DGKC_HD int ternary_digit(float v) {
    if (!(fabsf(v) <= 2.0f)) return 1;
    const int r = (int)roundf(v);
    return r < -1 ? 0 : r > 1 ? 2 : r + 1;
}
DGKC_HD uint8_t pack_trits(const float* x, int stride, int count, float id) {
    unsigned t = 0;
    for (int k = 0; k < count; ++k) t = t * 3 + (unsigned)ternary_digit(x[k * stride] * id);
    for (int k = count; k < 5; ++k) t *= 3;
    return (uint8_t)((t * 256 + 242) / 243);
}
template <> struct Enc<F_TQ1_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) {
        auto& b = *(block_tq1_0*)p;
        const float d = ternary_amax(x);
        const float id = d ? 1.0f / d : 0.0f;
        b.d = f32_to_fp16(d);
        for (int i = 0; i < 32; ++i) b.qs[i] = pack_trits(x + i, 32, 5, id);
        for (int i = 0; i < 16; ++i) b.qs[32 + i] = pack_trits(x + 160 + i, 16, 5, id);
        for (int i = 0; i < 4; ++i) b.qh[i] = pack_trits(x + 240 + i, 4, 4, id);
    }
};
template <> struct Enc<F_TQ2_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) {
        auto& b = *(block_tq2_0*)p;
        const float d = ternary_amax(x);
        const float id = d ? 1.0f / d : 0.0f;
        b.d = f32_to_fp16(d);
        for (int c = 0; c < 2; ++c) {
            const float* xc = x + 128 * c;
            for (int i = 0; i < 32; ++i) {
                uint8_t byte = 0;
                for (int k = 0; k < 4; ++k) byte |= (uint8_t)(ternary_digit(xc[i + 32 * k] * id) << (2 * k));
                b.qs[32 * c + i] = byte;
            }
        }
    }
};
// floor(log2(amax)) - 2 + 127, wrapped to a byte as x86 does. The host evaluates log2f (glibc, as the
// CPU reference); the device evaluates log2 in double and rounds to float, which equals a correctly
// rounded log2f — only the floor matters, and both agree on it at every power-of-two edge the tests try.
DGKC_HD uint8_t e8m0_for(float amax) {
#if defined(__CUDA_ARCH__)
    const float lg = (float)log2((double)amax);
#else
    const float lg = log2f(amax);
#endif
    const float e = floorf(lg) - 2 + 127;
    return (uint8_t)((int)e & 0xff);
}
DGKC_HD uint8_t nearest_kvalue(float v, float d) {
    const int8_t* k = DGKC_TAB(kvalues_mxfp4);
    int best = 0;
    float best_err = fabsf(k[0] * d - v);
    for (int i = 1; i < 16; ++i) {
        const float err = fabsf(k[i] * d - v);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return (uint8_t)best;
}
template <> struct Enc<F_MXFP4> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) {
        auto& b = *(block_mxfp4*)p;
        float amax = 0.0f;
        for (int j = 0; j < QK; ++j)
            if (amax < fabsf(x[j])) amax = fabsf(x[j]);
        const uint8_t e = amax > 0.0f ? e8m0_for(amax) : 0;
        const float d = e8m0_half(e);
        b.e = e;
        for (int j = 0; j < QK / 2; ++j) b.qs[j] = (uint8_t)(nearest_kvalue(x[j], d) | nearest_kvalue(x[j + QK / 2], d) << 4);
    }
};

// Plain float formats (element-wise).
template <int F> DGKC_HD void float_store(float v, uint8_t* p, int64_t i);
template <> DGKC_HD void float_store<F_F32>(float v, uint8_t* p, int64_t i) {
    const uint32_t u = f32_bits(v);
    p[4 * i] = (uint8_t)u; p[4 * i + 1] = (uint8_t)(u >> 8); p[4 * i + 2] = (uint8_t)(u >> 16); p[4 * i + 3] = (uint8_t)(u >> 24);
}
template <> DGKC_HD void float_store<F_F16>(float v, uint8_t* p, int64_t i) { store_u16(p + 2 * i, f32_to_fp16(v)); }
template <> DGKC_HD void float_store<F_BF16>(float v, uint8_t* p, int64_t i) { store_u16(p + 2 * i, f32_to_bf16(v)); }

}  // namespace dgk::cuda
