// The block decoders, written once for the CPU scalar reference and the CUDA kernels. Each format's
// decode_group.h defines, for its block type B (overloads in namespace dgk, beside the block structs, so
// that templates find them by argument-dependent lookup):
//   decode_run_len(const B*)           R: how many consecutive elements share their scale and layout;
//   decode_head(const B&)              the block's scale fields, decoded once per block;
//   decode_run(const B&, head, e0, n, y)  elements e0..e0+n-1 into y[0..n-1], where n is 8 or R (R is
//                                      a multiple of 8) and e0 a multiple of n,
// with the operations (and their order) of ggml's dequantize_row_*, each float operation through
// dgk/nan_ops.h so that the device gives x86's NaN bits. The CPU decodes a block as runs of R elements
// (decode_blocks below: long runs let the compiler vectorize); one CUDA thread decodes one run of 8
// (csrc/cuda/include/dgk_cuda/decode.cuh).
#pragma once
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/bytes.h"
#include "dgk/fp.h"
#include "dgk/nan_ops.h"
#include "dgk/tables_hd.h"

// Before a run's element loop. Host GCC would completely unroll a 16-iteration loop before its vectorizer
// sees it, leaving byte-by-byte loads (2-3x slower); kept as a loop (unrolled by 4 at most), it
// vectorizes, and a table-lookup loop that does not vectorize keeps little loop overhead.
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#define DGK_RUN_LOOP _Pragma("GCC unroll 4")
#else
#define DGK_RUN_LOOP
#endif

namespace dgk {

struct ScaleHead {  // one scale per block
    float d;
};
struct ScaleMinHead {  // a scale and a min (or offset) per block
    float d, m;
};

// 32 weights in 16 bytes, byte i = element i | element i+16 << 4: element e0+j (e0 + n <= 16 or
// e0 >= 16, as runs of at most 16 are).
DGK_HD int nibble32(const uint8_t* qs, int e0, int j) { return (qs[(e0 & 15) + j] >> (4 * (e0 >> 4))) & 0xF; }

// q * d + m of the offset formats (Q4_1, Q5_1). When q*d and m are both NaN, the product's NaN is kept
// (as ggml's build does) rather than whichever operand the compiler happens to put first.
DGK_HD float scaled_plus_min(float q, ScaleMinHead h) {
    const float p = xmul(q, h.d);
    return p != p ? p : xadd(p, h.m);
}

#if !defined(__CUDACC__)  // CPU only
// The CPU scalar decoder of a block format: every block in order, as runs of R elements. `restrict`:
// the output never overlaps the blocks, which lets the compiler vectorize the runs.
template <class Block, int Weights>
static inline void decode_blocks(const Block* __restrict blocks, float* __restrict dst, int64_t nblocks) {
    constexpr int R = decode_run_len((const Block*)nullptr);
    for (int64_t i = 0; i < nblocks; ++i, dst += Weights) {
        const auto head = decode_head(blocks[i]);
#pragma GCC unroll 32  // constant e0: each run's offsets, shifts and scale indices fold
        for (int e0 = 0; e0 < Weights; e0 += R) decode_run(blocks[i], head, e0, R, dst + e0);
    }
}
template <class Block, int Weights>
static inline void decode_blocks(const void* src, float* dst, int64_t nblocks) {
    decode_blocks<Block, Weights>(static_cast<const Block*>(src), dst, nblocks);
}
#endif

}  // namespace dgk
