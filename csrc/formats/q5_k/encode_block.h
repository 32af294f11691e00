// Q5_K block encoder (ggml's quantize_row_q5_K_ref / _impl), host+device: the scalar reference
// (ref.cpp) loops it over rows, the CUDA module runs it one super-block per thread.
#pragma once
#include <cstdint>

#include "../common/kquant_scale_min.h"
#include "dgk/blocks.h"

namespace dgk::ref {
namespace {

// qw: the super-block's slice of the importance matrix, or null. Each level splits into its low nibble
// (qs, laid out as Q4_K) and its high bit (qh[l], bit 2c for sub-block 2c, 2c+1 for 2c+1).
DGK_HD void encode_q5_k_block(const float* x, const float* qw, block_q5_k& b) {
    uint8_t L[256];
    kq::encode_scale_min_levels<31>(x, qw, b, L);
    for (int i = 0; i < 32; ++i) b.qh[i] = 0;
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t lo = L[64 * c + l], hi = L[64 * c + 32 + l];
            if (lo > 15) b.qh[l] = (uint8_t)(b.qh[l] | (1u << (2 * c)));
            if (hi > 15) b.qh[l] = (uint8_t)(b.qh[l] | (2u << (2 * c)));
            b.qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
        }
    }
}

}  // namespace
}  // namespace dgk::ref
