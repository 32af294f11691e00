// Bit packing shared by the K-quant kernels: 6-bit sub-block scales (Q3_K: 16 signed-offset
// scales; Q4_K/Q5_K: 8 scale/min pairs) in 12 bytes, and the 2-bit quant layout of Q2_K/Q3_K.
// Every index is masked or bounded, so decoders may be fed arbitrary bytes. Included by scalar and
// AVX2 files (via avx2_kquant.h) and the CUDA module: the functions are DGK_HD (`static`, and
// __host__ __device__ under nvcc) so each file keeps its own copy and the linker cannot give the
// scalar path one compiled with AVX2 flags.
#pragma once
#include <cstdint>

#include "dgk/fp.h"

namespace dgk::kq {

// ---- Q4_K / Q5_K: 8 (scale, min) pairs of 6 bits -------------------------------------------
// Bytes 0-3: scale 0-3 (bits 0-5), bits 6-7 = high bits of scale 4-7.
// Bytes 4-7: min 0-3 (bits 0-5), bits 6-7 = high bits of min 4-7.
// Bytes 8-11: low nibble = low 4 bits of scale 4-7, high nibble = low 4 bits of min 4-7.
DGK_HD void unpack_scale_min6(const uint8_t* s, int j, uint8_t* sc, uint8_t* mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
        *mn = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// Packs 8 pairs. Values are taken as bytes exactly as given: the imatrix path of Q4_K stores
// make_qp_quants' outputs unclamped, so a value > 63 spills into the neighbouring bits as in ggml.
DGK_HD void pack_scale_min6(const uint8_t* ls, const uint8_t* lm, uint8_t* s) {
    for (int j = 0; j < 4; ++j) {
        s[j] = ls[j];
        s[j + 4] = lm[j];
    }
    for (int j = 4; j < 8; ++j) {
        s[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        s[j - 4] = (uint8_t)(s[j - 4] | ((ls[j] >> 4) << 6));
        s[j] = (uint8_t)(s[j] | ((lm[j] >> 4) << 6));
    }
}

// ---- Q3_K: 16 scales of 6 bits (stored value = scale + 32) ---------------------------------
// Low nibbles: scale j < 8 in the low nibble of byte j, j >= 8 in the high nibble of byte j-8.
// High 2 bits of scale j: byte 8 + j%4, bit position 2*(j/4).
DGK_HD int unpack_scale6_q3(const uint8_t* s, int j) {
    const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
    return (lo | (hi << 4)) - 32;
}

// `q` holds 16 values in [0, 63].
DGK_HD void pack_scale6_q3(const int* q, uint8_t* s) {
    for (int j = 0; j < 12; ++j) s[j] = 0;
    for (int j = 0; j < 16; ++j) {
        const int v = q[j];
        if (j < 8) {
            s[j] = (uint8_t)(v & 0xF);
        } else {
            s[j - 8] = (uint8_t)(s[j - 8] | ((v & 0xF) << 4));
        }
        s[8 + (j & 3)] = (uint8_t)(s[8 + (j & 3)] | ((v >> 4) << (2 * (j >> 2))));
    }
}

// ---- 2-bit quants (Q2_K qs, Q3_K low bits) -------------------------------------------------
// Each 128-weight half uses 32 bytes; byte l holds elements l, l+32, l+64, l+96 at bits 0,2,4,6.
// `L` holds 256 values in [0, 3].
DGK_HD void pack_2bit(const uint8_t* L, uint8_t* qs) {
    for (int h = 0; h < 2; ++h) {
        const uint8_t* src = L + 128 * h;
        for (int l = 0; l < 32; ++l) {
            qs[32 * h + l] = (uint8_t)(src[l] | (src[l + 32] << 2) | (src[l + 64] << 4) | (src[l + 96] << 6));
        }
    }
}

}  // namespace dgk::kq
