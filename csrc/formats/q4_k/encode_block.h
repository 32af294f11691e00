// Q4_K block encoder (ggml's quantize_row_q4_K_ref / _impl), host+device: the scalar reference
// (ref.cpp) loops it over rows, the CUDA module runs it one super-block per thread.
#pragma once
#include <cstdint>

#include "../common/kquant_scale_min.h"
#include "dgk/blocks.h"

namespace dgk::ref {
namespace {

// qw: the super-block's slice of the importance matrix, or null. Sub-blocks 2c (low nibbles) and 2c+1
// (high nibbles) share bytes 32c..32c+31.
DGK_HD void encode_q4_k_block(const float* x, const float* qw, block_q4_k& b) {
    uint8_t L[256];
    kq::encode_scale_min_levels<15>(x, qw, b, L);
    for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

}  // namespace
}  // namespace dgk::ref
