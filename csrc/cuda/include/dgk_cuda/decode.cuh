// Per-group decoders: decode8<F>(block bytes, g, y) writes elements 8g..8g+7 of one block as float32,
// with the operations (and their order) of the CPU reference decoders in csrc/formats/<fmt>/.
// One device thread decodes one group of 8; the emulation loops over all groups on the CPU.
#pragma once
#include "common.cuh"
#include "formats.cuh"
#include "formats/common/kquant_scales.h"
#include "formats/common/ternary.h"
#include "formats/mxfp4/block.h"

namespace dgk::cuda {

template <int F> struct Dec;  // specialised per block format below

// Float arithmetic with x86 SSE NaN results, on both sides. The CPU reference runs on x86, where an
// operation with a NaN operand returns that NaN quieted (the left one when both are NaN) and an invalid
// operation (inf*0, inf-inf) returns the negative "default NaN" 0xFFC00000; a GPU returns the canonical
// 0x7FFFFFFF instead. Decoders see NaN/inf whenever an fp16 scale field holds one, so every operation
// in them goes through these. (On the host they reproduce what the hardware does anyway, which is what
// the emulation tests check against _core.)
DGKC_HD float x86_nan(float a, float b) {
    if (a != a) return bits_f32(f32_bits(a) | 0x00400000u);
    if (b != b) return bits_f32(f32_bits(b) | 0x00400000u);
    return bits_f32(0xFFC00000u);
}
DGKC_HD float xmul(float a, float b) {
    const float r = a * b;
    return r == r ? r : x86_nan(a, b);
}
DGKC_HD float xadd(float a, float b) {
    const float r = a + b;
    return r == r ? r : x86_nan(a, b);
}
DGKC_HD float xsub(float a, float b) {
    const float r = a - b;
    return r == r ? r : x86_nan(a, b);
}

// Nibble of element e of a 32-weight block laid out as "byte j = e_j | e_{j+16} << 4".
DGKC_HD int nib32(const uint8_t* qs, int e) { return e < 16 ? (qs[e] & 0x0f) : (qs[e - 16] >> 4); }

template <> struct Dec<F_Q4_0> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q4_0*)p;
        const float d = fp16_to_f32(b->d);
        for (int j = 0; j < 8; ++j) y[j] = xmul((float)(nib32(b->qs, 8 * g + j) - 8), d);
    }
};
template <> struct Dec<F_Q4_1> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q4_1*)p;
        const float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m);
        for (int j = 0; j < 8; ++j) {
            const float q = xmul((float)nib32(b->qs, 8 * g + j), d);
            y[j] = q != q ? q : xadd(q, m);  // keep the product's NaN, as the CPU decoder
        }
    }
};
DGKC_HD int q5_value(const uint8_t* qs, const uint8_t* qh, int e) {
    const uint32_t high = load_u32(qh);
    return nib32(qs, e) | (int)(((high >> e) & 1u) << 4);
}
template <> struct Dec<F_Q5_0> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q5_0*)p;
        const float d = fp16_to_f32(b->d);
        for (int j = 0; j < 8; ++j) y[j] = xmul((float)(q5_value(b->qs, b->qh, 8 * g + j) - 16), d);
    }
};
template <> struct Dec<F_Q5_1> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q5_1*)p;
        const float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m);
        for (int j = 0; j < 8; ++j) {
            const float q = xmul((float)q5_value(b->qs, b->qh, 8 * g + j), d);
            y[j] = q != q ? q : xadd(q, m);
        }
    }
};
template <> struct Dec<F_Q8_0> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q8_0*)p;
        const float d = fp16_to_f32(b->d);
        for (int j = 0; j < 8; ++j) y[j] = xmul((float)b->qs[8 * g + j], d);
    }
};

