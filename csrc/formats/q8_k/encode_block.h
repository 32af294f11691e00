// Q8_K block encoder (ggml's quantize_row_q8_K_ref), host+device: the scalar reference (ref.cpp)
// loops it over rows, the CUDA module runs it one super-block per thread. ggml ignores the imatrix.
#pragma once
#include <cmath>
#include <cstdint>

#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {
namespace {

DGK_HD void encode_q8_k_block(const float* x, block_q8_k& b) {
    float max, amax;
    ref::signed_absmax(QK_K, x, &max, &amax);  // qualified: legacy_pack.h has a 32-weight one
    if (!amax) {
        // ggml clears d and qs but leaves bsums untouched; zero them rather than leak memory.
        uint8_t* bytes = reinterpret_cast<uint8_t*>(&b);
        for (size_t i = 0; i < sizeof b; ++i) bytes[i] = 0;
        return;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
        const int v = nearest_int(iscale * x[j]);
        b.qs[j] = (int8_t)(uint8_t)(v < 127 ? v : 127);  // low byte, as ggml's int -> int8 store
    }
    for (int g = 0; g < QK_K / 16; ++g) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
        b.bsums[g] = (int16_t)sum;
    }
    b.d = 1 / iscale;
}

}  // namespace
}  // namespace dgk::ref
