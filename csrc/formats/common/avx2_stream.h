// Streaming (non-temporal) float32 output for the AVX2 decoders, used when the output is larger than
// the last-level cache (dispatch.cpp decides). A plain store reads each line before writing it
// (read-for-ownership), and such an output could not stay cached anyway: streaming stores write
// whole lines without reading them, halving a decoder's memory traffic (a third for F32's copy).
// Each decoder writes its output in address order, so every line fills before the next one opens.
// AVX2-compiled files only.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace dgk::avx2 {

// dst[i] = one(i) for i < n, where eight(i) gives elements i..i+7 as a vector (the same values).
// Plain stores up to the first 32-byte boundary and after the last, streaming ones between.
template <class Eight, class One>
static inline void stream_f32(float* dst, int64_t n, Eight eight, One one) {
    int64_t i = 0;
    for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 31); ++i) dst[i] = one(i);
    for (; i + 32 <= n; i += 32) {  // four vectors per 128-byte pair of lines
        const __m256 a = eight(i), b = eight(i + 8), c = eight(i + 16), d = eight(i + 24);
        _mm256_stream_ps(dst + i, a);
        _mm256_stream_ps(dst + i + 8, b);
        _mm256_stream_ps(dst + i + 16, c);
        _mm256_stream_ps(dst + i + 24, d);
    }
    for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, eight(i));
    for (; i < n; ++i) dst[i] = one(i);
    // streaming stores are weakly ordered: visible to every core before the call returns
    _mm_sfence();
}

// Store policies of the quantized decoders: Plain, or Stream for a 16-byte aligned destination
// (two 128-bit streaming stores per vector: numpy's large arrays are 16-, not 32-byte aligned).
struct PlainStore {
    static void put(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
};
struct StreamStore {
    static void put(float* p, __m256 v) {
        _mm_stream_ps(p, _mm256_castps256_ps128(v));
        _mm_stream_ps(p + 4, _mm256_extractf128_ps(v, 1));
    }
};

}  // namespace dgk::avx2

// decode_<fmt> (plain stores) and decode_<fmt>_stream from one template decode_<fmt>_with<Store>.
#define DGK_AVX2_DECODE_PAIR(name)                                                                       \
    void name(const void* src, float* dst, int64_t nblocks) { name##_with<PlainStore>(src, dst, nblocks); } \
    void name##_stream(const void* src, float* dst, int64_t nblocks) {                                   \
        name##_with<StreamStore>(src, dst, nblocks);                                                     \
        _mm_sfence(); /* streaming stores are weakly ordered */                                          \
    }
