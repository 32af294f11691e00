// IQ1_M decode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq1_m(const void*, float*, int64_t) { throw NotImplemented("decoding IQ1_M is not implemented yet"); }

}  // namespace dgk::ref
