// MXFP4: PLACEHOLDER until its kernels land (raises NotImplementedError).
#include "dgk/kernels.h"
#include "dgk/registry.h"

namespace dgk::ref {

void decode_mxfp4(const void*, float*, int64_t) { throw NotImplemented("decoding MXFP4 is not implemented yet"); }
void encode_mxfp4(const float*, void*, int64_t, const float*) { throw NotImplemented("encoding MXFP4 is not implemented yet"); }

}  // namespace dgk::ref
