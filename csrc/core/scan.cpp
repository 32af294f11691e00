#include "dgk/scan.h"

#include <cstring>

namespace dgk {

int64_t find_nonfinite(const void* data, int64_t n) {
    const auto* x = static_cast<const unsigned char*>(data);
    // Branch-free over fixed chunks (the compiler vectorizes the OR-reduction); only a chunk that
    // holds a bad value is scanned again for its first position.
    constexpr int64_t kChunk = 512;
    for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
        const int64_t m = n - i0 < kChunk ? n - i0 : kChunk;
        uint32_t bad = 0;
        for (int64_t j = 0; j < m; ++j) {
            uint32_t u;
            std::memcpy(&u, x + 4 * (i0 + j), sizeof u);
            bad |= static_cast<uint32_t>((u & 0x7f800000u) == 0x7f800000u);
        }
        if (!bad) continue;
        for (int64_t j = 0; j < m; ++j) {
            uint32_t u;
            std::memcpy(&u, x + 4 * (i0 + j), sizeof u);
            if ((u & 0x7f800000u) == 0x7f800000u) return i0 + j;
        }
    }
    return -1;
}

}  // namespace dgk
