// IQ4_XS: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq4_xs(const void*, float*, int64_t) { throw NotImplemented("decoding IQ4_XS is not implemented yet"); }
void encode_iq4_xs(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ4_XS is not implemented yet"); }

}  // namespace dgk::ref
