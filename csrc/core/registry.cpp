// Builds the format table and the per-ISA kernel tables from formats.def.
#include "dgk/registry.h"

#include "dgk/blocks.h"
#include "dgk/kernels.h"

namespace dgk {

#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) \
    static_assert(sizeof(block_##lower) == (bb), "block size of " #NAME " disagrees with formats.def");
#include "dgk/formats.def"
#undef DGK_FORMAT

namespace {

const FormatInfo kInfo[kNumFormats] = {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) {#NAME, id, bw, bb, Family::fam, Imatrix::im},
#include "dgk/formats.def"
#undef DGK_FORMAT
};

const Kernels kScalar[kNumFormats] = {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) {ref::decode_##lower, ref::encode_##lower},
#include "dgk/formats.def"
#undef DGK_FORMAT
};

}  // namespace

const FormatInfo& format_info(FormatId f) { return kInfo[static_cast<int>(f)]; }

const Kernels& kernels(FormatId f, Isa isa) {
    const int i = static_cast<int>(f);
    if (isa == Isa::Avx2) {
        static const Kernels* avx2 = avx2_kernel_table();
        static Kernels merged[kNumFormats] = {};
        static const bool ready = [] {
            for (int k = 0; k < kNumFormats; ++k) {
                merged[k].decode = avx2[k].decode ? avx2[k].decode : kScalar[k].decode;
                merged[k].encode = avx2[k].encode ? avx2[k].encode : kScalar[k].encode;
                merged[k].encode_checked = avx2[k].encode ? avx2[k].encode_checked : nullptr;
                merged[k].decode_stream = avx2[k].decode_stream;
            }
            return true;
        }();
        (void)ready;
        return merged[i];
    }
    return kScalar[i];
}

}  // namespace dgk
