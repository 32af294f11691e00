// IQ2_XS decode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq2_xs(const void*, float*, int64_t) { throw NotImplemented("decoding IQ2_XS is not implemented yet"); }

}  // namespace dgk::ref
