// Shared pieces of the CUDA path. Every per-block decoder and encoder of dgkernels._cuda is a
// `__host__ __device__` function in these headers: the device kernels call them, and the host-side
// emulation (dgkernels._cuda.emulate_decode / emulate_encode) runs the very same functions on the CPU,
// so the logic of the device code is verified against the _core CPU reference without a GPU.
//
// Floating point (host and device must agree bit for bit):
//  * device code: --fmad=false, no fast-math; division and sqrtf are IEEE-correct because
//    -prec-div=true and -prec-sqrt=true are nvcc's defaults without --use_fast_math;
//  * host code: -ffp-contract=off (passed to the host compiler with -Xcompiler);
//  * fp16/bf16 conversions are dgk/fp.h's integer implementations on both sides (no intrinsics);
//  * nearest_int is the 1.5*2^23 float trick on both sides; roundf/floorf/fabsf are exact on both.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/tables.h"

#if defined(__CUDACC__)
#define DGKC_HD __host__ __device__ inline
#else
#define DGKC_HD inline
#endif

// The per-block logic shared with the CPU reference lives in namespace dgk::ref (csrc/formats/common,
// csrc/formats/<fmt>: DGK_HD functions); the CUDA code calls it unqualified.
namespace dgk::ref {}

namespace dgk::cuda {

using namespace ::dgk::ref;

// ---- constant tables: one accessor, host arrays on the host, device copies on the device --------
// Each .cu translation unit that needs them holds its own static __device__ copies, filled from the
// host definitions (csrc/core/tables.cpp) by upload_tables_<tu>() before the first launch.
#if defined(__CUDACC__)
#define DGKC_DEVICE_TABLES                                  \
    static __device__ uint64_t d_iq2xxs_grid[256];          \
    static __device__ uint64_t d_iq2xs_grid[512];           \
    static __device__ uint64_t d_iq2s_grid[1024];           \
    static __device__ uint32_t d_iq3xxs_grid[256];          \
    static __device__ uint32_t d_iq3s_grid[512];            \
    static __device__ uint64_t d_iq1s_grid[2048];           \
    static __device__ uint8_t d_ksigns_iq2xs[128];          \
    static __device__ int8_t d_kvalues_iq4nl[16];           \
    static __device__ int8_t d_kvalues_mxfp4[16];
DGKC_DEVICE_TABLES
#endif

// In host+device functions: the right array for the side being compiled.
#if defined(__CUDA_ARCH__)
#define DGKC_TAB(name) (d_##name)
#else
#define DGKC_TAB(name) (::dgk::name)
#endif

#if defined(__CUDACC__)
// Copies the host tables into this translation unit's device copies (call once per device).
#define DGKC_DEFINE_TABLE_UPLOAD(fn)                                                                  \
    cudaError_t fn() {                                                                                \
        cudaError_t e;                                                                                \
        if ((e = cudaMemcpyToSymbol(d_iq2xxs_grid, dgk::iq2xxs_grid, sizeof d_iq2xxs_grid))) return e; \
        if ((e = cudaMemcpyToSymbol(d_iq2xs_grid, dgk::iq2xs_grid, sizeof d_iq2xs_grid))) return e;    \
        if ((e = cudaMemcpyToSymbol(d_iq2s_grid, dgk::iq2s_grid, sizeof d_iq2s_grid))) return e;       \
        if ((e = cudaMemcpyToSymbol(d_iq3xxs_grid, dgk::iq3xxs_grid, sizeof d_iq3xxs_grid))) return e; \
        if ((e = cudaMemcpyToSymbol(d_iq3s_grid, dgk::iq3s_grid, sizeof d_iq3s_grid))) return e;       \
        if ((e = cudaMemcpyToSymbol(d_iq1s_grid, dgk::iq1s_grid, sizeof d_iq1s_grid))) return e;       \
        if ((e = cudaMemcpyToSymbol(d_ksigns_iq2xs, dgk::ksigns_iq2xs, sizeof d_ksigns_iq2xs))) return e; \
        if ((e = cudaMemcpyToSymbol(d_kvalues_iq4nl, dgk::kvalues_iq4nl, sizeof d_kvalues_iq4nl))) return e; \
        return cudaMemcpyToSymbol(d_kvalues_mxfp4, dgk::kvalues_mxfp4, sizeof d_kvalues_mxfp4);       \
    }
#endif

// ---- small exact helpers -------------------------------------------------------------------------
// Little-endian loads from block bytes (blocks are only 2-byte aligned in a row).
DGKC_HD uint32_t load_u16(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
DGKC_HD uint32_t load_u32(const uint8_t* p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
DGKC_HD float load_f16(const uint8_t* p) { return dgk::fp16_to_f32((uint16_t)load_u16(p)); }
DGKC_HD void store_u16(uint8_t* p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

}  // namespace dgk::cuda
