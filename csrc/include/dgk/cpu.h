// Runtime instruction-set selection: chosen once at import, switchable for tests.
#pragma once
#include "dgk/registry.h"

namespace dgk {

bool cpu_has_avx2();     // AVX2 + FMA + F16C, and the OS saves YMM state (xgetbv)
Isa active_isa();
// Force an ISA; returns false (and changes nothing) if this CPU cannot run it.
bool set_active_isa(Isa isa);
const char* isa_name(Isa isa);

}  // namespace dgk
