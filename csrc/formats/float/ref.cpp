// F32, F16, BF16: plain element types, treated as blocks of one weight.
#include <cstring>

#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_f32(const void* src, float* dst, int64_t n) { std::memcpy(dst, src, static_cast<size_t>(n) * 4); }

void encode_f32(const float* x, void* dst, int64_t n, const float*) {
    std::memcpy(dst, x, static_cast<size_t>(n) * 4);
}

void decode_f16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(h[i]);
}

void encode_f16(const float* x, void* dst, int64_t n, const float*) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_fp16(x[i]);
}

void decode_bf16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
}

void encode_bf16(const float* x, void* dst, int64_t n, const float*) {
    auto* h = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(x[i]);
}

}  // namespace dgk::ref
