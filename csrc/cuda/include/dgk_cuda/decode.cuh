// Decode of the CUDA kernels: Dec<F>::run(block bytes, g, y) writes elements 8g..8g+7 of one block as
// float32 through the format's shared host+device decoder (csrc/formats/<fmt>/decode_group.h, the very
// code of the CPU scalar reference). One device thread decodes one group of 8; the emulation loops over
// all groups on the CPU.
#pragma once
#include "common.cuh"
#include "formats.cuh"
#include "formats/q4_0/decode_group.h"
#include "formats/q4_1/decode_group.h"
#include "formats/q5_0/decode_group.h"
#include "formats/q5_1/decode_group.h"
#include "formats/q8_0/decode_group.h"
#include "formats/q2_k/decode_group.h"
#include "formats/q3_k/decode_group.h"
#include "formats/q4_k/decode_group.h"
#include "formats/q5_k/decode_group.h"
#include "formats/q6_k/decode_group.h"
#include "formats/q8_k/decode_group.h"
#include "formats/iq1_s/decode_group.h"
#include "formats/iq1_m/decode_group.h"
#include "formats/iq2_xxs/decode_group.h"
#include "formats/iq2_xs/decode_group.h"
#include "formats/iq2_s/decode_group.h"
#include "formats/iq3_xxs/decode_group.h"
#include "formats/iq3_s/decode_group.h"
#include "formats/iq4_nl/decode_group.h"
#include "formats/iq4_xs/decode_group.h"
#include "formats/tq1_0/decode_group.h"
#include "formats/tq2_0/decode_group.h"
#include "formats/mxfp4/decode_group.h"

namespace dgk::cuda {

// The block struct of each format (registry order).
template <int F> struct BlockOf;
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) \
    template <> struct BlockOf<F_##NAME> { using type = block_##lower; };
#include "dgk/formats.def"
#undef DGK_FORMAT

// Block formats only (the float formats decode through float_elem below).
template <int F> struct Dec {
    DGKC_HD static void run(const uint8_t* p, int g, float* y) {
        const auto& b = *reinterpret_cast<const typename BlockOf<F>::type*>(p);
        decode_run(b, decode_head(b), 8 * g, 8, y);
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
