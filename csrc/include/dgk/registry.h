// The C++ view of formats.def: one FormatInfo per format, kernels per instruction set.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace dgk {

enum class Family { Float, Legacy, KQuant, IQuant, Ternary, FP4 };
enum class Imatrix { Ignored, Optional, Required };
enum class Isa { Scalar = 0, Avx2 = 1 };
constexpr int kNumIsa = 2;

enum class FormatId : int {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) NAME,
#include "dgk/formats.def"
#undef DGK_FORMAT
    Count
};
constexpr int kNumFormats = static_cast<int>(FormatId::Count);

// Decode `nblocks` consecutive blocks into nblocks*weights_per_block floats.
using DecodeFn = void (*)(const void* src, float* dst, int64_t nblocks);
// Encode one row of `n` weights (a multiple of the block size). `imatrix` has n entries or is null.
using EncodeFn = void (*)(const float* x, void* dst, int64_t n, const float* imatrix);

// An encoder that also checks its row for NaN/Inf on the values it loads anyway: returns -1, or the
// index of the row's first non-finite value (its output is then unspecified). Optional: where a
// format has none, encode_rows scans each row before encoding it.
using CheckedEncodeFn = int64_t (*)(const float* x, void* dst, int64_t n, const float* imatrix);

struct Kernels {
    DecodeFn decode = nullptr;
    EncodeFn encode = nullptr;
    CheckedEncodeFn encode_checked = nullptr;
    DecodeFn decode_stream = nullptr;  // same bytes as decode, written with streaming stores (large outputs)
};

// One ISA's kernels of one format (null = use the scalar reference), see csrc/core/isa_tables.cpp.
struct IsaKernels {
    FormatId format;
    DecodeFn decode;
    EncodeFn encode;
    CheckedEncodeFn encode_checked = nullptr;
    DecodeFn decode_stream = nullptr;
};

struct FormatInfo {
    const char* name;
    int type_id;
    int block_weights;
    int block_bytes;
    Family family;
    Imatrix imatrix;
};

const FormatInfo& format_info(FormatId f);
// Kernels of format f for an instruction set; an ISA without its own kernel falls back to scalar.
const Kernels& kernels(FormatId f, Isa isa);
const Kernels* avx2_kernel_table();

// Raised by an encoder that the project has not implemented yet (Python: NotImplementedError).
struct NotImplemented : std::logic_error {
    using std::logic_error::logic_error;
};

}  // namespace dgk
