// IQ2_XXS decode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq2_xxs(const void*, float*, int64_t) { throw NotImplemented("decoding IQ2_XXS is not implemented yet"); }

}  // namespace dgk::ref
