// F16 with AVX2/F16C: the bits of float/ref.cpp for every input.
#include <immintrin.h>

#include "../common/avx2_math.h"
#include "../common/avx2_stream.h"
#include "dgk/dispatch.h"
#include "dgk/fp.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void convert_f32(const float* src, void* dst, OutType out, int64_t n);  // core/avx2_convert.cpp

void decode_f16(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, fp16x8_to_f32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
    for (; i < n; ++i) dst[i] = fp16_to_f32(h[i]);
}

void decode_f16_stream(const void* src, float* dst, int64_t n) {
    const auto* h = static_cast<const uint16_t*>(src);
    stream_f32(dst, n, [h](int64_t i) { return fp16x8_to_f32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))); },
               [h](int64_t i) { return fp16_to_f32(h[i]); });
}

// The decoders' f16 output conversion is the same rounding as this encoder.
void encode_f16(const float* x, void* dst, int64_t n, const float*) { convert_f32(x, dst, OutType::F16, n); }

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_f16 = {FormatId::F16, avx2::decode_f16, avx2::encode_f16, nullptr,
                                            avx2::decode_f16_stream};
}
