// Per-ISA kernel tables. Each csrc/formats/<fmt>/avx2.cpp defines one constant
//     extern const dgk::IsaKernels avx2_kernels_<fmt> = {FormatId::<NAME>, decode_or_null, encode_or_null};
// and an optional avx2_encode.cpp beside it `avx2_encode_kernels_<fmt>` (same type): the non-null entries
// of both are merged. CMake lists them in dgk_avx2_formats.inc, so adding a kernel edits no shared file.
// This file is compiled WITHOUT AVX2 flags: it only reads constants, so importing the module on a
// CPU without AVX2 never executes an AVX2 instruction.
#include "dgk/registry.h"

namespace dgk {

#define DGK_AVX2_KERNELS(symbol) extern const IsaKernels symbol;
#include "dgk_avx2_formats.inc"
#undef DGK_AVX2_KERNELS

const Kernels* avx2_kernel_table() {
    static const IsaKernels* const entries[] = {
#define DGK_AVX2_KERNELS(symbol) &symbol,
#include "dgk_avx2_formats.inc"
#undef DGK_AVX2_KERNELS
        nullptr};
    static Kernels table[kNumFormats] = {};
    static const bool filled = [] {
        for (const IsaKernels* const* e = entries; *e; ++e) {
            Kernels& k = table[static_cast<int>((*e)->format)];
            if ((*e)->decode) k.decode = (*e)->decode;
            if ((*e)->encode) k.encode = (*e)->encode;
            if ((*e)->encode_checked) k.encode_checked = (*e)->encode_checked;
            if ((*e)->decode_stream) k.decode_stream = (*e)->decode_stream;
        }
        return true;
    }();
    (void)filled;
    return table;
}

}  // namespace dgk
