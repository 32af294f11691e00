// Whole-buffer checks the Python boundary runs before any kernel.
#pragma once
#include <cstdint>

namespace dgk {

// Index of the first NaN or +-Inf among n float32 values, or -1. Runs at memory speed: it is on
// every encode's path (encoders refuse non-finite input).
int64_t find_nonfinite(const void* x, int64_t n);  // x: n float32 values, any alignment

}  // namespace dgk
