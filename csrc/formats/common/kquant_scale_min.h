// The sub-block scale quantization of the K-quant encoders after their sub-block searches, shared by
// the scalar (ref.cpp) and AVX2 (avx2.cpp) encoders: the codes of the sub-block scales (and mins),
// packed, and the fp16 super-block factors. Internal linkage (both ISAs include this); host+device
// (DGK_HD) for the CUDA module's K-quant encoders.
#pragma once
#include <cmath>
#include <cstdint>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "kquant_scales.h"
#include "scale_search.h"

namespace dgk::kq {
namespace {

DGK_HD uint8_t min63(uint8_t v) { return v < 63 ? v : 63; }

// Without imatrix (ggml's quantize_row_q{4,5}_K_ref): codes relative to the largest scale and
// min, each truncated to a byte first, then clamped to 63 (ggml's order).
template <class Block>
DGK_HD void quantize_scale_min_plain(const float* scales, const float* mins, Block& b) {
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0.0f ? 63.f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
        ls[j] = min63(static_cast<uint8_t>(nearest_int(inv_scale * scales[j])));
        lm[j] = min63(static_cast<uint8_t>(nearest_int(inv_min * mins[j])));
    }
    pack_scale_min6(ls, lm, b.scales);
    b.d = f32_to_fp16(max_scale / 63.f);
    b.dmin = f32_to_fp16(max_min / 63.f);
}

// With imatrix (quantize_row_q{4,5}_K_impl): make_qp_quants of the scales and of the mins, each
// weighted by the sub-blocks' weight sums sw. Q5_K clamps the codes to 63; Q4_K packs them
// unclamped, as ggml does (`clamp` false).
template <class Block>
DGK_HD void quantize_scale_min_imatrix(const float* scales, const float* mins, const float* sw, bool clamp,
                                       Block& b) {
    uint8_t ls[8], lm[8];
    const float d_block = ref::make_qp_quants(8, 63, scales, ls, sw);
    const float m_block = ref::make_qp_quants(8, 63, mins, lm, sw);
    if (clamp) {
        for (int j = 0; j < 8; ++j) {
            ls[j] = min63(ls[j]);
            lm[j] = min63(lm[j]);
        }
    }
    pack_scale_min6(ls, lm, b.scales);
    b.d = f32_to_fp16(d_block);
    b.dmin = f32_to_fp16(m_block);
}

// Q2_K without imatrix (quantize_row_q2_K_ref): 4-bit codes of the 16 scales and mins relative to
// their maxima (scales and mins are >= 0); the scale's int truncated to a byte, then the min's
// code OR-ed in at bit 4 (a negative code would spill, exactly as in ggml).
DGK_HD void quantize_scale_min4_q2k(const float* scales, const float* mins, block_q2_k& b) {
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    if (max_scale > 0.0f) {
        const float iscale = 15.f / max_scale;
        for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
        b.d = f32_to_fp16(max_scale / 15.f);
    } else {
        for (int j = 0; j < 16; ++j) b.scales[j] = 0;
        b.d = f32_to_fp16(0.0f);
    }
    if (max_min > 0.0f) {
        const float iscale = 15.f / max_min;
        for (int j = 0; j < 16; ++j) {
            const unsigned l = static_cast<unsigned>(nearest_int(iscale * mins[j]));
            b.scales[j] = static_cast<uint8_t>(b.scales[j] | (l << 4));
        }
        b.dmin = f32_to_fp16(max_min / 15.f);
    } else {
        b.dmin = f32_to_fp16(0.0f);
    }
}

// Q3_K without imatrix (quantize_row_q3_K_ref): 6-bit signed codes of the 16 scales relative to
// the scale of largest magnitude (the first one on ties), mapped to -32 so the full range is used;
// each code truncated to a byte first, then clamped to -32..31, as ggml.
DGK_HD void quantize_scales_q3k(const float* scales, block_q3_k& b) {
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        const float a = fabsf(scales[j]);
        if (a > amax) {
            amax = a;
            max_scale = scales[j];
        }
    }
    if (max_scale != 0.0f) {
        const float iscale = -32.f / max_scale;
        int q[16];
        for (int j = 0; j < 16; ++j) {
            const int l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
            q[j] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        }
        pack_scale6_q3(q, b.scales);
        b.d = f32_to_fp16(1 / iscale);
    } else {
        for (int j = 0; j < 12; ++j) b.scales[j] = 0;
        b.d = f32_to_fp16(0.0f);
    }
}

// Q4_K (NMAX 15) / Q5_K (NMAX 31) final pass: with the stored (fp16-rounded) factors and 6-bit codes,
// requantize every sub-block whose scale is non-zero into L[256]; the others keep the search's levels.
template <int NMAX>
DGK_HD void requantize_scale_min(const float* x, const uint8_t* scales, uint16_t d_bits, uint16_t dmin_bits,
                                 uint8_t* L) {
    const float d_all = fp16_to_f32(d_bits);
    const float m_all = fp16_to_f32(dmin_bits);
    for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        unpack_scale_min6(scales, j, &sc, &m);
        const float d = d_all * (float)sc;
        if (d == 0.0f) continue;
        const float dm = m_all * (float)m;
        for (int i = 0; i < 32; ++i) {
            const int l = nearest_int((x[32 * j + i] + dm) / d);
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : (l > NMAX ? NMAX : l));
        }
    }
}

// Q4_K (NMAX 15) / Q5_K (NMAX 31), all but the packing of the levels: the 8 sub-block searches, the
// 6-bit codes and fp16 factors into b, then the levels L[256] requantized with what b stores.
// qw: the super-block's slice of the importance matrix, or null.
template <int NMAX, class Block>
DGK_HD void encode_scale_min_levels(const float* x, const float* qw, Block& b, uint8_t* L) {
    float scales[8], mins[8];
    if (qw) {
        float sw[8];
        ref::search_scale_min_imatrix(x, qw, NMAX, L, scales, mins, sw);
        quantize_scale_min_imatrix(scales, mins, sw, NMAX == 31, b);  // Q4_K: unclamped codes, as ggml
    } else if (NMAX == 15) {
        ref::search_scale_min_plain(x, 15, -1.f, 0.1f, 20, L, scales, mins);
        quantize_scale_min_plain(scales, mins, b);
    } else {
        ref::search_scale_min_plain(x, 31, -0.5f, 0.1f, 15, L, scales, mins);
        quantize_scale_min_plain(scales, mins, b);
    }
    requantize_scale_min<NMAX>(x, b.scales, b.d, b.dmin, L);
}

}  // namespace
}  // namespace dgk::kq
