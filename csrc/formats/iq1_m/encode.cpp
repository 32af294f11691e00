// IQ1_M encode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void encode_iq1_m(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ1_M is not implemented yet"); }

}  // namespace dgk::ref
