// The CPU's one compiled copy of each scale search (see scale_search.h): the host+device bodies of
// scale_search.h, out of line.
#include "scale_search.h"

namespace dgk::ref {

float make_qx_quants(int n, int nmax, const float* x, int8_t* L, int rmse_type, const float* qw) {
    return hd::make_qx_quants(n, nmax, x, L, rmse_type, qw);
}

float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse) {
    return hd::make_q3_quants(n, nmax, x, L, do_rmse);
}

float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    return hd::make_qkx2_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}

float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L, float* the_min,
                       uint8_t* Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    return hd::make_qkx3_quants(n, nmax, x, weights, L, the_min, Laux, rmin, rdelta, nstep, use_mad);
}

float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights) {
    return hd::make_qp_quants(n, nmax, x, L, quant_weights);
}

void search_scale_min_plain(const float* x, int nmax, float rmin, float rdelta, int nstep, uint8_t* L,
                            float* scales, float* mins) {
    hd::search_scale_min_plain(x, nmax, rmin, rdelta, nstep, L, scales, mins);
}

void search_scale_min_imatrix(const float* x, const float* qw, int nmax, uint8_t* L, float* scales, float* mins,
                              float* sw) {
    hd::search_scale_min_imatrix(x, qw, nmax, L, scales, mins, sw);
}

}  // namespace dgk::ref
