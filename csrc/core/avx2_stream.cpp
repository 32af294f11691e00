// Non-temporal copy for decode outputs larger than the last-level cache. A plain store first reads
// the destination line into the cache (read-for-ownership) and later writes it back; for an output
// that cannot stay in the cache that doubles the memory traffic of a write-bound decode. Streaming
// stores write whole lines without reading them. Compiled with AVX2 flags (this file only).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace dgk::avx2 {

void stream_copy(void* dst, const void* src, size_t bytes) {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    // _mm256_stream_si256 needs a 32-byte aligned destination: plain stores up to it
    const size_t head = (32 - (reinterpret_cast<uintptr_t>(d) & 31)) & 31;
    if (head >= bytes) {
        std::memcpy(d, s, bytes);
        return;
    }
    std::memcpy(d, s, head);
    size_t i = head;
    for (; i + 128 <= bytes; i += 128) {
        for (size_t k = 0; k < 128; k += 32)
            _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i + k),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i + k)));
    }
    for (; i + 32 <= bytes; i += 32)
        _mm256_stream_si256(reinterpret_cast<__m256i*>(d + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i)));
    std::memcpy(d + i, s + i, bytes - i);
    // streaming stores are weakly ordered: make them visible before the caller reports completion
    _mm_sfence();
}

}  // namespace dgk::avx2
