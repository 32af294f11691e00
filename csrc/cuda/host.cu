// Host side of dgkernels._cuda: device selection, table upload, checked launches, and the emulation
// entry points that run the device code's per-block functions on the CPU.
#include <cuda_runtime.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "dgk_cuda/api.h"
#include "dgk_cuda/decode.cuh"
#include "dgk_cuda/encode.cuh"

namespace dgk::cuda {

cudaError_t upload_tables_decode();
cudaError_t upload_tables_encode_a();
cudaError_t upload_tables_encode_k();

[[noreturn]] void fail(const char* call, int err) {
    std::string msg = std::string("dgkernels CUDA: ") + call + " failed";
    if (err) msg += std::string(": ") + cudaGetErrorName((cudaError_t)err) + " (" + cudaGetErrorString((cudaError_t)err) + ")";
    throw std::runtime_error(msg);
}
#define DGKC_CHECK(call)                                  \
    do {                                                  \
        const cudaError_t e_ = (call);                    \
        if (e_ != cudaSuccess) fail(#call, (int)e_);      \
    } while (0)

int device_count(std::string* reason) {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (reason) *reason = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
        cudaGetLastError();  // clear the sticky-free error so later calls start clean
        return 0;
    }
    if (n == 0 && reason) *reason = "no CUDA device visible";
    return n;
}

std::string runtime_info() {
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    cudaGetLastError();
    return "runtime " + std::to_string(rt) + ", driver " + std::to_string(drv) + ", archs " DGKC_ARCHS_STRING;
}

bool encode_supported(int fmt) {
    switch (fmt) {
        case F_F32: case F_F16: case F_BF16:
        case F_Q4_0: case F_Q4_1: case F_Q5_0: case F_Q5_1: case F_Q8_0:
        case F_Q2_K: case F_Q3_K: case F_Q4_K: case F_Q5_K: case F_Q6_K: case F_Q8_K:
        case F_IQ4_NL: case F_IQ4_XS: case F_TQ1_0: case F_TQ2_0: case F_MXFP4:
            return true;
        default:
            return false;
    }
}

static void check_fmt(int fmt) {
    if (fmt < 0 || fmt >= F_COUNT) throw std::invalid_argument("unknown format index " + std::to_string(fmt));
}

// Select the device and make sure this device holds the tables (once per device).
static void prepare(int device) {
    static std::mutex mu;
    static std::vector<bool> done;
    DGKC_CHECK(cudaSetDevice(device));
    std::lock_guard<std::mutex> lock(mu);
    if ((int)done.size() <= device) done.resize(device + 1, false);
    if (done[device]) return;
    DGKC_CHECK(upload_tables_decode());
    DGKC_CHECK(upload_tables_encode_a());
    DGKC_CHECK(upload_tables_encode_k());
    DGKC_CHECK(cudaDeviceSynchronize());
    done[device] = true;
}

void decode(int fmt, uintptr_t src, uintptr_t dst, int out_type, int64_t count, int device, uintptr_t stream) {
    check_fmt(fmt);
    prepare(device);
    launch_decode(fmt, reinterpret_cast<const uint8_t*>(src), reinterpret_cast<void*>(dst), out_type, count,
                  reinterpret_cast<void*>(stream));
}

void encode(int fmt, uintptr_t x, uintptr_t dst, uintptr_t imatrix, int64_t nrows, int64_t n, int device,
            uintptr_t stream) {
    check_fmt(fmt);
    if (!encode_supported(fmt))
        throw std::invalid_argument(std::string("no CUDA encoder for ") + kNames[fmt]);
    prepare(device);
    const auto* xp = reinterpret_cast<const float*>(x);
    auto* out = reinterpret_cast<uint8_t*>(dst);
    const auto* im = reinterpret_cast<const float*>(imatrix);
    void* s = reinterpret_cast<void*>(stream);
    switch (fmt) {
        case F_Q2_K: case F_Q3_K: case F_Q4_K: case F_Q5_K: case F_Q6_K: case F_Q8_K:
            return launch_encode_k(fmt, xp, out, im, nrows, n, s);
        default: break;
    }
    const bool needs_sigma = im && (fmt == F_Q4_0 || fmt == F_Q4_1 || fmt == F_Q5_0 || fmt == F_Q5_1);
    if (!needs_sigma) return launch_encode_a(fmt, xp, out, im, nullptr, nrows, n, s);
    float* sig = nullptr;
    DGKC_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&sig), sizeof(float) * (size_t)(nrows > 0 ? nrows : 1),
                               static_cast<cudaStream_t>(s)));
    try {
        launch_row_sigma2(xp, sig, nrows, n, s);
        launch_encode_a(fmt, xp, out, im, sig, nrows, n, s);
    } catch (...) {
        cudaFreeAsync(sig, static_cast<cudaStream_t>(s));
        throw;
    }
    DGKC_CHECK(cudaFreeAsync(sig, static_cast<cudaStream_t>(s)));
}

