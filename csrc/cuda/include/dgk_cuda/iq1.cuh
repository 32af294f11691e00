// IQ1_S / IQ1_M encoders, host+device: the CPU reference's block encoders (csrc/formats/iq1_{s,m}/
// pack.h) with its split searches (iq1_{s,m}/search.h) and IQ1 neighbour search (csrc/formats/common/
// iq2_grid_index.h), over the IQ1 lattice index read through Iq2View.
#pragma once
#include "common.cuh"
#include "formats/common/iq2_grid_index.h"
#include "formats/iq1_m/search.h"
#include "formats/iq1_s/search.h"
#include "iq_views.h"

namespace dgk::cuda {

// The off-grid neighbour search the block encoders call (iq::iq1_snap_refit's `snap`).
struct Iq1ViewSnap {
    const Iq2View* grid;
    DGKC_HD int operator()(uint16_t key, const float* xval, const float* w, float scale, const float* values) const {
        int8_t L[8];
        return iq2::iq1_best_neighbour(*grid, key, xval, w, scale, values, L);
    }
};

// The CPU's split searches as function objects (direct calls on the device, no function pointers).
struct Iq1sSplit {
    DGKC_HD iq1s::Split operator()(const float* xb, const float* weight, float max, int* order) const {
        return iq1s::search_split(xb, weight, max, order);
    }
};
struct Iq1mSplit {
    DGKC_HD iq1m::Split operator()(const float* xb, const float* weight, float max, int* order) const {
        return iq1m::search_split(xb, weight, max, order);
    }
};

// One group of each format: encode_group with the CPU's split search.
struct Iq1sViewGroup {
    const Iq2View* grid;
    DGKC_HD iq1s::GroupResult operator()(const float* xb, const float* weight) const {
        return iq1s::encode_group(*grid, xb, weight, Iq1sSplit{}, Iq1ViewSnap{grid});
    }
};
struct Iq1mViewGroup {
    const Iq2View* grid;
    DGKC_HD iq1m::GroupResult operator()(const float* xb, const float* weight) const {
        return iq1m::encode_group(*grid, xb, weight, Iq1mSplit{}, Iq1ViewSnap{grid});
    }
};

// IQ1_S needs an importance matrix (the host checks before launching).
DGKC_HD void encode_iq1_s_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    iq1s::encode_superblock(xbl, qwbl, (block_iq1_s*)p, Iq1sViewGroup{&g});
}
DGKC_HD void encode_iq1_m_block(const Iq2View& g, const float* xbl, const float* qwbl, uint8_t* p) {
    iq1m::encode_superblock(g, xbl, qwbl, (block_iq1_m*)p, Iq1mViewGroup{&g});
}

}  // namespace dgk::cuda
