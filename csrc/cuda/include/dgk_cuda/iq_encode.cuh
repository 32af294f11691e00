// Dispatch of the IQ grid encoders (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), host+device.
#pragma once
#include "formats.cuh"
#include "iq1.cuh"
#include "iq2.cuh"
#include "iq3.cuh"

namespace dgk::cuda {

DGKC_HD constexpr bool is_iq_grid_format(int f) {
    return f == F_IQ1_S || f == F_IQ1_M || f == F_IQ2_XXS || f == F_IQ2_XS || f == F_IQ2_S || f == F_IQ3_XXS ||
           f == F_IQ3_S;
}

template <int F> DGKC_HD void iq_encode_block(const IqViews& v, const float* x, const float* qw, uint8_t* out) {
    if constexpr (F == F_IQ1_S) encode_iq1_s_block(v.g2, x, qw, out);
    else if constexpr (F == F_IQ1_M) encode_iq1_m_block(v.g2, x, qw, out);
    else if constexpr (F == F_IQ2_XXS) encode_iq2_xxs_block(v.g2, x, qw, out);
    else if constexpr (F == F_IQ2_XS) encode_iq2_xs_block(v.g2, x, qw, out);
    else if constexpr (F == F_IQ2_S) encode_iq2_s_block(v.g2, x, qw, out);
    else if constexpr (F == F_IQ3_XXS) encode_iq3_xxs_block(v.g3, x, qw, out);
    else if constexpr (F == F_IQ3_S) encode_iq3_s_block(v.g3, x, qw, out);
}

}  // namespace dgk::cuda