// ---- emulation: the same per-block functions, run by the host --------------------------------------
template <int F> static void emu_decode(const uint8_t* src, void* dst, int out_type, int64_t count) {
    auto put = [&](int64_t i, float v) {
        if (out_type == OUT_F32) static_cast<float*>(dst)[i] = v;
        else if (out_type == OUT_F16) static_cast<uint16_t*>(dst)[i] = Store<OUT_F16>::cvt(v);
        else static_cast<uint16_t*>(dst)[i] = Store<OUT_BF16>::cvt(v);
    };
    if constexpr (F == F_F32 || F == F_F16 || F == F_BF16) {
        for (int64_t i = 0; i < count; ++i) put(i, float_elem<F>(src, i));
    } else {
        constexpr int gpb = block_weights(F) / 8;
        float y[8];
        for (int64_t b = 0; b < count; ++b)
            for (int g = 0; g < gpb; ++g) {
                Dec<F>::run(src + b * block_bytes(F), g, y);
                for (int j = 0; j < 8; ++j) put(b * block_weights(F) + 8 * g + j, y[j]);
            }
    }
}

void emulate_decode(int fmt, const uint8_t* src, void* dst, int out_type, int64_t count) {
    check_fmt(fmt);
    switch (fmt) {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, im) \
    case F_##NAME: return emu_decode<F_##NAME>(src, dst, out_type, count);
#include "dgk/formats.def"
#undef DGK_FORMAT
    }
}

template <int F> static void emu_encode(const float* x, uint8_t* dst, const float* im, int64_t nrows, int64_t n) {
    if constexpr (F == F_F32 || F == F_F16 || F == F_BF16) {
        for (int64_t i = 0; i < nrows * n; ++i) float_store<F>(x[i], dst, i);
    } else if constexpr (Enc<F>::available) {
        constexpr int BW = block_weights(F), BB = block_bytes(F);
        const bool needs_sigma = im && (F == F_Q4_0 || F == F_Q4_1 || F == F_Q5_0 || F == F_Q5_1);
        const int64_t bpr = n / BW;
        for (int64_t r = 0; r < nrows; ++r) {
            const float sig = needs_sigma ? row_sigma2(x + r * n, n) : 0.f;
            for (int64_t c = 0; c < bpr; ++c)
                Enc<F>::run(x + r * n + c * BW, im ? im + c * BW : nullptr, sig, dst + (r * bpr + c) * BB);
        }
    } else {
        throw std::invalid_argument(std::string("no CUDA encoder for ") + kNames[F]);
    }
}

void emulate_encode(int fmt, const float* x, uint8_t* dst, const float* im, int64_t nrows, int64_t n) {
    check_fmt(fmt);
    switch (fmt) {
#define DGK_FORMAT(NAME, lower, id, bw, bb, fam, imx) \
    case F_##NAME: return emu_encode<F_##NAME>(x, dst, im, nrows, n);
#include "dgk/formats.def"
#undef DGK_FORMAT
    }
}

}  // namespace dgk::cuda
