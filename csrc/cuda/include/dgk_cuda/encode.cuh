// Per-block encoders, host+device: Enc<F>::run(x, qw, row_sigma2, out) encodes one block of F from its
// weights x (and, when qw is not null, the block's slice of the importance matrix). row_sigma2 is the
// mean square of the whole row (row_sigma2 of legacy_pack.h); only the legacy imatrix encoders read it.
#pragma once
#include "common.cuh"
#include "formats.cuh"
#include "formats/common/legacy_encode.h"
#include "formats/q2_k/encode_block.h"
#include "formats/q3_k/encode_block.h"
#include "formats/q4_k/encode_block.h"
#include "formats/q5_k/encode_block.h"
#include "formats/q6_k/encode_block.h"
#include "formats/q8_k/encode_block.h"
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

// ---- K-quants (csrc/formats/q*_k/encode_block.h) ---------------------------------------------------
#define DGKC_K_ENC(NAME, lower)                                                               \
    template <> struct Enc<F_##NAME> {                                                        \
        static constexpr bool available = true;                                               \
        DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {          \
            encode_##lower##_block(x, qw, *(block_##lower*)p);                                 \
        }                                                                                     \
    };
DGKC_K_ENC(Q2_K, q2_k)
DGKC_K_ENC(Q3_K, q3_k)
DGKC_K_ENC(Q4_K, q4_k)
DGKC_K_ENC(Q5_K, q5_k)
DGKC_K_ENC(Q6_K, q6_k)
#undef DGKC_K_ENC
template <> struct Enc<F_Q8_K> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) { encode_q8_k_block(x, *(block_q8_k*)p); }
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
