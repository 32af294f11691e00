// Scale searches shared by the legacy, K and IQ encoders. Each follows the ggml helper of the same
// name operation for operation (same loop order, same strict comparisons), because the chosen scale
// decides the encoded bytes. Implemented in scale_search.cpp.
#pragma once
#include <cstdint>

namespace dgk::ref {

// Symmetric search: L[i] in [-nmax, nmax-1] stored as L+nmax; returns the scale.
// rmse_type as ggml: 0 plain, 1..4 weightings; qw optional per-element weights.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw);

// Q3_K's symmetric search (x^2 weights, refinement passes when do_rmse).
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric (scale, min) searches: L in [0, nmax]; *the_min receives -min (>= 0).
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad);

// Positive-only quantization of scales/mins with weights (K-quants with an imatrix, IQ2_XXS start).
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// The 8 sub-block (scale, min) searches of a Q4_K / Q5_K super-block, levels 0..nmax into L[256]
// (ggml's quantize_row_q{4,5}_K_ref): weights rms + |x| per 32 weights, make_qkx2_quants with
// (rmin, rdelta, nstep).
void search_scale_min_plain(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                            float* scales, float* mins);

// The same with an importance matrix (quantize_row_q{4,5}_K_impl): weights qw * sqrt(sigma2 + x^2),
// make_qkx3_quants(-0.9, 0.05, 36); sw[j] receives sub-block j's weight sum.
void search_scale_min_imatrix(const float* x, const float* qw, int nmax, uint8_t* L, float* scales, float* mins,
                              float* sw);

}  // namespace dgk::ref
