// IQ2_XXS AVX2 encode: encode.cpp's group and super-block code around the lane-parallel search of
// avx2_iq2search.h (trial scales and grid neighbours in the lanes); same bytes for every input.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "../common/avx2_iq2search.h"
#include "../common/scale_search.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::avx2 {

namespace {

constexpr int kMaxQ = 3;
constexpr float kZeroGroup = 1e-15f;

// encode.cpp's encode_group: the scale of one 32-weight group (0 for a group too small to encode),
// its 4 grid indices and 28 sign bits.
float encode_group(const GridArrays& A, const float* xb, const float* weight, uint32_t* idx_word, uint32_t* sign_word) {
    alignas(32) float xval[32], waux[32];
    for (int i = 0; i < 32; i += 8) _mm256_store_ps(waux + i, _mm256_sqrt_ps(_mm256_loadu_ps(weight + i)));
    uint8_t signs[4];
    for (int k = 0; k < 4; ++k) signs[k] = iq2::fold_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k);

    float max = xval[0];
    for (int i = 1; i < 32; ++i) max = max > xval[i] ? max : xval[i];
    if (max < kZeroGroup) return 0;

    uint8_t Lqp[32];
    Iq2Search<4> s{ref::make_qp_quants(32, kMaxQ + 1, xval, Lqp, weight), 0, {0, 0, 0, 0}, {true, true, true, true}};
    const float eff_max = s.scale * kMaxQ;
    if (eff_max <= 0) return 0;

    const Iq2Group<4> g(xval, weight, waux);
    iq2_trials(A, g, eff_max, -6, 6, s);
    // Every point is requantized at the chosen scale (when positive), so the make_qp_quants levels
    // never reach the output.
    iq2_requantize(A, g, true, s);
    float scale = s.scale;
    if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
    }
    uint32_t iw = 0, sw = 0;
    for (int k = 0; k < 4; ++k) {
        iw |= static_cast<uint32_t>(iq2_point(A, s.keys[k])) << (8 * k);
        sw |= static_cast<uint32_t>(signs[k]) << (7 * k);
    }
    *idx_word = iw;
    *sign_word = sw;
    return scale;
}

void encode_superblock(const GridArrays& A, const float* xbl, const float* qwbl, block_iq2_xxs* y) {
    float sumx2 = 0;
    for (int i = 0; i < QK_K; ++i) sumx2 += xbl[i] * xbl[i];
    const float sigma2 = sumx2 / QK_K;

    uint32_t words[2 * (QK_K / 32)] = {0};
    float scales[QK_K / 32];
    float max_scale = 0;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float* xb = xbl + 32 * ib;
        alignas(32) float weight[32];
        for (int i = 0; i < 32; i += 8) {
            const __m256 x = _mm256_loadu_ps(xb + i);
            const __m256 s = _mm256_sqrt_ps(_mm256_add_ps(_mm256_set1_ps(sigma2), _mm256_mul_ps(x, x)));
            _mm256_store_ps(weight + i, _mm256_mul_ps(_mm256_loadu_ps(qwbl + 32 * ib + i), s));
        }
        scales[ib] = encode_group(A, xb, weight, &words[2 * ib], &words[2 * ib + 1]);
        max_scale = max_scale > scales[ib] ? max_scale : scales[ib];
    }

    y->d = f32_to_fp16(0.f);
    if (!max_scale) {
        std::memset(y->qs, 0, sizeof(y->qs));
        return;
    }
    const float d = max_scale / 31;
    y->d = f32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        int l = nearest_int(0.5f * (id * scales[ib] - 1));
        l = l < 0 ? 0 : l > 15 ? 15 : l;
        words[2 * ib + 1] |= static_cast<uint32_t>(l) << 28;
    }
    std::memcpy(y->qs, words, sizeof(y->qs));
}

}  // namespace

void encode_iq2_xxs(const float* x, void* dst, int64_t n, const float* imatrix) {
    if (!imatrix) throw std::invalid_argument("IQ2_XXS cannot be encoded without an importance matrix");
    const GridArrays A = iq2::grid_index(iq2::Lattice::IQ2_XXS).arrays();
    auto* y = static_cast<block_iq2_xxs*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b) encode_superblock(A, x + b * QK_K, imatrix + b * QK_K, y + b);
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_encode_kernels_iq2_xxs = {FormatId::IQ2_XXS, nullptr, avx2::encode_iq2_xxs};
}
