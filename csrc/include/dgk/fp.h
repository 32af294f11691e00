// Scalar number conversions and rounding helpers whose exact bits decide encoded bytes.
// Every function here is pure integer/IEEE logic so that scalar, AVX2 and CUDA agree.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// `static`: every translation unit gets its own copy, so an AVX2-compiled copy can never be the one
// the linker picks for scalar code (an ODR-merged inline would risk SIGILL on older CPUs).
#if defined(__CUDACC__)
#define DGK_HD static __host__ __device__ inline
#define DGK_HD_MEMBER __host__ __device__  // member functions of types in an unnamed namespace
#else
#define DGK_HD static inline
#define DGK_HD_MEMBER
#endif

namespace dgk {

DGK_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
#endif
}

DGK_HD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
}

// IEEE binary16 -> binary32 (exact for every input, NaN payload kept).
DGK_HD float fp16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return bits_f32(sign);
    // subnormal: value = mant * 2^-24, exactly representable in f32
    int e = 113;
    while ((mant & 0x400u) == 0) { mant <<= 1; --e; }
    return bits_f32(sign | ((uint32_t)e << 23) | ((mant & 0x3ffu) << 13));
}

// binary32 -> binary16, round to nearest even, overflow to +-inf, any NaN -> sign|0x7E00
// (the convention of ggml's portable conversion).
DGK_HD uint16_t f32_to_fp16(float f) {
    const uint32_t x = f32_bits(f);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u;
    if (ax >= 0x47800000u) {  // >= 65536 (or inf): overflow unless it rounds below 65520
        return sign | 0x7c00u;
    }
    if (ax >= 0x38800000u) {  // normal fp16 range (>= 2^-14)
        const uint32_t mant = ax & 0x7fffffu;
        const uint32_t exp = (ax >> 23) - 112u;
        uint32_t h = (exp << 10) | (mant >> 13);
        const uint32_t rem = mant & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h += 1;  // may carry into inf: correct
        return sign | (uint16_t)h;
    }
    if (ax < 0x33000000u) return sign;  // below half the smallest subnormal (2^-25): zero
    // subnormal fp16: value / 2^-24 rounded to nearest even
    const uint32_t exp = ax >> 23;                   // 102..112
    const uint32_t mant = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exp;               // 14..24
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u))) h += 1;
    return sign | (uint16_t)h;
}

DGK_HD float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

// binary32 -> bfloat16, round to nearest even, NaN made quiet (ggml's convention).
DGK_HD uint16_t f32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Round half to even through the 1.5*2^23 trick; valid for |f| < 2^22 (ggml's nearest_int).
DGK_HD int nearest_int(float fval) {
    const float val = fval + 12582912.f;
    const uint32_t i = f32_bits(val);
    return (int)(i & 0x007fffffu) - 0x00400000;
}

// fp16 round trip: the value a stored fp16 scale will decode to.
DGK_HD float fp16_round(float f) { return fp16_to_f32(f32_to_fp16(f)); }

}  // namespace dgk
