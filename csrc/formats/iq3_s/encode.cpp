// IQ3_S encode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void encode_iq3_s(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ3_S is not implemented yet"); }

}  // namespace dgk::ref
