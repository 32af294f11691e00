// pybind11 module dgkernels._core: thin. Python (api.py) validates arguments and names them in
// errors; this layer re-checks sizes so that a direct call can never read or write out of bounds,
// releases the GIL and calls the dispatcher.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dgk/cpu.h"
#include "dgk/dispatch.h"
#include "dgk/registry.h"
#include "dgk/scan.h"
#include "dgk/tables.h"
#include "dgk/thread_pool.h"
#include "../formats/common/iq2_grid_index.h"
#include "../formats/common/iq3_grid_index.h"

namespace py = pybind11;
using namespace dgk;

namespace {

const char* family_name(Family f) {
    switch (f) {
        case Family::Float: return "float";
        case Family::Legacy: return "legacy";
        case Family::KQuant: return "k";
        case Family::IQuant: return "iq";
        case Family::Ternary: return "ternary";
        case Family::FP4: return "fp4";
    }
    return "?";
}

const char* imatrix_name(Imatrix m) {
    switch (m) {
        case Imatrix::Ignored: return "ignored";
        case Imatrix::Optional: return "optional";
        case Imatrix::Required: return "required";
    }
    return "?";
}

FormatId checked_format(int index) {
    if (index < 0 || index >= kNumFormats) throw py::value_error("format index out of range: " + std::to_string(index));
    return static_cast<FormatId>(index);
}

Isa checked_isa(int isa) {
    if (isa != 0 && isa != 1) throw py::value_error("isa must be 0 (scalar) or 1 (avx2), got " + std::to_string(isa));
    if (isa == 1 && !cpu_has_avx2()) throw py::value_error("this CPU cannot run the avx2 kernels");
    return static_cast<Isa>(isa);
}

bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// Kernels access block fields of up to 4 bytes through typed pointers: keep buffers 8-aligned.
constexpr size_t kAlign = 8;

// The kernels walk buffers linearly from .ptr: a strided or reversed view would send them outside it.
bool c_contiguous(const py::buffer_info& b) {
    py::ssize_t expect = b.itemsize;
    for (py::ssize_t d = b.ndim - 1; d >= 0; --d) {
        if (b.shape[d] != 1 && b.strides[d] != expect) return false;
        expect *= b.shape[d];
    }
    return true;
}

void require_contiguous(const py::buffer_info& b, const char* what) {
    if (!c_contiguous(b)) throw py::value_error(std::string(what) + " must be a C-contiguous buffer");
}

// Sizes are products of caller-supplied int64 values: refuse any that would overflow (and so fool the
// size checks below) before multiplying.
void check_product(int64_t a, int64_t b, const char* what) {
    if (a < 0 || b < 0) throw py::value_error(std::string(what) + ": negative size");
    if (b != 0 && a > INT64_MAX / b) throw py::value_error(std::string(what) + ": size overflows int64");
}

void check_threads(int threads) {
    if (threads < 1 || threads > 1024)
        throw py::value_error("threads must be between 1 and 1024, got " + std::to_string(threads));
}

// Returns -1, or the flat index of x's first NaN/Inf (then out is partly unwritten). check_finite =
// false: the caller has validated x already.
int64_t encode(int fmt, py::buffer x_buf, py::buffer out_buf, py::object imatrix_obj, int64_t nrows,
               int64_t n, int threads, int isa_i, bool check_finite) {
    const FormatId f = checked_format(fmt);
    const Isa isa = checked_isa(isa_i);
    const FormatInfo& info = format_info(f);
    check_threads(threads);
    py::buffer_info x = x_buf.request(), out = out_buf.request(true);
    if (nrows < 0 || n < 0 || n % info.block_weights != 0)
        throw py::value_error("row length " + std::to_string(n) + " is not a multiple of " + info.name +
                              "'s block size " + std::to_string(info.block_weights));
    check_product(nrows, n, "x");
    check_product(nrows * n, 4, "x");
    const int64_t row_bytes = n / info.block_weights * info.block_bytes;
    check_product(nrows, row_bytes, "out");
    if (x.itemsize != 4 || x.size * x.itemsize != nrows * n * 4 || !c_contiguous(x))
        throw py::value_error("x must be a C-contiguous float32 buffer of rows*n values");
    require_contiguous(out, "out");
    if (out.size * out.itemsize != nrows * row_bytes) throw py::value_error("out has the wrong number of bytes");
    const float* imatrix = nullptr;
    py::buffer_info im;
    if (!imatrix_obj.is_none()) {
        im = imatrix_obj.cast<py::buffer>().request();
        if (im.itemsize != 4 || im.size != n) throw py::value_error("imatrix must hold n float32 values");
        require_contiguous(im, "imatrix");
        imatrix = static_cast<const float*>(im.ptr);
    }
    const float* xp = static_cast<const float*>(x.ptr);
    std::vector<float> x_copy, im_copy;
    if (!aligned(xp, 4)) {
        x_copy.assign(static_cast<size_t>(nrows * n), 0.f);
        std::memcpy(x_copy.data(), xp, x_copy.size() * 4);
        xp = x_copy.data();
    }
    if (imatrix && !aligned(imatrix, 4)) {
        im_copy.assign(static_cast<size_t>(n), 0.f);
        std::memcpy(im_copy.data(), imatrix, im_copy.size() * 4);
        imatrix = im_copy.data();
    }
    void* dst = out.ptr;
    std::vector<uint64_t> tmp;
    if (!aligned(dst, kAlign)) {
        tmp.resize(static_cast<size_t>((nrows * row_bytes + 7) / 8));
        dst = tmp.data();
    }
    py::gil_scoped_release nogil;
    const int64_t bad = encode_rows(f, xp, dst, nrows, n, imatrix, threads, isa, check_finite);
    if (dst != out.ptr) std::memcpy(out.ptr, dst, static_cast<size_t>(nrows * row_bytes));
    return bad;
}

void decode(int fmt, py::buffer data_buf, py::buffer out_buf, int out_type, int64_t nblocks, int threads,
            int isa_i) {
    const FormatId f = checked_format(fmt);
    const Isa isa = checked_isa(isa_i);
    const FormatInfo& info = format_info(f);
    if (out_type < 0 || out_type > 2) throw py::value_error("out_type must be 0 (f32), 1 (f16) or 2 (bf16)");
    const OutType ot = static_cast<OutType>(out_type);
    const int64_t out_item = ot == OutType::F32 ? 4 : 2;
    check_threads(threads);
    py::buffer_info data = data_buf.request(), out = out_buf.request(true);
    check_product(nblocks, info.block_bytes, "data");
    check_product(nblocks, info.block_weights * out_item, "out");
    if (nblocks < 0 || data.size * data.itemsize != nblocks * info.block_bytes)
        throw py::value_error("data has the wrong number of bytes for " + std::to_string(nblocks) + " blocks");
    require_contiguous(data, "data");
    require_contiguous(out, "out");
    if (out.size * out.itemsize != nblocks * info.block_weights * out_item)
        throw py::value_error("out has the wrong number of bytes");
    const void* src = data.ptr;
    std::vector<uint64_t> src_copy;
    if (!aligned(src, kAlign)) {
        src_copy.resize(static_cast<size_t>((nblocks * info.block_bytes + 7) / 8));
        std::memcpy(src_copy.data(), src, static_cast<size_t>(nblocks * info.block_bytes));
        src = src_copy.data();
    }
    void* dst = out.ptr;
    std::vector<uint64_t> tmp;
    const size_t out_bytes = static_cast<size_t>(nblocks * info.block_weights * out_item);
    if (!aligned(dst, static_cast<size_t>(out_item))) {
        tmp.resize((out_bytes + 7) / 8);
        dst = tmp.data();
    }
    {
        py::gil_scoped_release nogil;
        decode_blocks(f, src, dst, ot, nblocks, threads, isa);
        if (dst != out.ptr) std::memcpy(out.ptr, dst, out_bytes);
    }
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "dgkernels native core: GGUF block encoders and decoders";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const NotImplemented& e) {
            PyErr_SetString(PyExc_NotImplementedError, e.what());
        }
    });

    m.def("formats", [] {
        py::list out;
        for (int i = 0; i < kNumFormats; ++i) {
            const FormatInfo& fi = format_info(static_cast<FormatId>(i));
            out.append(py::make_tuple(i, fi.name, fi.type_id, fi.block_weights, fi.block_bytes,
                                      family_name(fi.family), imatrix_name(fi.imatrix)));
        }
        return out;
    }, "Registry rows: (index, name, ggml_type_id, weights_per_block, bytes_per_block, family, imatrix).");

    m.def("encode", &encode, py::arg("fmt"), py::arg("x"), py::arg("out"), py::arg("imatrix"),
          py::arg("nrows"), py::arg("n"), py::arg("threads"), py::arg("isa"), py::arg("check_finite") = true);
    m.def("decode", &decode, py::arg("fmt"), py::arg("data"), py::arg("out"), py::arg("out_type"),
          py::arg("nblocks"), py::arg("threads"), py::arg("isa"));

    m.def("find_nonfinite", [](py::buffer buf) -> int64_t {
        py::buffer_info b = buf.request();
        if (b.itemsize != 4) throw py::value_error("find_nonfinite expects float32 data");
        require_contiguous(b, "find_nonfinite's argument");
        const int64_t n = b.size;
        py::gil_scoped_release nogil;
        return dgk::find_nonfinite(b.ptr, n, active_isa());
    }, "Index of the first NaN or Inf in a contiguous float32 buffer, or -1.");

    m.def("cpu_has_avx2", &cpu_has_avx2);
    m.def("set_stream_threshold", &set_stream_threshold, py::arg("bytes"),
          "Float32 decode outputs of at least this many bytes use streaming stores (-1: the LLC size); returns the old value.");
    m.def("active_isa", [] { return static_cast<int>(active_isa()); });
    m.def("set_active_isa", [](int isa) { return set_active_isa(checked_isa(isa)); });
    m.def("hardware_threads", &hardware_threads);

    // Raw bytes of the constant tables, so tests can check them against their source.
    m.def("table", [](const std::string& name) {
        auto bytes = [](const void* p, size_t n) { return py::bytes(static_cast<const char*>(p), n); };
        if (name == "iq2xxs_grid") return bytes(iq2xxs_grid, sizeof iq2xxs_grid);
        if (name == "iq2xs_grid") return bytes(iq2xs_grid, sizeof iq2xs_grid);
        if (name == "iq2s_grid") return bytes(iq2s_grid, sizeof iq2s_grid);
        if (name == "iq3xxs_grid") return bytes(iq3xxs_grid, sizeof iq3xxs_grid);
        if (name == "iq3s_grid") return bytes(iq3s_grid, sizeof iq3s_grid);
        if (name == "iq1s_grid") return bytes(iq1s_grid, sizeof iq1s_grid);
        if (name == "ksigns_iq2xs") return bytes(ksigns_iq2xs, sizeof ksigns_iq2xs);
        if (name == "kvalues_iq4nl") return bytes(kvalues_iq4nl, sizeof kvalues_iq4nl);
        if (name == "kvalues_mxfp4") return bytes(kvalues_mxfp4, sizeof kvalues_mxfp4);
        throw py::value_error("unknown table: " + name);
    });

    // Raw arrays of the IQ encoders' lookup indexes (built on first use), for tests that rebuild
    // them independently: "iq2xxs", "iq2xs", "iq2s", "iq1" (iq2_grid_index.h), "iq3xxs", "iq3s".
    m.def("grid_index", [](const std::string& name) {
        auto bytes = [](const void* p, size_t n) { return py::bytes(static_cast<const char*>(p), n); };
        py::dict d;
        if (name == "iq3xxs" || name == "iq3s") {
            const ref::Iq3GridIndex& g = ref::iq3_grid_index(name == "iq3xxs" ? 256 : 512);
            d["level"] = bytes(g.level.data(), g.level.size());
            d["value"] = bytes(g.value.data(), g.value.size() * sizeof(float));
            d["grid_of_key"] = bytes(g.grid_of_key, sizeof g.grid_of_key);
            d["nb_begin"] = bytes(g.nb_begin, sizeof g.nb_begin);
            d["nb"] = bytes(g.nb.data(), g.nb.size() * sizeof(uint16_t));
            d["nb_value"] = bytes(g.nb_value.data(), g.nb_value.size() * sizeof(float));
            return d;
        }
        using iq2::Lattice;
        const Lattice which = name == "iq2xxs" ? Lattice::IQ2_XXS : name == "iq2xs" ? Lattice::IQ2_XS
                            : name == "iq2s"   ? Lattice::IQ2_S   : name == "iq1"   ? Lattice::IQ1
                                               : throw py::value_error("unknown grid index: " + name);
        const iq2::GridIndex& gi = iq2::grid_index(which);
        const iq2::GridArrays a = gi.arrays();
        size_t end = 0;  // the lists end with the one that starts last (count, entries, padding to 8)
        for (int key = 0; key < 65536; ++key)
            end = std::max(end, a.nb_offset[key] + 1 + ((size_t)a.nb_points[a.nb_offset[key]] + 7) / 8 * 8);
        d["levels"] = bytes(gi.levels(0), 8 * (size_t)a.size);
        d["odd"] = bytes(gi.odd_values(0), 8 * (size_t)a.size * sizeof(float));
        d["map"] = bytes(a.map, 65536 * sizeof(int32_t));
        d["nb_offset"] = bytes(a.nb_offset, 65536 * sizeof(uint32_t));
        d["nb_points"] = bytes(a.nb_points, end * sizeof(uint16_t));
        d["nb_keys"] = bytes(a.nb_keys, end * sizeof(uint16_t));
        d["grid_keys"] = bytes(a.grid_keys, (size_t)a.size * sizeof(uint16_t));
        return d;
    });
}
