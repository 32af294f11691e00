// IQ2_XS: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq2_xs(const void*, float*, int64_t) { throw NotImplemented("decoding IQ2_XS is not implemented yet"); }
void encode_iq2_xs(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ2_XS is not implemented yet"); }

}  // namespace dgk::ref
