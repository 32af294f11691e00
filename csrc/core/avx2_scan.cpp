// AVX2 find_nonfinite: 64 values per step (exponent all ones = NaN or Inf); a step that holds one
// is rescanned by the scalar code for its first position. Compiled with AVX2 flags (this file only).
#include <immintrin.h>

#include "dgk/scan.h"

namespace dgk::avx2 {

int64_t find_nonfinite(const void* data, int64_t n) {
    const auto* x = static_cast<const float*>(data);
    const __m256i exp_mask = _mm256_set1_epi32(0x7f800000);
    constexpr int64_t kStep = 64;
    int64_t i = 0;
    for (; i + kStep <= n; i += kStep) {
        __m256i bad = _mm256_setzero_si256();
        for (int k = 0; k < kStep / 8; ++k) {
            const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i + 8 * k));
            bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(_mm256_and_si256(u, exp_mask), exp_mask));
        }
        if (!_mm256_testz_si256(bad, bad)) return i + dgk::find_nonfinite(x + i, kStep);
    }
    const int64_t j = dgk::find_nonfinite(x + i, n - i);
    return j < 0 ? -1 : i + j;
}

}  // namespace dgk::avx2
