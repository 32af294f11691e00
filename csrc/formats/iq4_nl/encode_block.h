// IQ4_NL block encoder (ggml's quantize_row_iq4_nl_impl), host+device: the scalar reference (ref.cpp)
// loops it over rows, the CUDA module runs it one block per thread.
#pragma once
#include "../common/iq4_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {

// qw: the block's slice of the importance matrix, or null.
DGK_HD void encode_iq4_nl_block(const float* x, const float* qw, block_iq4_nl& b) {
    float w[kIq4Group];
    iq4_group_weights(x, qw, iq4_sigma2(x, QK), w);
    const float d = iq4_group_scale(x, w);
    b.d = f32_to_fp16(d);
    // A near-zero block gets d = 0 and id = 0, i.e. every weight on the level nearest 0.
    iq4_levels_pack(x, d ? 1 / d : 0, b.qs);
}

}  // namespace dgk::ref
