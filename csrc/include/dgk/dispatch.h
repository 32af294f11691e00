// The entry points the bindings call: validated sizes in, kernels of the active ISA, rows on threads.
#pragma once
#include <cstdint>

#include "dgk/registry.h"

namespace dgk {

enum class OutType { F32, F16, BF16 };

// Encode `nrows` rows of `n` weights each; dst receives nrows * row_bytes(n) bytes. Returns -1, or
// the flat index of the first NaN/Inf in x: then rows from the bad one on may be left unwritten.
// check_finite = false skips that check, for callers that have already validated x.
int64_t encode_rows(FormatId f, const float* x, void* dst, int64_t nrows, int64_t n,
                    const float* imatrix, int threads, Isa isa, bool check_finite = true);

// Decode `nblocks` blocks into nblocks*weights_per_block values of type `out`.
void decode_blocks(FormatId f, const void* src, void* dst, OutType out, int64_t nblocks,
                   int threads, Isa isa);

// Float32 outputs of at least this many bytes are written with streaming stores where the format has
// such a decoder (the copy-like F32/F16/BF16). -1 (the default): the last-level cache size. Returns
// the previous setting; tests set 0 to run the streaming decoders on small inputs.
int64_t set_stream_threshold(int64_t bytes);

// f32 -> f16/bf16 (round to nearest even) for n values, on the given ISA.
void convert_f32(const float* src, void* dst, OutType out, int64_t n, Isa isa);

}  // namespace dgk
