// Q4_K: 256 weights in 8 sub-blocks of 32; 4-bit quants with a 6-bit scale and a 6-bit min per
// sub-block (packed in 12 bytes), times fp16 super-block factors d and dmin.
// Encoders follow ggml's quantize_row_q4_K_ref (no imatrix) and quantize_row_q4_K_impl (imatrix).
#include <cmath>

#include "../common/kquant_scale_min.h"
#include "../common/kquant_scales.h"
#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

// Final pass shared by both encoders: requantize every sub-block with a non-zero stored scale,
// then pack sub-blocks 2c (low nibbles) and 2c+1 (high nibbles) into bytes 32c..32c+31.
void requantize_and_pack(const float* x, block_q4_k& b, uint8_t* L) {
    const float d_all = fp16_to_f32(b.d);
    const float m_all = fp16_to_f32(b.dmin);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        kq::unpack_scale_min6(b.scales, j, &sc, &m);
        const float d = d_all * (float)sc;
        if (d == 0.0f) continue;
        const float dm = m_all * (float)m;
        for (int i = 0; i < 32; ++i) {
            int l = nearest_int((x[32 * j + i] + dm) / d);
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : (l > 15 ? 15 : l));
        }
    }
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

void encode_block_plain(const float* x, block_q4_k& b) {
    uint8_t L[256];
    float scales[8], mins[8];
    search_scale_min_plain(x, 15, -1.f, 0.1f, 20, L, scales, mins);
    kq::quantize_scale_min_plain(scales, mins, b);
    requantize_and_pack(x, b, L);
}

void encode_block_imatrix(const float* x, const float* qw, block_q4_k& b) {
    uint8_t L[256];
    float sw[8], scales[8], mins[8];
    search_scale_min_imatrix(x, qw, 15, L, scales, mins, sw);
    kq::quantize_scale_min_imatrix(scales, mins, sw, false, b);  // unclamped codes, as ggml (unlike Q5_K)
    requantize_and_pack(x, b, L);
}

}  // namespace

void decode_q4_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q4_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q4_k& b = blocks[ib];
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + ib * 256;
        for (int c = 0; c < 4; ++c) {
            uint8_t sc, m;
            kq::unpack_scale_min6(b.scales, 2 * c, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            kq::unpack_scale_min6(b.scales, 2 * c + 1, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            const uint8_t* q = b.qs + 32 * c;
            for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) y[64 * c + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void encode_q4_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q4_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib) {
        if (imatrix) {
            encode_block_imatrix(x + 256 * ib, imatrix + 256 * ib, blocks[ib]);
        } else {
            encode_block_plain(x + 256 * ib, blocks[ib]);
        }
    }
}

}  // namespace dgk::ref
