// F32 with AVX2: decode is a copy (the scalar reference's memcpy), except for outputs past the
// last-level cache, which are written with streaming stores.
#include <immintrin.h>

#include <cstring>

#include "../common/avx2_stream.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

void decode_f32_stream(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const float*>(src);
    stream_f32(dst, n, [s](int64_t i) { return _mm256_loadu_ps(s + i); },
               [s](int64_t i) {
                   float v;
                   std::memcpy(&v, s + i, 4);  // the bits, NaN payloads included
                   return v;
               });
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_f32 = {FormatId::F32, nullptr, nullptr, nullptr, avx2::decode_f32_stream};
}
