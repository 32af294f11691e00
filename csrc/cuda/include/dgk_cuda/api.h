// Host entry points of dgkernels._cuda, free of CUDA headers so the pybind11 module is plain C++.
// Device pointers and streams travel as integers; every CUDA call is checked and a failure throws
// std::runtime_error naming the call (pybind11 turns it into RuntimeError).
#pragma once
#include <cstdint>
#include <string>

namespace dgk::cuda {

// Number of usable devices; on failure 0 and *reason says why (no driver, no device, ...).
int device_count(std::string* reason);
std::string runtime_info();  // runtime/driver versions, compiled archs

bool encode_supported(int fmt);

// Decode `count` blocks (or elements, for F32/F16/BF16) from src to dst on `device`, ordered on `stream`.
void decode(int fmt, uintptr_t src, uintptr_t dst, int out_type, int64_t count, int device, uintptr_t stream);
// Encode nrows rows of n float32 weights; imatrix (n floats) may be 0.
void encode(int fmt, uintptr_t x, uintptr_t dst, uintptr_t imatrix, int64_t nrows, int64_t n, int device,
            uintptr_t stream);
// Same per-block functions run on the host (emulation of the device code).
void emulate_decode(int fmt, const uint8_t* src, void* dst, int out_type, int64_t count);
void emulate_encode(int fmt, const float* x, uint8_t* dst, const float* imatrix, int64_t nrows, int64_t n);

// Per-translation-unit launchers (internal).
void launch_decode(int fmt, const uint8_t* src, void* dst, int out_type, int64_t count, void* stream);
void launch_encode_a(int fmt, const float* x, uint8_t* dst, const float* imatrix, const float* row_sigma2,
                     int64_t nrows, int64_t n, void* stream);
void launch_encode_k(int fmt, const float* x, uint8_t* dst, const float* imatrix, int64_t nrows, int64_t n,
                     void* stream);
struct IqViews;
void launch_encode_iq(int fmt, const float* x, uint8_t* dst, const float* imatrix, int64_t nrows, int64_t n,
                      const IqViews& views, void* stream);
void launch_row_sigma2(const float* x, float* out, int64_t nrows, int64_t n, void* stream);
void upload_tables_all();  // once per device, after cudaSetDevice
[[noreturn]] void fail(const char* call, int err);

}  // namespace dgk::cuda
