// IQ3_XXS: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq3_xxs(const void*, float*, int64_t) { throw NotImplemented("decoding IQ3_XXS is not implemented yet"); }
void encode_iq3_xxs(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ3_XXS is not implemented yet"); }

}  // namespace dgk::ref
