// IQ2_S AVX2 encode: encode.cpp's super-block loop around the lane-parallel search of
// avx2_iq2search.h (trial scales and grid neighbours in the lanes); same bytes for every input.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "../common/avx2_iq2search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

constexpr float kZeroGroup = 1e-8f;

void encode_superblock(const GridArrays& A, const float* xbl, const float* qwbl, block_iq2_s* y) {
    std::memset(y, 0, sizeof(*y));
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = 2 * sumx2 / QK_K;

    uint8_t* signs_out = y->qs + QK_K / 8;
    float scales[QK_K / 16];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        alignas(32) float weight[16], waux[16], xval[16];
        for (int i = 0; i < 16; i += 8) {
            const __m256 x = _mm256_loadu_ps(xb + i);
            const __m256 x2 = _mm256_mul_ps(x, x);
            const __m256 w = qwbl ? _mm256_mul_ps(_mm256_loadu_ps(qwbl + 16 * ib + i),
                                                  _mm256_sqrt_ps(_mm256_add_ps(_mm256_set1_ps(sigma2), x2)))
                                  : _mm256_add_ps(_mm256_set1_ps(0.25f * sigma2), x2);
            _mm256_store_ps(weight + i, w);
            _mm256_store_ps(waux + i, _mm256_sqrt_ps(w));
        }
        uint8_t signs[2];
        for (int k = 0; k < 2; ++k) signs[k] = iq2::fold_signs(xb + 8 * k, weight + 8 * k, false, xval + 8 * k);

        float max = xval[0];
        for (int i = 1; i < 16; ++i) max = max > xval[i] ? max : xval[i];
        if (max < kZeroGroup) {
            scales[ib] = 0;
            continue;
        }
        uint16_t keys[2];
        float scale = iq2_search_group16(A, xval, weight, waux, max, keys);
        if (scale < 0) {
            scale = -scale;
            for (int k = 0; k < 2; ++k) signs[k] = static_cast<uint8_t>(~signs[k]);
        }
        for (int k = 0; k < 2; ++k) {
            const int g = iq2_point(A, keys[k]);
            const int i8 = 2 * ib + k;
            y->qs[i8] = static_cast<uint8_t>(g & 255);
            y->qh[i8 / 4] |= static_cast<uint8_t>((g >> 8) << (2 * (i8 % 4)));
            signs_out[i8] = signs[k];
        }
        scales[ib] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }
    if (!max_scale) return;

    const float d = max_scale / 31;
    y->d = f32_to_fp16(d * 0.9875f);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 15 ? 15 : l;
        y->scales[ib / 2] |= static_cast<uint8_t>(l << (4 * (ib % 2)));
    }
}

}  // namespace

void encode_iq2_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ2_S).arrays();
    auto* y = static_cast<block_iq2_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        encode_superblock(A, x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, y + b);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq2_s = {FormatId::IQ2_S, nullptr, avx2::encode_iq2_s};
}
