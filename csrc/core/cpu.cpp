// CPU feature detection (cpuid + xgetbv) and the process-wide active ISA.
#include "dgk/cpu.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define DGK_X86 1
#endif

namespace dgk {

namespace {
bool detect_avx2() {
#ifdef DGK_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29), avx = c & (1u << 28);
    if (!(osxsave && avx && fma && f16c)) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6u) != 0x6u) return false;  // XMM and YMM state enabled by the OS
    if (__get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 0, a, b, c, d);
    return b & (1u << 5);
#else
    return false;
#endif
}
}  // namespace

// Detected once: under a hypervisor each cpuid traps to the host (microseconds), and every kernel
// call checks the ISA it is asked for.
bool cpu_has_avx2() {
    static const bool has = detect_avx2();
    return has;
}

namespace {
Isa initial_isa() {
    const char* env = std::getenv("DGKERNELS_ISA");
    if (env && std::strcmp(env, "scalar") == 0) return Isa::Scalar;
    return cpu_has_avx2() ? Isa::Avx2 : Isa::Scalar;
}
std::atomic<int> g_isa{static_cast<int>(initial_isa())};
}  // namespace

Isa active_isa() { return static_cast<Isa>(g_isa.load(std::memory_order_relaxed)); }

bool set_active_isa(Isa isa) {
    if (isa == Isa::Avx2 && !cpu_has_avx2()) return false;
    g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
    return true;
}

const char* isa_name(Isa isa) { return isa == Isa::Avx2 ? "avx2" : "scalar"; }

int64_t llc_bytes() {
    static const int64_t bytes = [] {
        int64_t best = 0;
        for (int i = 0; i < 8; ++i) {  // cpu0's caches; the unit is K or M
            const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
            std::ifstream size_f(dir + "size");
            int64_t amount = 0;
            std::string unit;
            if (!(size_f >> amount >> unit)) continue;
            const int64_t scale = unit == "K" ? 1 << 10 : unit == "M" ? 1 << 20 : 0;
            best = std::max(best, amount * scale);
        }
        return best > 0 ? best : int64_t{32} << 20;
    }();
    return bytes;
}

}  // namespace dgk
