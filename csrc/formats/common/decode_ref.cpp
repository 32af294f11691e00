// The scalar reference decoders of every block format, generated from the registry: each runs the
// format's shared host+device decoder (csrc/formats/<fmt>/decode_group.h) block by block
// (decode_blocks, common/block_decode.h). The float formats decode in csrc/formats/float/ref.cpp.
#include "../q4_0/decode_group.h"
#include "../q4_1/decode_group.h"
#include "../q5_0/decode_group.h"
#include "../q5_1/decode_group.h"
#include "../q8_0/decode_group.h"
#include "../q2_k/decode_group.h"
#include "../q3_k/decode_group.h"
#include "../q4_k/decode_group.h"
#include "../q5_k/decode_group.h"
#include "../q6_k/decode_group.h"
#include "../q8_k/decode_group.h"
#include "../iq1_s/decode_group.h"
#include "../iq1_m/decode_group.h"
#include "../iq2_xxs/decode_group.h"
#include "../iq2_xs/decode_group.h"
#include "../iq2_s/decode_group.h"
#include "../iq3_xxs/decode_group.h"
#include "../iq3_s/decode_group.h"
#include "../iq4_nl/decode_group.h"
#include "../iq4_xs/decode_group.h"
#include "../tq1_0/decode_group.h"
#include "../tq2_0/decode_group.h"
#include "../mxfp4/decode_group.h"
#include "dgk/kernels.h"

namespace dgk::ref {

// One decoder per registry line, chosen by the format's family (the Float family has its own).
#define DGK_DECODE_BLOCKS(lower, bw)                                  \
    void decode_##lower(const void* src, float* dst, int64_t nblocks) { \
        decode_blocks<block_##lower, bw>(src, dst, nblocks);           \
    }
#define DGK_DECODE_Float(lower, bw)
#define DGK_DECODE_Legacy DGK_DECODE_BLOCKS
#define DGK_DECODE_KQuant DGK_DECODE_BLOCKS
#define DGK_DECODE_IQuant DGK_DECODE_BLOCKS
#define DGK_DECODE_Ternary DGK_DECODE_BLOCKS
#define DGK_DECODE_FP4 DGK_DECODE_BLOCKS
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) DGK_DECODE_##fam(lower, bw)
#include "dgk/formats.def"
#undef DGK_FORMAT

}  // namespace dgk::ref
