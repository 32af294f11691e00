// Per-ISA kernel tables. Each csrc/formats/<fmt>/avx2.cpp defines one constant
//     extern const dgk::IsaKernels avx2_kernels_<fmt> = {FormatId::<NAME>, decode, encode_or_null};
// and CMake lists those files in dgk_avx2_formats.inc, so adding an AVX2 kernel edits no shared file.
// This file is compiled WITHOUT AVX2 flags: it only reads constants, so importing the module on a
// CPU without AVX2 never executes an AVX2 instruction.
#include "dgk/registry.h"

namespace dgk {

#define DGK_AVX2_FORMAT(lower) extern const IsaKernels avx2_kernels_##lower;
#include "dgk_avx2_formats.inc"
#undef DGK_AVX2_FORMAT

const Kernels* avx2_kernel_table() {
    static const IsaKernels* const entries[] = {
#define DGK_AVX2_FORMAT(lower) &avx2_kernels_##lower,
#include "dgk_avx2_formats.inc"
#undef DGK_AVX2_FORMAT
        nullptr};
    static Kernels table[kNumFormats] = {};
    static const bool filled = [] {
        for (const IsaKernels* const* e = entries; *e; ++e) {
            table[static_cast<int>((*e)->format)] = Kernels{(*e)->decode, (*e)->encode};
        }
        return true;
    }();
    (void)filled;
    return table;
}

}  // namespace dgk
