// Per-block encoders, host+device: Enc<F>::run(x, qw, row_sigma2, out) encodes one block of F from its
// weights x (and, when qw is not null, the block's slice of the importance matrix). row_sigma2 is the
// mean square of the whole row (row_sigma2 of legacy_pack.h); only the legacy imatrix encoders read it.
#pragma once
#include "common.cuh"
#include "formats.cuh"
#include "formats/common/legacy_encode.h"
#include "formats/common/scale_search.h"
#include "formats/common/ternary.h"
#include "formats/iq4_nl/encode_block.h"
#include "formats/iq4_xs/encode_block.h"
#include "formats/mxfp4/block.h"
#include "formats/q2_k/encode_block.h"
#include "formats/q3_k/encode_block.h"
#include "formats/q4_k/encode_block.h"
#include "formats/q5_k/encode_block.h"
#include "formats/q6_k/encode_block.h"
#include "formats/q8_k/encode_block.h"

namespace dgk::cuda {

template <int F> struct Enc { static constexpr bool available = false; };

// ---- legacy (csrc/formats/common/legacy_encode.h) ------------------------------------------------
// NMAX 8 / 16: symmetric (d); 15 / 31: asymmetric (d, m). 4-bit levels for NMAX 8 and 15, else 5-bit.
template <class Block, int NMAX>
struct LegacyEnc {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float sigma2, uint8_t* p) {
        auto* out = (Block*)p;
        uint8_t q[QK];
        if constexpr (NMAX == 8 || NMAX == 16) encode_symmetric_block<NMAX>(x, qw, sigma2, &out->d, q);
        else encode_asymmetric_block<NMAX>(x, qw, sigma2, &out->d, &out->m, q);
        if constexpr (NMAX == 8 || NMAX == 15) pack_q4(q, out->qs);
        else pack_q5(q, out->qs, out->qh);
    }
};
template <> struct Enc<F_Q4_0> : LegacyEnc<block_q4_0, 8> {};
template <> struct Enc<F_Q5_0> : LegacyEnc<block_q5_0, 16> {};
template <> struct Enc<F_Q4_1> : LegacyEnc<block_q4_1, 15> {};
template <> struct Enc<F_Q5_1> : LegacyEnc<block_q5_1, 31> {};
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

// ---- IQ4, ternary, MXFP4 (csrc/formats/{iq4_nl,iq4_xs}/encode_block.h, common/ternary.h, mxfp4/block.h)
template <> struct Enc<F_IQ4_NL> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        encode_iq4_nl_block(x, qw, *(block_iq4_nl*)p);
    }
};
template <> struct Enc<F_IQ4_XS> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float* qw, float, uint8_t* p) {
        encode_iq4_xs_block(x, qw, *(block_iq4_xs*)p);
    }
};
template <> struct Enc<F_TQ1_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) { encode_tq1_0_block(x, *(block_tq1_0*)p); }
};
template <> struct Enc<F_TQ2_0> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) { encode_tq2_0_block(x, *(block_tq2_0*)p); }
};
template <> struct Enc<F_MXFP4> {
    static constexpr bool available = true;
    DGKC_HD static void run(const float* x, const float*, float, uint8_t* p) { encode_mxfp4_block(x, *(block_mxfp4*)p); }
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
