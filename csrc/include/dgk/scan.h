// The finiteness check every encode runs (encoders refuse NaN and Inf): encode_rows scans each row
// just before encoding it, so the row is read from memory once.
#pragma once
#include <cstdint>

#include "dgk/registry.h"

namespace dgk {

// Index of the first NaN or +-Inf among n float32 values, or -1. Runs at memory speed: it is on
// every encode's path (encoders refuse non-finite input).
int64_t find_nonfinite(const void* x, int64_t n);  // x: n float32 values, any alignment

namespace avx2 {
int64_t find_nonfinite(const void* x, int64_t n);  // avx2_scan.cpp: same answer, 8 lanes
}

inline int64_t find_nonfinite(const void* x, int64_t n, Isa isa) {
    return isa == Isa::Avx2 ? avx2::find_nonfinite(x, n) : find_nonfinite(x, n);
}

}  // namespace dgk
