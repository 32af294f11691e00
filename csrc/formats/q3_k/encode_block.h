// Q3_K block encoder (ggml's quantize_row_q3_K_ref / _impl), host+device: the scalar reference
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

// Final pass of both encoders: requantize with the stored scales (L in [0, 7]), then split each quant
// into its 2 low bits (qs) and its high bit (hmask: element e -> byte e%32, bit e/32).
DGK_HD void requantize_pack_q3_k(const float* x, block_q3_k& b, int8_t* L) {
    const float d_all = fp16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * (float)kq::unpack_scale6_q3(b.scales, j);
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) L[16 * j + i] = (int8_t)(clampi(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
    for (int i = 0; i < 32; ++i) b.hmask[i] = 0;
    uint8_t low[256];
    for (int e = 0; e < 256; ++e) {
        int l = L[e];
        if (l > 3) {
            b.hmask[e & 31] = (uint8_t)(b.hmask[e & 31] | (1u << (e >> 5)));
            l -= 4;
        }
        low[e] = (uint8_t)l;
    }
    kq::pack_2bit(low, b.qs);
}

DGK_HD void encode_q3_k_imatrix(const float* x, const float* qw, block_q3_k& b, int8_t* L) {
    int8_t Ls[16];
    float w[16], sw[16], scales[16];
    float sumx2 = 0.0f;
    for (int i = 0; i < 256; ++i) sumx2 += x[i] * x[i];
    const float sigma2 = 2 * sumx2 / 256.f;
    for (int j = 0; j < 16; ++j) {
        const float* xs = x + 16 * j;
        sw[j] = imatrix_weights_sum(xs, qw + 16 * j, sigma2, 16, w);
        scales[j] = make_qx_quants(16, 4, xs, L + 16 * j, 1, w);
    }
    // The 16 scales get a symmetric 6-bit quantization of their own (d may come out negative).
    const float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
    int q[16];
    for (int j = 0; j < 16; ++j) q[j] = Ls[j];
    kq::pack_scale6_q3(q, b.scales);
    b.d = f32_to_fp16(d_block);
}

// qw: the super-block's slice of the importance matrix, or null.
DGK_HD void encode_q3_k_block(const float* x, const float* qw, block_q3_k& b) {
    int8_t L[256];
    if (qw) {
        encode_q3_k_imatrix(x, qw, b, L);
    } else {
        float scales[16];
        for (int j = 0; j < 16; ++j) scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
        kq::quantize_scales_q3k(scales, b);
    }
    requantize_pack_q3_k(x, b, L);
}

}  // namespace
}  // namespace dgk::ref
