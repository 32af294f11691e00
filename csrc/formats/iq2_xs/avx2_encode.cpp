// IQ2_XS AVX2 encode: encode.cpp's super-block loop around the lane-parallel search of
// avx2_iq2search.h (trial scales and grid neighbours in the lanes); same bytes for every input.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/avx2_iq2search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

constexpr float kZeroGroup = 1e-15f;

void encode_superblock(const GridArrays& A, const float* xbl, const float* qwbl, block_iq2_xs* y) {
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = sumx2 / QK_K;

    uint16_t q2[QK_K / 8] = {0};
    float scales[QK_K / 16];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = xbl + 16 * ib;
        const float* qw = qwbl + 16 * ib;
        alignas(32) float weight[16], waux[16], xval[16];
        for (int i = 0; i < 16; i += 8) {
            const __m256 x = _mm256_loadu_ps(xb + i);
            const __m256 s = _mm256_sqrt_ps(_mm256_add_ps(_mm256_set1_ps(sigma2), _mm256_mul_ps(x, x)));
            const __m256 w = _mm256_mul_ps(_mm256_loadu_ps(qw + i), s);
            _mm256_store_ps(weight + i, w);
            _mm256_store_ps(waux + i, _mm256_sqrt_ps(w));
        }
        uint8_t signs[2];
        for (int k = 0; k < 2; ++k) signs[k] = iq2::fold_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);

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
            for (int k = 0; k < 2; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
        }
        for (int k = 0; k < 2; ++k)
            q2[2 * ib + k] = static_cast<uint16_t>(iq2_point(A, keys[k]) | (signs[k] << 9));
        scales[ib] = scale;
        max_scale = max_scale > scale ? max_scale : scale;
    }

    y->d = f32_to_fp16(0.f);
    std::memset(y->scales, 0, sizeof(y->scales));
    if (!max_scale) {
        std::memset(y->qs, 0, sizeof(y->qs));
        return;
    }
    const float d = max_scale / 31;
    y->d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 15 ? 15 : l;
        y->scales[ib / 2] |= static_cast<uint8_t>(l << (4 * (ib % 2)));
    }
    std::memcpy(y->qs, q2, sizeof(y->qs));
}

}  // namespace

void encode_iq2_xs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XS cannot be encoded without an importance matrix");
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ2_XS).arrays();
    auto* y = static_cast<block_iq2_xs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) encode_superblock(A, x + b * QK_K, imatrix + b * QK_K, y + b);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq2_xs = {FormatId::IQ2_XS, nullptr, avx2::encode_iq2_xs};
}
