// IQ2_XXS scalar decode: block by block, run by run, through the shared decoder (decode_group.h).
#include "decode_group.h"
#include "dgk/kernels.h"

namespace dgk::ref {

void decode_iq2_xxs(const void* src, float* dst, int64_t nblocks) {
    decode_blocks<block_iq2_xxs, QK_K>(src, dst, nblocks);
}

}  // namespace dgk::ref
