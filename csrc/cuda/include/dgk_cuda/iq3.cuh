// IQ3_XXS / IQ3_S encoders, host+device: the CPU reference's block encoders (csrc/formats/iq3_{xxs,s}/
// pack.h) around its group search (csrc/formats/common/iq3_group_search.h). The grid index
// (dgk::ref::Iq3GridIndex, built on the host by the CPU code) is read through Iq3View: host vectors in
// the emulation, device copies in the kernels.
#pragma once
#include "common.cuh"
#include "formats/common/iq3_group_search.h"
#include "formats/iq3_s/pack.h"
#include "formats/iq3_xxs/pack.h"
#include "iq_views.h"

namespace dgk::cuda {

// The search the block encoders call: iq3_search_group over the view with the format's rule.
struct Iq3ViewSearch {
    const Iq3View* grid;
    Iq3SearchRule rule;
    DGKC_HD float operator()(const float* xval, const float* weight, const float* waux, float max,
                             uint16_t* grid_index) const {
        return iq3_search_group(*grid, rule, xval, weight, waux, max, grid_index);
    }
};

DGKC_HD void encode_iq3_xxs_block(const Iq3View& g, const float* xs, const float* qw, uint8_t* p) {
    iq3xxs::encode_block(xs, qw, *(block_iq3_xxs*)p, Iq3ViewSearch{&g, {15, false}});
}

DGKC_HD void encode_iq3_s_block(const Iq3View& g, const float* xs, const float* qw, uint8_t* p) {
    iq3s::encode_block(xs, qw, *(block_iq3_s*)p, Iq3ViewSearch{&g, {9, true}});
}

}  // namespace dgk::cuda
