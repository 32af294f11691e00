// The constant tables (dgk/tables.h) as host+device code reads them: DGK_TAB(name) is the host array
// ::dgk::name on the CPU (and in the host pass of nvcc), and this translation unit's device copy
// ::dgk::dev::name in device code. The device copies are `static`: every .cu file holds its own, filled
// from the host arrays by DGKC_DEFINE_TABLE_UPLOAD (dgk_cuda/common.cuh) before its first launch.
#pragma once
#include <cstdint>

#include "dgk/tables.h"

#if defined(__CUDACC__)
namespace dgk::dev {
static __device__ uint64_t iq2xxs_grid[256];
static __device__ uint64_t iq2xs_grid[512];
static __device__ uint64_t iq2s_grid[1024];
static __device__ uint32_t iq3xxs_grid[256];
static __device__ uint32_t iq3s_grid[512];
static __device__ uint64_t iq1s_grid[2048];
static __device__ uint8_t ksigns_iq2xs[128];
static __device__ int8_t kvalues_iq4nl[16];
static __device__ int8_t kvalues_mxfp4[16];
}  // namespace dgk::dev
#endif

#if defined(__CUDA_ARCH__)
#define DGK_TAB(name) (::dgk::dev::name)
#else
#define DGK_TAB(name) (::dgk::name)
#endif
