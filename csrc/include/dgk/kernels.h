// Declarations of every format's kernels, generated from the registry.
// Scalar reference kernels live in namespace dgk::ref (csrc/formats/<fmt>/ref.cpp, encode.cpp; the block
// decoders in csrc/formats/common/decode_ref.cpp);
// AVX2 kernels in dgk::avx2 (csrc/formats/<fmt>/avx2.cpp), compiled with AVX2 flags only there.
#pragma once
#include <cstdint>

namespace dgk {
namespace ref {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im)                         \
    void decode_##lower(const void* src, float* dst, int64_t nblocks);       \
    void encode_##lower(const float* x, void* dst, int64_t n, const float* imatrix);
#include "dgk/formats.def"
#undef DGK_FORMAT
}  // namespace ref
}  // namespace dgk
