// Q6_K: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_q6_k(const void*, float*, int64_t) { throw NotImplemented("decoding Q6_K is not implemented yet"); }
void encode_q6_k(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding Q6_K is not implemented yet"); }

}  // namespace dgk::ref
