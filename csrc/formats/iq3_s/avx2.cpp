// IQ3_S AVX2 kernels. Decode: one vector per 8 weights (two 4-weight grid points), each lane the
// scalar decoder's operations (product, then sign flip); float and sign-mask tables replace the byte
// unpacking and sign shifts, which bound the decoder on the shuffle ports. Encode: pack.h's encoder
// (shared with encode.cpp) around the lane-parallel group search of avx2_iq3_search.h.
#include <cmath>
#include <cstring>

#include "../common/avx2_iq3_search.h"
#include "../common/avx2_iq_decode.h"
#include "pack.h"
#include "dgk/blocks.h"
#include "dgk/fp.h"
#include "dgk/kernels.h"
#include "dgk/registry.h"
#include "dgk/tables.h"

namespace dgk::avx2 {

// Grid points as four exact floats, 16 bytes each: a point is one aligned load, no byte conversion.
// Built on first use (no AVX2 code may run when the module loads).
struct Iq3sGridF { alignas(64) float v[512][4]; };
static const Iq3sGridF& iq3s_grid_f() {
    static const Iq3sGridF t = [] {
        Iq3sGridF g{};
        for (int i = 0; i < 512; ++i)
            for (int j = 0; j < 4; ++j) g.v[i][j] = (float)((iq3s_grid[i] >> (8 * j)) & 0xffu);
        return g;
    }();
    return t;
}

// v[s] lane j = the float sign bit iff bit j of s: iq_sign_mask(s) as one load.
struct SignMasks8 { alignas(64) uint32_t v[256][8]; };
static constexpr SignMasks8 make_sign_masks() {
    SignMasks8 t{};
    for (int s = 0; s < 256; ++s)
        for (int j = 0; j < 8; ++j) t.v[s][j] = (s >> j & 1) ? 0x80000000u : 0u;
    return t;
}
static constexpr SignMasks8 kSignMasks = make_sign_masks();

// Per 32 weights the eight grid offsets are built in one vector and moved out as four pairs (one
// vector store read back by scalar loads would stall on store forwarding).
template <class Store>
static void decode_iq3_s_with(const void* src, float* dst, int64_t nblocks) {
    const auto* blocks = static_cast<const block_iq3_s*>(src);
    const char* grid = reinterpret_cast<const char*>(iq3s_grid_f().v);
    // offset of point k = 16 * (qs byte | bit k of qh << 8)
    const __m256i hi_shift = _mm256_setr_epi32(12, 11, 10, 9, 8, 7, 6, 5), hi_bit = _mm256_set1_epi32(0x1000);
    const __m256i nib_shift = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28), nib = _mm256_set1_epi32(0xf);
    const __m256i one = _mm256_set1_epi32(1);
    for (int64_t b = 0; b < nblocks; ++b, dst += QK_K) {
        const block_iq3_s& blk = blocks[b];
        uint32_t sc;
        std::memcpy(&sc, blk.scales, sizeof(sc));
        const __m256i s = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sc), nib_shift), nib);
        const __m256 f = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_add_epi32(s, s), one));
        alignas(32) float db[8];  // d * (1 + 2s) of group g: the scalar code's one float product
        _mm256_store_ps(db, _mm256_mul_ps(_mm256_set1_ps(fp16_to_f32(blk.d)), f));
#pragma GCC unroll 8
        for (int g = 0; g < QK_K / 32; ++g) {
            uint32_t h;  // qh[g] and the bytes after it (still inside the block), which the shifts drop
            std::memcpy(&h, blk.qh + g, sizeof(h));
            const __m256i high = _mm256_and_si256(_mm256_sllv_epi32(_mm256_set1_epi32((int)h), hi_shift), hi_bit);
            const __m256i off = _mm256_or_si256(high, _mm256_slli_epi32(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk.qs + 8 * g))), 4));
            const __m128i lo = _mm256_castsi256_si128(off), hi = _mm256_extracti128_si256(off, 1);
            const uint64_t pair[4] = {(uint64_t)_mm_cvtsi128_si64(lo), (uint64_t)_mm_extract_epi64(lo, 1),
                                      (uint64_t)_mm_cvtsi128_si64(hi), (uint64_t)_mm_extract_epi64(hi, 1)};
            const __m256 dg = _mm256_broadcast_ss(db + g);
            for (int l = 0; l < 4; ++l) {
                const __m256 mag = _mm256_insertf128_ps(
                    _mm256_castps128_ps256(_mm_load_ps(reinterpret_cast<const float*>(grid + (uint32_t)pair[l]))),
                    _mm_load_ps(reinterpret_cast<const float*>(grid + (pair[l] >> 32))), 1);
                const __m256 sign = _mm256_load_ps(reinterpret_cast<const float*>(kSignMasks.v[blk.signs[4 * g + l]]));
                Store::put(dst + 32 * g + 8 * l, _mm256_xor_ps(_mm256_mul_ps(dg, mag), sign));
            }
        }
    }
}
DGK_AVX2_DECODE_PAIR(decode_iq3_s)

void encode_iq3_s(const float* x, void* dst, int64_t n, const float* imatrix) {
    const Iq3LaneIndex& ix = iq3_lane_index(512);
    auto search = [&](const float* xval, const float* w, const float* waux, float max, uint16_t* grid_index) {
        return iq3_search_group<9, true>(ix, xval, w, waux, max, grid_index);
    };
    auto* out = static_cast<block_iq3_s*>(dst);
    for (int64_t b = 0; b < n / QK_K; ++b)
        iq3s::encode_block(x + b * QK_K, imatrix ? imatrix + b * QK_K : nullptr, out[b], search, Iq3Fold{}, Iq3Weights{});
}

}  // namespace dgk::avx2

namespace dgk {
extern const IsaKernels avx2_kernels_iq3_s = {FormatId::IQ3_S, avx2::decode_iq3_s, avx2::encode_iq3_s, nullptr,
                                              avx2::decode_iq3_s_stream};
}
