// Q3_K: 256 weights in 16 sub-blocks of 16; 3-bit quants (2 low bits in qs, the high bit in
// hmask) with a signed 6-bit scale per sub-block times an fp16 super-block scale d.
// Encoders follow ggml's quantize_row_q3_K_ref (no imatrix) and quantize_row_q3_K_impl (imatrix).
#include <cmath>
#include <cstring>

#include "../common/kquant_scale_min.h"
#include "../common/kquant_scales.h"
#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Final pass shared by both encoders: requantize with the stored scales (L in [0, 7]), then split
// each quant into its 2 low bits (qs) and its high bit (hmask: element e -> byte e%32, bit e/32).
void requantize_and_pack(const float* x, block_q3_k& b, int8_t* L) {
    const float d_all = fp16_to_f32(b.d);
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * (float)kq::unpack_scale6_q3(b.scales, j);
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) {
            L[16 * j + i] = (int8_t)(clamp_int(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
        }
    }
    std::memset(b.hmask, 0, sizeof b.hmask);
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

void encode_block_plain(const float* x, block_q3_k& b) {
    int8_t L[256];
    float scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
    kq::quantize_scales_q3k(scales, b);
    requantize_and_pack(x, b, L);
}

void encode_block_imatrix(const float* x, const float* qw, block_q3_k& b) {
    int8_t L[256], Ls[16];
    float w[16], sw[16], scales[16];

    float sumx2 = 0.0f;
    for (int i = 0; i < 256; ++i) sumx2 += x[i] * x[i];
    const float sigma2 = 2 * sumx2 / 256.f;

    for (int j = 0; j < 16; ++j) {
        const float* xs = x + 16 * j;
        for (int i = 0; i < 16; ++i) w[i] = qw[16 * j + i] * std::sqrt(sigma2 + xs[i] * xs[i]);
        float s = 0.0f;
        for (int i = 0; i < 16; ++i) s += w[i];
        sw[j] = s;
        scales[j] = make_qx_quants(16, 4, xs, L + 16 * j, 1, w);
    }

    // The 16 scales get a symmetric 6-bit quantization of their own (d may come out negative).
    const float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
    int q[16];
    for (int j = 0; j < 16; ++j) q[j] = Ls[j];
    kq::pack_scale6_q3(q, b.scales);
    b.d = f32_to_fp16(d_block);
    requantize_and_pack(x, b, L);
}

}  // namespace

void decode_q3_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q3_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q3_k& b = blocks[ib];
        const float d_all = fp16_to_f32(b.d);
        float* y = dst + ib * 256;
        // Element e = 16s + l: low bits from qs[32*(e/128) + e%32] at bit 2*((e/32)%4),
        // high bit from hmask[e%32] at bit e/32; a clear high bit means -4.
        for (int s = 0; s < 16; ++s) {
            const float dl = d_all * (float)kq::unpack_scale6_q3(b.scales, s);
            const int off = 16 * (s & 1);
            const uint8_t* q = b.qs + 32 * (s >> 3) + off;
            const uint8_t* hm = b.hmask + off;
            const int shift = 2 * ((s & 7) >> 1);
            const unsigned hbit = 1u << (s >> 1);
            for (int l = 0; l < 16; ++l) {
                const int v = ((q[l] >> shift) & 3) - ((hm[l] & hbit) ? 0 : 4);
                y[16 * s + l] = dl * (float)v;
            }
        }
    }
}

void encode_q3_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q3_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib) {
        if (imatrix) {
            encode_block_imatrix(x + 256 * ib, imatrix + 256 * ib, blocks[ib]);
        } else {
            encode_block_plain(x + 256 * ib, blocks[ib]);
        }
    }
}

}  // namespace dgk::ref
