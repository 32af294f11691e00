// IQ2_S encode: PLACEHOLDER until its kernel lands (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void encode_iq2_s(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding IQ2_S is not implemented yet"); }

}  // namespace dgk::ref
