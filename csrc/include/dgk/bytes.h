// Little-endian loads from block bytes, host+device (blocks are only 2-byte aligned in a row; the
// compilers merge the byte loads into one on little-endian hosts).
#pragma once
#include <cstdint>

#include "dgk/fp.h"

namespace dgk {

DGK_HD uint32_t load_u16(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
DGK_HD uint32_t load_u32(const uint8_t* p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

}  // namespace dgk
