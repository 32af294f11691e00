// The CPU's one compiled copy of the IQ4 group searches (see iq4_search.h).
#include "iq4_search.h"

namespace dgk::ref {

float iq4_group_scale(const float* xb, const float* w) { return hd::iq4_group_scale(xb, w); }

void iq4_levels_pack(const float* xb, float id, uint8_t* qs) { hd::iq4_levels_pack(xb, id, qs); }

}  // namespace dgk::ref
