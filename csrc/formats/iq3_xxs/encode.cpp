// IQ3_XXS encode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void encode_iq3_xxs(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ3_XXS is not implemented yet"); }

}  // namespace dgk::ref
