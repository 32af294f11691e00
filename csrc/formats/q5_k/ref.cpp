// Q5_K: Q4_K's layout (8 sub-blocks of 32, 6-bit scale/min pairs, fp16 d and dmin) with 5-bit
// quants: low 4 bits in qs as in Q4_K, 5th bits in qh (sub-block s -> bit s of qh[element%32]).
// Encoders follow ggml's quantize_row_q5_K_ref (no imatrix) and quantize_row_q5_K_impl (imatrix).
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

// Final pass shared by both encoders: requantize every sub-block with a non-zero stored scale,
// then split each quant into its low nibble (qs) and high bit (qh).
void requantize_and_pack(const float* x, block_q5_k& b, uint8_t* L) {
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
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : (l > 31 ? 31 : l));
        }
    }
    std::memset(b.qh, 0, sizeof b.qh);
    for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
            const uint8_t lo = L[64 * c + l], hi = L[64 * c + 32 + l];
            if (lo > 15) b.qh[l] = (uint8_t)(b.qh[l] | (1u << (2 * c)));
            if (hi > 15) b.qh[l] = (uint8_t)(b.qh[l] | (2u << (2 * c)));
            b.qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
        }
    }
}

void encode_block_plain(const float* x, block_q5_k& b) {
    uint8_t L[256];
    float scales[8], mins[8];
    search_scale_min_plain(x, 31, -0.5f, 0.1f, 15, L, scales, mins);
    kq::quantize_scale_min_plain(scales, mins, b);
    requantize_and_pack(x, b, L);
}

void encode_block_imatrix(const float* x, const float* qw, block_q5_k& b) {
    uint8_t L[256];
    float sw[8], scales[8], mins[8];
    search_scale_min_imatrix(x, qw, 31, L, scales, mins, sw);
    kq::quantize_scale_min_imatrix(scales, mins, sw, true, b);
    requantize_and_pack(x, b, L);
}

}  // namespace

void decode_q5_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q5_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q5_k& b = blocks[ib];
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
            const unsigned u1 = 1u << (2 * c), u2 = 2u << (2 * c);
            for (int l = 0; l < 32; ++l) {
                y[64 * c + l] = d1 * (float)((q[l] & 0xF) + ((b.qh[l] & u1) ? 16 : 0)) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                y[64 * c + 32 + l] = d2 * (float)((q[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0)) - m2;
            }
        }
    }
}

void encode_q5_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q5_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib) {
        if (imatrix) {
            encode_block_imatrix(x + 256 * ib, imatrix + 256 * ib, blocks[ib]);
        } else {
            encode_block_plain(x + 256 * ib, blocks[ib]);
        }
    }
}

}  // namespace dgk::ref
