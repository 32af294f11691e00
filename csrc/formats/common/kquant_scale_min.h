// The (scale, min) quantization of Q4_K and Q5_K after their sub-block searches, shared by the
// scalar (ref.cpp) and AVX2 (avx2.cpp) encoders: 6-bit codes of the 8 sub-block scales and mins,
// packed, and the fp16 super-block factors d and dmin. Internal linkage (both ISAs include this).
#pragma once
#include <cstdint>

#include "dgk/fp.h"
#include "kquant_scales.h"
#include "scale_search.h"

namespace dgk::kq {
namespace {

inline uint8_t min63(uint8_t v) { return v < 63 ? v : 63; }

// Without imatrix (ggml's quantize_row_q{4,5}_K_ref): codes relative to the largest scale and
// min, each truncated to a byte first, then clamped to 63 (ggml's order).
template <class Block>
inline void quantize_scale_min_plain(const float* scales, const float* mins, Block& b) {
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
inline void quantize_scale_min_imatrix(const float* scales, const float* mins, const float* sw, bool clamp,
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

}  // namespace
}  // namespace dgk::kq
