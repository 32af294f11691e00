// Q6_K block encoder (ggml's quantize_row_q6_K_ref / _impl), host+device: the scalar reference
// (ref.cpp) loops it over rows, the CUDA module runs it one super-block per thread.
#pragma once
#include <cmath>
#include <cstdint>

#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {
namespace {

// Per 128-weight half h: ql[64h + l] holds elements l (low) and l+64 (high nibble), ql[64h + 32 + l]
// elements l+32 and l+96; qh[32h + l] their top 2 bits at bits 0,2,4,6. L holds levels 0..63.
DGK_HD void pack_q6_k(const int8_t* L, block_q6_k& b) {
    for (int h = 0; h < 2; ++h) {
        const int8_t* q = L + 128 * h;
        uint8_t* ql = b.ql + 64 * h;
        uint8_t* qh = b.qh + 32 * h;
        for (int l = 0; l < 32; ++l) {
            const unsigned q0 = (uint8_t)q[l], q1 = (uint8_t)q[l + 32];
            const unsigned q2 = (uint8_t)q[l + 64], q3 = (uint8_t)q[l + 96];
            ql[l] = (uint8_t)((q0 & 0xF) | ((q2 & 0xF) << 4));
            ql[l + 32] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
            qh[l] = (uint8_t)((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
        }
    }
}

// b.d and the 16 int8 scales from the sub-block scales: the scale of largest magnitude (the first,
// with its sign) maps to -128, the others into [-128, 127]. Returns false, with b zeroed, for an
// all-zero block. The AVX2 encoder shares it.
DGK_HD bool set_q6_k_scales(const float* scales, block_q6_k& b) {
    float max_scale = 0.0f, max_abs_scale = 0.0f;
    for (int s = 0; s < 16; ++s) {
        const float a = fabsf(scales[s]);
        if (a > max_abs_scale) {
            max_abs_scale = a;
            max_scale = scales[s];
        }
    }
    if (max_abs_scale < kGroupMaxEps) {  // ggml's GROUP_MAX_EPS: the block is zero
        uint8_t* bytes = reinterpret_cast<uint8_t*>(&b);
        for (size_t i = 0; i < sizeof b; ++i) bytes[i] = 0;
        return false;
    }
    const float iscale = -128.f / max_scale;
    b.d = f32_to_fp16(1 / iscale);
    for (int s = 0; s < 16; ++s) {
        const int v = nearest_int(iscale * scales[s]);
        b.scales[s] = (int8_t)(v < 127 ? v : 127);  // byte truncation as ggml
    }
    return true;
}

// qw: the super-block's slice of the importance matrix, or null.
DGK_HD void encode_q6_k_block(const float* x, const float* qw, block_q6_k& b) {
    int8_t L[256];
    float scales[16];
    for (int s = 0; s < 16; ++s)
        scales[s] = make_qx_quants(16, 32, x + 16 * s, L + 16 * s, 1, qw ? qw + 16 * s : nullptr);
    if (!set_q6_k_scales(scales, b)) return;
    const float d_all = fp16_to_f32(b.d);
    for (int s = 0; s < 16; ++s) {
        const float d = d_all * (float)b.scales[s];
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) L[16 * s + i] = (int8_t)(clampi(nearest_int(x[16 * s + i] / d), -32, 31) + 32);
    }
    pack_q6_k(L, b);
}

}  // namespace
}  // namespace dgk::ref
