// The scale search shared by IQ4_NL and IQ4_XS (ggml's quantize_row_iq4_nl_impl with ntry = 7,
// the path ggml_quantize_chunk takes). Both formats quantize groups of 32 weights to the 16
// non-linear levels kvalues_iq4nl; they differ only in how the per-group scales are stored.
#pragma once
#include <cstdint>

namespace dgk::ref {

constexpr int kIq4Group = 32;

// Index of the kvalues_iq4nl level nearest to v (ties go to the upper level).
int iq4_nearest_level(float v);

// Importance of each weight of a group: qw*sqrt(sigma2 + x^2) with an imatrix, else x^2.
// sigma2 is 2*sum(x^2)/len over the enclosing super-block (32 for IQ4_NL, 256 for IQ4_XS).
float iq4_sigma2(const float* x, int len);
void iq4_group_weights(const float* xb, const float* qw, float sigma2, float* w);

// Weighted least-squares scale of one group of 32 (may be negative); 0 for a group whose
// largest magnitude is below 1e-15.
float iq4_group_scale(const float* xb, const float* w);

// Level indices of a group quantized with inverse scale id.
void iq4_levels(const float* xb, float id, uint8_t* L);

// Packs 32 level indices: byte j = L[j] | L[j+16] << 4.
void iq4_pack(const uint8_t* L, uint8_t* qs);

}  // namespace dgk::ref
