// Q2_K: 256 weights in 16 sub-blocks of 16; 2-bit quants with a 4-bit scale and a 4-bit min per
// sub-block, both multiplied by fp16 super-block factors d and dmin.
// Encoders follow ggml's quantize_row_q2_K_ref (no imatrix) and quantize_row_q2_K_impl (imatrix).
#include <cmath>

#include "../common/kquant_scale_min.h"
#include "../common/kquant_scales.h"
#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

// Final pass shared by both encoders: with the stored (fp16-rounded) factors, requantize each
// sub-block whose scale is non-zero; sub-blocks with a zero scale keep the search's quants.
void requantize_q2(const float* x, const block_q2_k& b, uint8_t* L) {
    const float d = fp16_to_f32(b.d);
    const float dmin = fp16_to_f32(b.dmin);
    for (int j = 0; j < 16; ++j) {
        const float dl = d * (float)(b.scales[j] & 0xF);
        if (dl == 0.0f) continue;
        const float ml = dmin * (float)(b.scales[j] >> 4);
        for (int i = 0; i < 16; ++i) {
            int l = nearest_int((x[16 * j + i] + ml) / dl);
            l = l < 0 ? 0 : (l > 3 ? 3 : l);
            L[16 * j + i] = (uint8_t)l;
        }
    }
}

void encode_block_plain(const float* x, block_q2_k& b) {
    uint8_t L[256], Laux[16];
    float w[16], scales[16], mins[16];
    for (int j = 0; j < 16; ++j) {
        for (int i = 0; i < 16; ++i) w[i] = std::fabs(x[16 * j + i]);
        scales[j] = make_qkx2_quants(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
    }
    kq::quantize_scale_min4_q2k(scales, mins, b);

    requantize_q2(x, b, L);
    kq::pack_2bit(L, b.qs);
}

void encode_block_imatrix(const float* x, const float* qw, block_q2_k& b) {
    uint8_t L[256], Laux[16], Ls[16], Lm[16];
    float w[16], sw[16], scales[16], mins[16];

    float sumx2 = 0.0f;
    for (int i = 0; i < 256; ++i) sumx2 += x[i] * x[i];
    const float sigma2 = sumx2 / 256.f;

    for (int j = 0; j < 16; ++j) {
        const float* xs = x + 16 * j;
        for (int i = 0; i < 16; ++i) w[i] = qw[16 * j + i] * std::sqrt(sigma2 + xs[i] * xs[i]);
        float s = 0.0f;
        for (int i = 0; i < 16; ++i) s += w[i];
        sw[j] = s;
        scales[j] = make_qkx3_quants(16, 3, xs, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }

    // Scales and mins are themselves quantized to 4 bits, weighted by each sub-block's weight.
    const float dm = make_qp_quants(16, 15, scales, Ls, sw);
    const float mm = make_qp_quants(16, 15, mins, Lm, sw);
    b.d = f32_to_fp16(dm);
    b.dmin = f32_to_fp16(mm);
    for (int j = 0; j < 16; ++j) b.scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));

    requantize_q2(x, b, L);
    kq::pack_2bit(L, b.qs);
}

}  // namespace

void decode_q2_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q2_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q2_k& b = blocks[ib];
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + ib * 256;
        // Sub-block s covers elements 16s..16s+15: half h = s/8 of the qs bytes, bit pair s%8/2,
        // first or second 16 bytes by s%2.
        for (int s = 0; s < 16; ++s) {
            const float dl = d * (float)(b.scales[s] & 0xF);
            const float ml = dmin * (float)(b.scales[s] >> 4);
            const uint8_t* q = b.qs + 32 * (s >> 3) + 16 * (s & 1);
            const int shift = 2 * ((s & 7) >> 1);
            for (int l = 0; l < 16; ++l) y[16 * s + l] = dl * (float)((q[l] >> shift) & 3) - ml;
        }
    }
}

void encode_q2_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q2_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib) {
        if (imatrix) {
            encode_block_imatrix(x + 256 * ib, imatrix + 256 * ib, blocks[ib]);
        } else {
            encode_block_plain(x + 256 * ib, blocks[ib]);
        }
    }
}

}  // namespace dgk::ref