// ---- K-quants ------------------------------------------------------------------------------------
template <> struct Dec<F_Q2_K> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q2_k*)p;
        const float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
        const int s = g >> 1;  // sub-block of 16
        const float dl = xmul(d, (float)(b->scales[s] & 0xF));
        const float ml = xmul(dmin, (float)(b->scales[s] >> 4));
        const uint8_t* q = b->qs + 32 * (s >> 3) + 16 * (s & 1);
        const int shift = 2 * ((s & 7) >> 1);
        const int l0 = 8 * (g & 1);
        for (int j = 0; j < 8; ++j) y[j] = xsub(xmul(dl, (float)((q[l0 + j] >> shift) & 3)), ml);
    }
};
template <> struct Dec<F_Q3_K> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q3_k*)p;
        const float d_all = fp16_to_f32(b->d);
        const int s = g >> 1;
        const float dl = xmul(d_all, (float)kq::unpack_scale6_q3(b->scales, s));
        const int off = 16 * (s & 1);
        const uint8_t* q = b->qs + 32 * (s >> 3) + off;
        const uint8_t* hm = b->hmask + off;
        const int shift = 2 * ((s & 7) >> 1);
        const unsigned hbit = 1u << (s >> 1);
        const int l0 = 8 * (g & 1);
        for (int j = 0; j < 8; ++j) {
            const int l = l0 + j;
            const int v = ((q[l] >> shift) & 3) - ((hm[l] & hbit) ? 0 : 4);
            y[j] = xmul(dl, (float)v);
        }
    }
};
// Q4_K and Q5_K: (d*sc)*q - dmin*m per 32-weight sub-block; Q5_K adds bit 4 of each level from qh.
template <class Block, bool HighBit>
DGKC_HD void decode_q45_k(const uint8_t* p, int g, float* y) {
    const auto* b = (const Block*)p;
    const float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
    const int e0 = 8 * g, c = e0 >> 6, half = (e0 >> 5) & 1, l0 = e0 & 31;
    uint8_t sc, m;
    kq::unpack_scale_min6(b->scales, 2 * c + half, &sc, &m);
    const float dl = xmul(d, (float)sc), ml = xmul(dmin, (float)m);
    const uint8_t* q = b->qs + 32 * c;
    for (int j = 0; j < 8; ++j) {
        const int l = l0 + j;
        int v = half ? (q[l] >> 4) : (q[l] & 0xF);
        if constexpr (HighBit) v += (b->qh[l] & ((half ? 2u : 1u) << (2 * c))) ? 16 : 0;
        y[j] = xsub(xmul(dl, (float)v), ml);
    }
}
template <> struct Dec<F_Q4_K> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) { decode_q45_k<block_q4_k, false>(p, g, y); }
};
template <> struct Dec<F_Q5_K> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) { decode_q45_k<block_q5_k, true>(p, g, y); }
};
template <> struct Dec<F_Q6_K> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q6_k*)p;
        const float d = fp16_to_f32(b->d);
        const int e0 = 8 * g, h = e0 >> 7, k = (e0 >> 5) & 3, l0 = e0 & 31;
        const uint8_t* ql = b->ql + 64 * h + (k & 1) * 32;
        const uint8_t* qh = b->qh + 32 * h;
        const int8_t* sc = b->scales + 8 * h;
        for (int j = 0; j < 8; ++j) {
            const int l = l0 + j;
            const int lo = (k >> 1) ? (ql[l] >> 4) : (ql[l] & 0xF);
            const int q = (lo | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
            y[j] = xmul(xmul(d, (float)sc[(l >> 4) + 2 * k]), (float)q);
        }
    }
};
template <> struct Dec<F_Q8_K> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_q8_k*)p;
        for (int j = 0; j < 8; ++j) y[j] = xmul(b->d, (float)b->qs[8 * g + j]);
    }
};

