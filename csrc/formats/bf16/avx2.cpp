// BF16 with AVX2: the bits of float/ref.cpp for every input.
#include <immintrin.h>

#include "../common/avx2_stream.h"
#include "dgk/dispatch.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void convert_f32(const float* src, void* dst, OutType out, int64_t n);  // core/avx2_convert.cpp

// bf16 is the top half of an f32: widen and shift, NaN payloads included.
static inline __m256 bf16x8_to_f32(const uint16_t* h) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

void decode_bf16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, bf16x8_to_f32(h + i));
    for (; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
}

void decode_bf16_stream(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    stream_f32(dst, n, [h](int64_t i) { return bf16x8_to_f32(h + i); }, [h](int64_t i) { return bf16_to_f32(h[i]); });
}

// The decoders' bf16 output conversion is the same rounding as this encoder.
void encode_bf16(const float* x, void* dst, int64_t n, const float*) { convert_f32(x, dst, OutType::BF16, n); }

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_bf16 = {FormatId::BF16, avx2::decode_bf16, avx2::encode_bf16, nullptr,
                                             avx2::decode_bf16_stream};
}
