// PLACEHOLDER: the K-quants work implements these (see scale_search.h).
#include "scale_search.h"

#include "dgk/registry.h"

namespace dgk::ref {

float make_qx_quants(int, int, const float*, int8_t*, int, const float*) { throw NotImplemented("make_qx_quants"); }
float make_q3_quants(int, int, const float*, int8_t*, bool) { throw NotImplemented("make_q3_quants"); }
float make_qkx2_quants(int, int, const float*, const float*, uint8_t*, float*, uint8_t*, float, float, int, bool) {
    throw NotImplemented("make_qkx2_quants");
}
float make_qkx3_quants(int, int, const float*, const float*, uint8_t*, float*, uint8_t*, float, float, int, bool) {
    throw NotImplemented("make_qkx3_quants");
}
float make_qp_quants(int, int, const float*, uint8_t*, const float*) { throw NotImplemented("make_qp_quants"); }

}  // namespace dgk::ref