// ---- IQ formats ----------------------------------------------------------------------------------
template <> struct Dec<F_IQ1_S> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq1_s*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2, l = g & 3;
        const unsigned h = b->qh[G];
        const float dl = xmul(d, (float)(2 * ((h >> 12) & 7u) + 1));
        const float shift = (h & 0x8000u) ? -0.125f : 0.125f;
        const unsigned idx = b->qs[4 * G + l] | (((h >> (3 * l)) & 7u) << 8);
        const uint64_t point = DGK_TAB(iq1s_grid)[idx];
        for (int j = 0; j < 8; ++j) y[j] = xmul(dl, (float)(int8_t)(uint8_t)(point >> (8 * j)) + shift);
    }
};
template <> struct Dec<F_IQ1_M> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq1_m*)p;
        uint32_t sc[4];
        for (int i = 0; i < 4; ++i) sc[i] = load_u16(b->scales + 2 * i);
        const uint16_t dbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0u) | ((sc[2] >> 4) & 0x0f00u) |
                                          (sc[3] & 0xf000u));
        const float d = fp16_to_f32(dbits);
        const int G = g >> 2, l = g & 3;
        const unsigned word = sc[G / 2] >> (6 * (G % 2));
        const float dl = l < 2 ? xmul(d, (float)(2 * (word & 7u) + 1)) : xmul(d, (float)(2 * ((word >> 3) & 7u) + 1));
        const unsigned nib = (unsigned)b->qh[2 * G + l / 2] >> (4 * (l % 2));
        const unsigned idx = b->qs[4 * G + l] | ((nib & 7u) << 8);
        const float shift = (nib & 8u) ? -0.125f : 0.125f;
        const uint64_t point = DGK_TAB(iq1s_grid)[idx];
        for (int j = 0; j < 8; ++j) y[j] = xmul(dl, (float)(int8_t)(uint8_t)(point >> (8 * j)) + shift);
    }
};
// Sign flip as a pure bit operation (a NaN keeps its payload and flips its sign, as on the CPU, where
// the compiler turns the reference's `* (s ? -1.f : 1.f)` into a negation). On the device an opaque xor:
// a float negation could be lowered to an arithmetic op that canonicalises NaN.
DGKC_HD float flip_sign(float v) {
#if defined(__CUDA_ARCH__)
    unsigned r;
    asm("xor.b32 %0, %1, 0x80000000;" : "=r"(r) : "r"(__float_as_uint(v)));
    return __uint_as_float(r);
#else
    return bits_f32(f32_bits(v) ^ 0x80000000u);
#endif
}
DGKC_HD void signed_grid8(float db, uint64_t point, unsigned signs, float* y) {
    for (int j = 0; j < 8; ++j) {
        const float mag = (float)((point >> (8 * j)) & 0xffu);
        const float t = xmul(db, mag);
        y[j] = ((signs >> j) & 1u) ? flip_sign(t) : t;
    }
}
template <> struct Dec<F_IQ2_XXS> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq2_xxs*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2, l = g & 3;
        const uint8_t* w = (const uint8_t*)(b->qs + 4 * G);
        const uint32_t w0 = load_u32(w), w1 = load_u32(w + 4);
        const float db = xmul(xmul(d, 0.5f + (float)(w1 >> 28)), 0.25f);
        signed_grid8(db, DGK_TAB(iq2xxs_grid)[(w0 >> (8 * l)) & 0xffu], DGK_TAB(ksigns_iq2xs)[(w1 >> (7 * l)) & 127u], y);
    }
};
template <> struct Dec<F_IQ2_XS> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq2_xs*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2, l = g & 3;
        const float db = l < 2 ? xmul(xmul(d, 0.5f + (float)(b->scales[G] & 0xf)), 0.25f)
                               : xmul(xmul(d, 0.5f + (float)(b->scales[G] >> 4)), 0.25f);
        const unsigned code = b->qs[4 * G + l];
        signed_grid8(db, DGK_TAB(iq2xs_grid)[code & 511u], DGK_TAB(ksigns_iq2xs)[code >> 9], y);
    }
};
template <> struct Dec<F_IQ2_S> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq2_s*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2, l = g & 3;
        const float db = l < 2 ? xmul(xmul(d, 0.5f + (float)(b->scales[G] & 0xf)), 0.25f)
                               : xmul(xmul(d, 0.5f + (float)(b->scales[G] >> 4)), 0.25f);
        const unsigned idx = b->qs[4 * G + l] | ((((unsigned)b->qh[G] >> (2 * l)) & 3u) << 8);
        signed_grid8(db, DGK_TAB(iq2s_grid)[idx], b->qs[QK_K / 8 + 4 * G + l], y);
    }
};
template <> struct Dec<F_IQ3_XXS> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq3_xxs*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2, l = g & 3;
        const uint32_t aux = load_u32(b->qs + QK_K / 4 + 4 * G);
        const float db = xmul(xmul(d, 0.5f + (float)(aux >> 28)), 0.5f);
        const uint8_t* idx = b->qs + 8 * G;
        const uint64_t pair = (uint64_t)DGK_TAB(iq3xxs_grid)[idx[2 * l]] |
                              ((uint64_t)DGK_TAB(iq3xxs_grid)[idx[2 * l + 1]] << 32);
        signed_grid8(db, pair, DGK_TAB(ksigns_iq2xs)[(aux >> (7 * l)) & 127u], y);
    }
};
template <> struct Dec<F_IQ3_S> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq3_s*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2, l = g & 3;
        const unsigned s = (b->scales[G / 2] >> (4 * (G % 2))) & 0xfu;
        const float db = xmul(d, (float)(1 + 2 * s));
        const uint8_t* idx = b->qs + 8 * G;
        const unsigned high = b->qh[G];
        const uint32_t p0 = DGK_TAB(iq3s_grid)[idx[2 * l] | (((high >> (2 * l)) & 1u) << 8)];
        const uint32_t p1 = DGK_TAB(iq3s_grid)[idx[2 * l + 1] | (((high >> (2 * l + 1)) & 1u) << 8)];
        signed_grid8(db, (uint64_t)p0 | ((uint64_t)p1 << 32), b->signs[4 * G + l], y);
    }
};
template <> struct Dec<F_IQ4_NL> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq4_nl*)p;
        const float d = fp16_to_f32(b->d);
        for (int j = 0; j < 8; ++j) y[j] = xmul(d, (float)DGK_TAB(kvalues_iq4nl)[nib32(b->qs, 8 * g + j)]);
    }
};
template <> struct Dec<F_IQ4_XS> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_iq4_xs*)p;
        const float d = fp16_to_f32(b->d);
        const int G = g >> 2;
        const int ls = ((b->scales_l[G / 2] >> 4 * (G % 2)) & 0x0f) | (((b->scales_h >> 2 * G) & 3) << 4);
        const float dl = xmul(d, (float)(ls - 32));
        for (int j = 0; j < 8; ++j) y[j] = xmul(dl, (float)DGK_TAB(kvalues_iq4nl)[nib32(b->qs + 16 * G, 8 * (g & 3) + j)]);
    }
};

