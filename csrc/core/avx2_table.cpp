// AVX2 kernel table. Entries stay null until a format gets an AVX2 kernel
// (csrc/formats/<fmt>/avx2.cpp); null entries fall back to the scalar reference.
#include "dgk/registry.h"

namespace dgk {

const Kernels* avx2_kernel_table() {
    static const Kernels table[kNumFormats] = {};
    return table;
}

}  // namespace dgk
