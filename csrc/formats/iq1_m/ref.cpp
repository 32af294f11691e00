// IQ1_M: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq1_m(const void*, float*, int64_t) { throw NotImplemented("decoding IQ1_M is not implemented yet"); }
void encode_iq1_m(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ1_M is not implemented yet"); }

}  // namespace dgk::ref
