// IQ4_NL: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_iq4_nl(const void*, float*, int64_t) { throw NotImplemented("decoding IQ4_NL is not implemented yet"); }
void encode_iq4_nl(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ4_NL is not implemented yet"); }

}  // namespace dgk::ref
