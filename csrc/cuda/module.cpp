// dgkernels._cuda: thin pybind11 layer over csrc/cuda/host.cu. Device pointers, devices and streams come
// in as integers from python/dgkernels/cuda.py, which validates every argument first.
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "dgk_cuda/api.h"
#include "dgk_cuda/formats.cuh"

namespace py = pybind11;
using namespace dgk::cuda;

namespace {

py::buffer_info req(py::buffer b, bool writable, const char* what) {
    py::buffer_info info = b.request(writable);
    if (info.ndim < 1) throw py::value_error(std::string(what) + " must have at least one dimension");
    return info;
}

int64_t nbytes(const py::buffer_info& i) { return i.size * i.itemsize; }

void emu_decode(int fmt, py::buffer src, py::buffer dst, int out_type, int64_t count) {
    if (fmt < 0 || fmt >= F_COUNT) throw py::value_error("unknown format index");
    if (out_type < 0 || out_type > 2) throw py::value_error("out_type must be 0 (f32), 1 (f16) or 2 (bf16)");
    auto s = req(src, false, "src"), d = req(dst, true, "dst");
    const int64_t bw = kBlockWeights[fmt], bb = kBlockBytes[fmt];
    if (count < 0 || nbytes(s) < count * bb) throw py::value_error("src holds fewer than count blocks");
    if (nbytes(d) < count * bw * (out_type == 0 ? 4 : 2)) throw py::value_error("dst is too small");
    py::gil_scoped_release nogil;
    emulate_decode(fmt, static_cast<const uint8_t*>(s.ptr), d.ptr, out_type, count);
}

void emu_encode(int fmt, py::buffer x, py::buffer dst, py::object imatrix, int64_t nrows, int64_t n) {
    if (fmt < 0 || fmt >= F_COUNT) throw py::value_error("unknown format index");
    auto xi = req(x, false, "x"), d = req(dst, true, "dst");
    const int64_t bw = kBlockWeights[fmt], bb = kBlockBytes[fmt];
    if (xi.itemsize != 4 || xi.format != py::format_descriptor<float>::format()) throw py::type_error("x must be float32");
    if (n <= 0 || n % bw || nrows < 0 || xi.size < nrows * n) throw py::value_error("bad nrows / n for x");
    if (nbytes(d) < nrows * (n / bw) * bb) throw py::value_error("dst is too small");
    const float* im = nullptr;
    py::buffer_info ii;
    if (!imatrix.is_none()) {
        ii = imatrix.cast<py::buffer>().request();
        if (ii.itemsize != 4 || ii.size != n) throw py::value_error("imatrix must hold n float32 values");
        im = static_cast<const float*>(ii.ptr);
    }
    py::gil_scoped_release nogil;
    emulate_encode(fmt, static_cast<const float*>(xi.ptr), static_cast<uint8_t*>(d.ptr), im, nrows, n);
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
    m.doc() = "dgkernels CUDA kernels (decode every format, encode most) and their host emulation";
    m.def("device_count", [] { return device_count(nullptr); }, "Usable CUDA devices (0 when none or no driver).");
    m.def("status", [] {
        std::string reason;
        const int n = device_count(&reason);
        return py::make_tuple(n, reason);
    }, "(device_count, reason when 0)");
    m.def("runtime_info", &runtime_info);
    m.def("encode_supported", &encode_supported, py::arg("fmt"));
    m.def("decode", [](int fmt, uintptr_t src, uintptr_t dst, int out_type, int64_t count, int device, uintptr_t stream) {
        py::gil_scoped_release nogil;
        decode(fmt, src, dst, out_type, count, device, stream);
    }, py::arg("fmt"), py::arg("src"), py::arg("dst"), py::arg("out_type"), py::arg("count"), py::arg("device"),
       py::arg("stream"));
    m.def("encode", [](int fmt, uintptr_t x, uintptr_t dst, uintptr_t im, int64_t nrows, int64_t n, int device,
                       uintptr_t stream) {
        py::gil_scoped_release nogil;
        encode(fmt, x, dst, im, nrows, n, device, stream);
    }, py::arg("fmt"), py::arg("x"), py::arg("dst"), py::arg("imatrix"), py::arg("nrows"), py::arg("n"),
       py::arg("device"), py::arg("stream"));
    m.def("emulate_decode", &emu_decode, py::arg("fmt"), py::arg("src"), py::arg("dst"), py::arg("out_type"),
          py::arg("count"), "Run the device decoders' per-group functions on the host.");
    m.def("emulate_encode", &emu_encode, py::arg("fmt"), py::arg("x"), py::arg("dst"), py::arg("imatrix"),
          py::arg("nrows"), py::arg("n"), "Run the device encoders' per-block functions on the host.");
    m.attr("FMAD") = false;
}
