// TQ1_0: ternary weights, five trits per byte (base 3, first trit most significant), 256 per block.
// A byte stores ceil(t * 256 / 243) for the 5-trit number t, so that trit k is recovered as the
// top "digit" of (byte * 3^k mod 256) * 3 / 256 without a division.
// Layout: qs[0..31] elements b + 32k (k = 0..4), qs[32..47] elements 160 + b + 16k,
// qh[0..3] elements 240 + b + 4k (k = 0..3; a fifth zero trit pads each of these bytes).
#include "../common/ternary.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

namespace {

constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};

// Trit k (0 = most significant) of a packed byte, as -1, 0 or 1.
inline int unpack_trit(uint8_t byte, int k) {
    const uint8_t shifted = (uint8_t)(byte * kPow3[k]);  // wraps mod 256 on purpose
    return ((int)shifted * 3 >> 8) - 1;
}

// Packs `count` trit codes taken from x at stride `stride` (scaled by id), padded to 5 trits.
inline uint8_t pack_trits(const float* x, int stride, int count, float id) {
    unsigned t = 0;
    for (int k = 0; k < count; ++k) t = t * 3 + (unsigned)ternary_digit(x[k * stride] * id);
    for (int k = count; k < 5; ++k) t *= 3;
    return (uint8_t)((t * 256 + 242) / 243);
}

}  // namespace

void decode_tq1_0(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_tq1_0*>(src);
    for (int64_t i = 0; i < nblocks; ++i) {
        const float d = fp16_to_f32(blk[i].d);
        const uint8_t* qs = blk[i].qs;
        for (int k = 0; k < 5; ++k)
            for (int b = 0; b < 32; ++b) *dst++ = (float)unpack_trit(qs[b], k) * d;
        for (int k = 0; k < 5; ++k)
            for (int b = 0; b < 16; ++b) *dst++ = (float)unpack_trit(qs[32 + b], k) * d;
        for (int k = 0; k < 4; ++k)
            for (int b = 0; b < 4; ++b) *dst++ = (float)unpack_trit(blk[i].qh[b], k) * d;
    }
}

void encode_tq1_0(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_tq1_0*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        const float d = ternary_amax(x);
        const float id = d ? 1.0f / d : 0.0f;
        blk[i].d = f32_to_fp16(d);
        for (int b = 0; b < 32; ++b) blk[i].qs[b] = pack_trits(x + b, 32, 5, id);
        for (int b = 0; b < 16; ++b) blk[i].qs[32 + b] = pack_trits(x + 160 + b, 16, 5, id);
        for (int b = 0; b < 4; ++b) blk[i].qh[b] = pack_trits(x + 240 + b, 4, 4, id);
    }
}

}  // namespace dgk::ref
