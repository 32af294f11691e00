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
#include "dgk/bytes.h"
#include "dgk/fp.h"
#include "dgk/tables_hd.h"

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

// ---- constant tables: DGK_TAB(name) of dgk/tables_hd.h, host arrays on the host, device copies on the device
#if defined(__CUDACC__)
// Copies the host tables into this translation unit's device copies (call once per device).
#define DGKC_UPLOAD_TABLE(name) \
    if ((e = cudaMemcpyToSymbol(dgk::dev::name, dgk::name, sizeof dgk::dev::name))) return e;
#define DGKC_DEFINE_TABLE_UPLOAD(fn)        \
    cudaError_t fn() {                      \
        cudaError_t e;                      \
        DGKC_UPLOAD_TABLE(iq2xxs_grid)      \
        DGKC_UPLOAD_TABLE(iq2xs_grid)       \
        DGKC_UPLOAD_TABLE(iq2s_grid)        \
        DGKC_UPLOAD_TABLE(iq3xxs_grid)      \
        DGKC_UPLOAD_TABLE(iq3s_grid)        \
        DGKC_UPLOAD_TABLE(iq1s_grid)        \
        DGKC_UPLOAD_TABLE(ksigns_iq2xs)     \
        DGKC_UPLOAD_TABLE(kvalues_iq4nl)    \
        DGKC_UPLOAD_TABLE(kvalues_mxfp4)    \
        return cudaSuccess;                 \
    }
#endif

// ---- small exact helpers (little-endian loads: dgk/bytes.h) ----------------------------------------
DGKC_HD float load_f16(const uint8_t* p) { return dgk::fp16_to_f32((uint16_t)load_u16(p)); }
DGKC_HD void store_u16(uint8_t* p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

}  // namespace dgk::cuda
