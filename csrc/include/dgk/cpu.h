// Runtime instruction-set selection: chosen once at import, switchable for tests.
#pragma once
#include <cstdint>

#include "dgk/registry.h"

namespace dgk {

bool cpu_has_avx2();     // AVX2 + FMA + F16C, and the OS saves YMM state (xgetbv)
Isa active_isa();
// Force an ISA; returns false (and changes nothing) if this CPU cannot run it.
bool set_active_isa(Isa isa);
const char* isa_name(Isa isa);
// Bytes of the largest cache one core sees (sysfs: one L3 instance, not the package); 32 MiB if unknown.
int64_t llc_bytes();

}  // namespace dgk
