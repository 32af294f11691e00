// Format indices in registry order (csrc/include/dgk/formats.def), shared by host and device code.
#pragma once
namespace dgk::cuda {
enum Fmt : int {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) F_##NAME,
#include "dgk/formats.def"
#undef DGK_FORMAT
    F_COUNT
};
constexpr int kBlockWeights[] = {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) bw,
#include "dgk/formats.def"
#undef DGK_FORMAT
};
constexpr int kBlockBytes[] = {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) bb,
#include "dgk/formats.def"
#undef DGK_FORMAT
};
constexpr const char* kNames[] = {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) #NAME,
#include "dgk/formats.def"
#undef DGK_FORMAT
};
// Compile-time geometry usable in device code (the arrays above are host-only at run time).
#if defined(__CUDACC__)
#define DGKC_CX __host__ __device__ constexpr
#else
#define DGKC_CX constexpr
#endif
DGKC_CX int block_weights(int f) {
    switch (f) {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) case F_##NAME: return bw;
#include "dgk/formats.def"
#undef DGK_FORMAT
    }
    return 1;
}
DGKC_CX int block_bytes(int f) {
    switch (f) {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) case F_##NAME: return bb;
#include "dgk/formats.def"
#undef DGK_FORMAT
    }
    return 1;
}
// Output element types of decode (the _core numbering).
enum OutType : int { OUT_F32 = 0, OUT_F16 = 1, OUT_BF16 = 2 };
}  // namespace dgk::cuda