// ---- ternary and FP4 -----------------------------------------------------------------------------
template <> struct Dec<F_TQ1_0> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_tq1_0*)p;
        const float d = fp16_to_f32(b->d);
        for (int j = 0; j < 8; ++j) {
            const int e = 8 * g + j;
            int t;
            if (e < 160) t = unpack_trit(b->qs[e & 31], e >> 5);
            else if (e < 240) t = unpack_trit(b->qs[32 + ((e - 160) & 15)], (e - 160) >> 4);
            else t = unpack_trit(b->qh[(e - 240) & 3], (e - 240) >> 2);
            y[j] = xmul((float)t, d);
        }
    }
};
template <> struct Dec<F_TQ2_0> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_tq2_0*)p;
        const float d = fp16_to_f32(b->d);
        for (int j = 0; j < 8; ++j) {
            const int e = 8 * g + j, c = e >> 7, k = (e >> 5) & 3, bb = e & 31;
            const int code = (b->qs[32 * c + bb] >> (2 * k)) & 3;
            y[j] = xmul((float)(code - 1), d);
        }
    }
};
template <> struct Dec<F_MXFP4> {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto* b = (const block_mxfp4*)p;
        const float d = e8m0_half(b->e);
        for (int j = 0; j < 8; ++j) y[j] = xmul((float)DGK_TAB(kvalues_mxfp4)[nib32(b->qs, 8 * g + j)], d);
    }
};

// Plain float formats: one element at a time (rows need not be multiples of 8).
template <int F> DGKC_HD float float_elem(const uint8_t* p, int64_t i);
template <> DGKC_HD float float_elem<F_F32>(const uint8_t* p, int64_t i) { return bits_f32(load_u32(p + 4 * i)); }
template <> DGKC_HD float float_elem<F_F16>(const uint8_t* p, int64_t i) { return fp16_to_f32((uint16_t)load_u16(p + 2 * i)); }
template <> DGKC_HD float float_elem<F_BF16>(const uint8_t* p, int64_t i) { return bf16_to_f32((uint16_t)load_u16(p + 2 * i)); }

// Output conversion: the f32 result rounded to nearest even (dgk/fp.h, same code on both sides).
template <int OUT> struct Store;
template <> struct Store<OUT_F32> {
    using T = float;
    DGKC_HD static T cvt(float v) { return v; }
};
template <> struct Store<OUT_F16> {
    using T = uint16_t;
    DGKC_HD static T cvt(float v) { return f32_to_fp16(v); }
};
template <> struct Store<OUT_BF16> {
    using T = uint16_t;
    DGKC_HD static T cvt(float v) { return f32_to_bf16(v); }
};

}  // namespace dgk::cuda
