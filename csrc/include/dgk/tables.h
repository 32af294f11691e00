// Constant format data (IQ grids, sign and value tables), defined once in csrc/core/tables.cpp,
// which tools/gen_tables.py generates from the gguf package. Grid rows are packed little-endian:
// byte j of an entry is element j.
#pragma once
#include <cstdint>

namespace dgk {

extern const uint64_t iq2xxs_grid[256];   // values {8, 25, 43}
extern const uint64_t iq2xs_grid[512];
extern const uint64_t iq2s_grid[1024];
extern const uint32_t iq3xxs_grid[256];   // values {4, 12, ..., 62}
extern const uint32_t iq3s_grid[512];     // values {1, 3, ..., 15}
extern const uint64_t iq1s_grid[2048];    // int8 values {-1, 0, 1}
extern const uint8_t ksigns_iq2xs[128];   // 7 sign bits + parity bit
extern const int8_t kvalues_iq4nl[16];
extern const int8_t kvalues_mxfp4[16];    // e2m1 values doubled

}  // namespace dgk
