// Q2_K block encoder (ggml's quantize_row_q2_K_ref / _impl), host+device: the scalar reference
// (ref.cpp) loops it over rows, the CUDA module runs it one super-block per thread.
#pragma once
#include <cmath>
#include <cstdint>

#include "../common/kquant_scale_min.h"
#include "../common/kquant_scales.h"
#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"

namespace dgk::ref {
namespace {

// Final pass of both encoders: with the stored (fp16-rounded) factors, requantize each sub-block whose
// scale is non-zero; sub-blocks with a zero scale keep the search's quants.
DGK_HD void requantize_q2_k(const float* x, const block_q2_k& b, uint8_t* L) {
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)(b.scales[j] & 0xF);
        if (dl == 0.0f) continue;
        const float ml = dmin * (float)(b.scales[j] >> 4);
        for (int i = 0; i < 16; ++i) L[16 * j + i] = (uint8_t)clampi(nearest_int((x[16 * j + i] + ml) / dl), 0, 3);
    }
}

DGK_HD void encode_q2_k_plain(const float* x, block_q2_k& b, uint8_t* L) {
    uint8_t Laux[16];
    float w[16], scales[16], mins[16];
    for (int j = 0; j < 16; ++j) {
        for (int i = 0; i < 16; ++i) w[i] = fabsf(x[16 * j + i]);
        scales[j] = make_qkx2_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    }
    kq::quantize_scale_min4_q2k(scales, mins, b);
}

DGK_HD void encode_q2_k_imatrix(const float* x, const float* qw, block_q2_k& b, uint8_t* L) {
    uint8_t Laux[16], Ls[16], Lm[16];
    float w[16], sw[16], scales[16], mins[16];
    float sumx2 = 0.0f;
    for (int i = 0; i < 256; ++i) sumx2 += x[i] * x[i];
    const float sigma2 = sumx2 / 256.f;
    for (int j = 0; j < 16; ++j) {
        const float* xs = x + 16 * j;
        sw[j] = imatrix_weights_sum(xs, qw + 16 * j, sigma2, 16, w);
        scales[j] = make_qkx3_quants(16, 3, xs, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    // Scales and mins are themselves quantized to 4 bits, weighted by each sub-block's weight.
    const float dm = make_qp_quants(16, 15, scales, Ls, sw);
    const float mm = make_qp_quants(16, 15, mins, Lm, sw);
    b.d = f32_to_fp16(dm);
    b.dmin = f32_to_fp16(mm);
    for (int j = 0; j < 16; ++j) b.scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
}

// qw: the super-block's slice of the importance matrix, or null.
DGK_HD void encode_q2_k_block(const float* x, const float* qw, block_q2_k& b) {
    uint8_t L[256];
    if (qw) encode_q2_k_imatrix(x, qw, b, L);
    else encode_q2_k_plain(x, b, L);
    requantize_q2_k(x, b, L);
    kq::pack_2bit(L, b.qs);
}

}  // namespace
}  // namespace dgk::ref
