// Pieces of the IQ1 split searches' "last clear record" method (iq1_s/avx2_split_record.h states it
// and its proof; iq1_m/avx2_split_record.h applies it): the score estimates and the search for the
// first candidate surely accepted by the scalar scan. For AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include "avx2_math.h"

namespace dgk::avx2 {

// Estimates of qx^2/q2 per lane: fl(qx^2) * rcp(q2) refined by one Newton step (relative error
// <= 2e-6 within the callers' guards); -inf where q2 <= 0 (the scan never accepts those).
static inline __m256 split_score_estimate(__m256 qx, __m256 q2) {
    const __m256 r0 = _mm256_rcp_ps(q2);
    const __m256 r1 = _mm256_mul_ps(r0, _mm256_sub_ps(_mm256_set1_ps(2.0f), _mm256_mul_ps(q2, r0)));
    return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), _mm256_mul_ps(_mm256_mul_ps(qx, qx), r1),
                            _mm256_cmp_ps(q2, _mm256_setzero_ps(), _CMP_GT_OQ));
}

// The clear record: f = the first candidate with an estimate >= X_j, X_j = X_{j-1} * 0.99999 from
// X_0 = top (the largest estimate), at the first level j that leaves f where level j-1 put it.
// first_at_least(x, last_vector) gives the first candidate (in scan order) with estimate >= x among
// the vectors 0..last_vector, vector_of(f) f's vector. Returns f, or -1 after 16 levels.
template <class FirstAtLeast, class VectorOf>
static inline int clear_record(float top, int last_vector, FirstAtLeast first_at_least, VectorOf vector_of) {
    int f = first_at_least(top, last_vector);
    float x = top;
    for (int level = 0; level < 16; ++level) {
        x *= 0.99999f;
        const int g = first_at_least(x, vector_of(f));
        if (g == f) return f;
        f = g;
    }
    return -1;
}

}  // namespace dgk::avx2
