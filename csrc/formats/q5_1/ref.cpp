// Q5_1: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_q5_1(const void*, float*, int64_t) { throw NotImplemented("decoding Q5_1 is not implemented yet"); }
void encode_q5_1(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding Q5_1 is not implemented yet"); }

}  // namespace dgk::ref
