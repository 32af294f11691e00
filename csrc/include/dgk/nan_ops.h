// Float arithmetic of the decoders with x86 SSE NaN results on every compiler. On x86 an operation with
// a NaN operand returns that NaN quieted (the left one when both are NaN) and an invalid operation
// (inf*0, inf-inf) returns the negative default NaN 0xFFC00000; a GPU returns the canonical 0x7FFFFFFF
// instead. Decoders meet NaN/inf whenever a scale field holds one, so they compute through these: on the
// device (and in nvcc's host emulation of it) a result NaN is rebuilt as x86 would have it; in the CPU
// build they are the plain operation, which the x86 hardware already performs.
#pragma once
#include <cstdint>

#include "dgk/fp.h"

namespace dgk {

#if defined(__CUDACC__)
// Every nvcc compilation: the device code, and the host emulation the tests compare with the CPU
// reference (so these fix-ups are checked on a machine without a GPU too).
DGK_HD float x86_nan(float a, float b) {
    if (a != a) return bits_f32(f32_bits(a) | 0x00400000u);
    if (b != b) return bits_f32(f32_bits(b) | 0x00400000u);
    return bits_f32(0xFFC00000u);
}
DGK_HD float xmul(float a, float b) {
    const float r = a * b;
    return r == r ? r : x86_nan(a, b);
}
DGK_HD float xadd(float a, float b) {
    const float r = a + b;
    return r == r ? r : x86_nan(a, b);
}
DGK_HD float xsub(float a, float b) {
    const float r = a - b;
    return r == r ? r : x86_nan(a, b);
}
#else
DGK_HD float xmul(float a, float b) { return a * b; }
DGK_HD float xadd(float a, float b) { return a + b; }
DGK_HD float xsub(float a, float b) { return a - b; }
#endif

// v with its sign bit flipped where flip is 1 (flip: 0 or 1): ggml's `* (s ? -1.f : 1.f)`, which GCC
// compiles to a flip, keeping a NaN's payload. A bit operation rather than a branch (sign patterns are
// random); on the device an opaque xor: a float negation could be lowered to an arithmetic op that
// canonicalises NaN.
DGK_HD float xneg_if(float v, uint32_t flip) {
#if defined(__CUDA_ARCH__)
    uint32_t r;
    asm("xor.b32 %0, %1, %2;" : "=r"(r) : "r"(__float_as_uint(v)), "r"(flip << 31));
    return __uint_as_float(r);
#else
    return bits_f32(f32_bits(v) ^ (flip << 31));
#endif
}

}  // namespace dgk
