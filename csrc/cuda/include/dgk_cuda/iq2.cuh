// IQ2_XXS / IQ2_XS / IQ2_S encoders, host+device: the CPU reference's block encoders (csrc/formats/
// iq2_*/pack.h) around its searches (csrc/formats/common/iq2_grid_index.h, iq2_xxs/search.h). The
// lattice index (dgk::iq2::GridIndex, built on the host by the CPU code) is read through Iq2View: its
// host arrays in the emulation, device copies in the kernels.
#pragma once
#include "common.cuh"
#include "formats/common/iq2_grid_index.h"
#include "formats/iq2_s/pack.h"
#include "formats/iq2_xs/pack.h"
#include "formats/iq2_xxs/search.h"
#include "iq_views.h"

namespace dgk::cuda {

// The searches the block encoders call, over the view.
struct Iq2xxsViewSearch {
    const Iq2View* grid;
    DGKC_HD bool operator()(const float* xval, const float* weight, const float* waux, float max, float* scale,
                            int* points) const {
        return iq2xxs::search_group(*grid, xval, weight, waux, max, scale, points);
    }
};
struct Iq2PairViewSearch {
    const Iq2View* grid;
    DGKC_HD float operator()(const float* xval, const float* weight, const float* waux, float max, int* points) const {
        return iq2::iq2_search_points16(*grid, xval, weight, waux, max, points);
    }
};

// IQ2_XXS and IQ2_XS need an importance matrix (the host checks before launching).
DGKC_HD void encode_iq2_xxs_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    iq2xxs::encode_superblock(xbl, qwbl, (block_iq2_xxs*)p, Iq2xxsViewSearch{&g});
}
DGKC_HD void encode_iq2_xs_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    iq2xs::encode_superblock(xbl, qwbl, (block_iq2_xs*)p, Iq2PairViewSearch{&g});
}
DGKC_HD void encode_iq2_s_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    iq2s::encode_superblock(xbl, qwbl, (block_iq2_s*)p, Iq2PairViewSearch{&g});
}

}  // namespace dgk::cuda
