// Q6_K: 256 weights in 16 sub-blocks of 16; 6-bit quants (low nibble in ql, top 2 bits in qh),
// stored with an offset of 32, and a signed 8-bit scale per sub-block times an fp16 d.
// Encoders follow ggml's quantize_row_q6_K_ref (no imatrix) and quantize_row_q6_K_impl (imatrix,
// which weights the search by the raw imatrix values, not by sigma^2 terms).
#include <cmath>
#include <cstring>

#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: below it the block is zero

void encode_block(const float* x, const float* qw, block_q6_k& b) {
    int8_t L[256];
    float scales[16];
    float max_scale = 0.0f, max_abs_scale = 0.0f;  // the signed scale of largest magnitude
    for (int s = 0; s < 16; ++s) {
        scales[s] = make_qx_quants(16, 32, x + 16 * s, L + 16 * s, 1, qw ? qw + 16 * s : nullptr);
        const float a = std::fabs(scales[s]);
        if (a > max_abs_scale) {
            max_abs_scale = a;
            max_scale = scales[s];
        }
    }

    if (max_abs_scale < kGroupMaxEps) {
        std::memset(&b, 0, sizeof b);
        return;
    }

    // Negative factor: the extreme scale maps to -128, the others into [-128, 127].
    const float iscale = -128.f / max_scale;
    b.d = f32_to_fp16(1 / iscale);
    for (int s = 0; s < 16; ++s) {
        const int v = nearest_int(iscale * scales[s]);
        b.scales[s] = (int8_t)(v < 127 ? v : 127);  // byte truncation as ggml
    }

    const float d_all = fp16_to_f32(b.d);
    for (int s = 0; s < 16; ++s) {
        const float d = d_all * (float)b.scales[s];
        if (d == 0.0f) continue;
        for (int i = 0; i < 16; ++i) {
            int l = nearest_int(x[16 * s + i] / d);
            l = l < -32 ? -32 : (l > 31 ? 31 : l);
            L[16 * s + i] = (int8_t)(l + 32);
        }
    }

    // Per 128-weight half h: ql[64h + l] holds elements l (low) and l+64 (high nibble),
    // ql[64h + 32 + l] elements l+32 and l+96; qh[32h + l] their top 2 bits at bits 0,2,4,6.
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

}  // namespace

void decode_q6_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_q6_k*>(src);
    for (int64_t ib = 0; ib < nblocks; ++ib) {
        const block_q6_k& b = blocks[ib];
        const float d = fp16_to_f32(b.d);
        float* y = dst + ib * 256;
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = b.ql + 64 * h;
            const uint8_t* qh = b.qh + 32 * h;
            const int8_t* sc = b.scales + 8 * h;
            float* yh = y + 128 * h;
            for (int l = 0; l < 32; ++l) {
                const int is = l >> 4;
                const int q0 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q1 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                // (d * scale) first, then the quant: the second product can round, keep the order.
                yh[l] = d * (float)sc[is + 0] * (float)q0;
                yh[l + 32] = d * (float)sc[is + 2] * (float)q1;
                yh[l + 64] = d * (float)sc[is + 4] * (float)q2;
                yh[l + 96] = d * (float)sc[is + 6] * (float)q3;
            }
        }
    }
}

void encode_q6_k(const float* x, void* dst, int64_t n, const float* imatrix) {
    auto* blocks = static_cast<block_q6_k*>(dst);
    for (int64_t ib = 0; ib < n / 256; ++ib) {
        encode_block(x + 256 * ib, imatrix ? imatrix + 256 * ib : nullptr, blocks[ib]);
    }
}

}  // namespace dgk::ref
