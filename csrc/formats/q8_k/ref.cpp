// Q8_K: 256 int8 quants with an fp32 scale and 16 partial sums (ggml's activation format for
// K-quant dot products). Encoder follows quantize_row_q8_K_ref: iscale = -127/max with max the
// signed value of largest magnitude, so q = -127 at that element and the scale d = 1/iscale.
#include <cmath>
#include <cstring>

#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_q8_k(const void* src, float* dst, int64_t nblocks) {
    const auto* blk = static_cast<const block_q8_k*>(src);
    for (int64_t i = 0; i < nblocks; ++i)
        for (int j = 0; j < QK_K; ++j) *dst++ = blk[i].d * blk[i].qs[j];
}

void encode_q8_k(const float* x, void* dst, int64_t n, const float* /*imatrix: unused by ggml*/) {
    auto* blk = static_cast<block_q8_k*>(dst);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            const float a = std::fabs(x[j]);
            if (a > amax) {
                amax = a;
                max = x[j];
            }
        }
        block_q8_k& b = blk[i];
        if (!amax) {
            // ggml clears d and qs but leaves bsums untouched; zero them rather than leak memory.
            std::memset(&b, 0, sizeof b);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            const int v = nearest_int(iscale * x[j]);
            b.qs[j] = (int8_t)(uint8_t)(v < 127 ? v : 127);  // low byte, as ggml's int -> int8 store
        }
        for (int g = 0; g < QK_K / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
            b.bsums[g] = (int16_t)sum;
        }
        b.d = 1 / iscale;
    }
}

}  // namespace dgk::ref
