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
#include "dgk_cuda/iq_encode.cuh"

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
        case F_IQ1_S: case F_IQ1_M: case F_IQ2_XXS: case F_IQ2_XS: case F_IQ2_S: case F_IQ3_XXS: case F_IQ3_S:
            return true;
        default:
            return false;
    }
}

static void check_fmt(int fmt) {
    if (fmt < 0 || fmt >= F_COUNT) throw std::invalid_argument("unknown format index " + std::to_string(fmt));
}

// The thread's current driver context is saved on entry and restored on exit: our (static) runtime
// selects the device by making its primary context current, which the caller's runtime (torch, cupy)
// would otherwise inherit. The driver functions are looked up through the runtime, so nothing links
// against libcuda and the module still imports without a driver.
namespace {
using CtxGetFn = int (*)(void**);
using CtxSetFn = int (*)(void*);
struct DriverCtxFns {
    CtxGetFn get = nullptr;
    CtxSetFn set = nullptr;
    DriverCtxFns() {
#if CUDART_VERSION >= 12000
        void* g = nullptr;
        void* s = nullptr;
        cudaDriverEntryPointQueryResult qg, qs;
#if CUDART_VERSION >= 12050
        const bool found =
            cudaGetDriverEntryPointByVersion("cuCtxGetCurrent", &g, 12000, cudaEnableDefault, &qg) == cudaSuccess &&
            cudaGetDriverEntryPointByVersion("cuCtxSetCurrent", &s, 12000, cudaEnableDefault, &qs) == cudaSuccess;
#else  // older toolkits (e.g. a lent machine's nvcc 12.x)
        const bool found = cudaGetDriverEntryPoint("cuCtxGetCurrent", &g, cudaEnableDefault, &qg) == cudaSuccess &&
                           cudaGetDriverEntryPoint("cuCtxSetCurrent", &s, cudaEnableDefault, &qs) == cudaSuccess;
#endif
        if (found && qg == cudaDriverEntryPointSuccess && qs == cudaDriverEntryPointSuccess) {
            get = reinterpret_cast<CtxGetFn>(g);
            set = reinterpret_cast<CtxSetFn>(s);
        }
#endif  // before CUDA 12: no save/restore (the caller's context is left as our runtime set it)
        cudaGetLastError();
    }
};
const DriverCtxFns& ctx_fns() {
    static const DriverCtxFns f;
    return f;
}
struct CtxGuard {
    void* prev = nullptr;
    bool saved = false;
    CtxGuard() {
        if (ctx_fns().get) saved = ctx_fns().get(&prev) == 0;
    }
    ~CtxGuard() {
        if (saved) ctx_fns().set(prev);
    }
};
}  // namespace

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

// ---- IQ lattice indexes: host views (emulation) and per-device copies (kernels) ---------------------
// Which index a grid format reads: 0/1 = IQ3 256/512-point grids, 2.. = IQ2 lattices + 2.
static int iq_index_slot(int fmt) {
    switch (fmt) {
        case F_IQ3_XXS: return 0;
        case F_IQ3_S: return 1;
        case F_IQ2_XXS: return 2 + LAT_IQ2_XXS;
        case F_IQ2_XS: return 2 + LAT_IQ2_XS;
        case F_IQ2_S: return 2 + LAT_IQ2_S;
        default: return 2 + LAT_IQ1;  // IQ1_S, IQ1_M
    }
}

static IqViews host_views(int fmt) {
    IqViews v{};
    const int slot = iq_index_slot(fmt);
    if (slot < 2) v.g3 = host_iq3(slot == 0 ? 256 : 512, nullptr);
    else v.g2 = host_iq2(slot - 2, nullptr);
    return v;
}

template <typename T> static const T* to_device(const T* host, size_t bytes, std::vector<void*>& keep) {
    void* d = nullptr;
    DGKC_CHECK(cudaMalloc(&d, bytes ? bytes : 1));
    keep.push_back(d);
    if (bytes) DGKC_CHECK(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return static_cast<const T*>(d);
}

// Device copies, made once per (device, index) and kept for the life of the process.
static IqViews device_views(int fmt, int device) {
    static std::mutex mu;
    static std::vector<std::vector<IqViews>> cache;  // [device][slot]
    static std::vector<std::vector<bool>> have;
    static std::vector<void*> keep;
    const int slot = iq_index_slot(fmt);
    std::lock_guard<std::mutex> lock(mu);
    if ((int)cache.size() <= device) {
        cache.resize(device + 1, std::vector<IqViews>(6));
        have.resize(device + 1, std::vector<bool>(6, false));
    }
    if (have[device][slot]) return cache[device][slot];
    IqViews v{};
    if (slot < 2) {
        Iq3Sizes sz;
        const Iq3View h = host_iq3(slot == 0 ? 256 : 512, &sz);
        v.g3 = {to_device(h.level, sz.level, keep), to_device(h.grid_of_key, sz.grid_of_key, keep),
                to_device(h.nb_begin, sz.nb_begin, keep), to_device(h.nb, sz.nb, keep),
                to_device(h.nb_value, sz.nb_value, keep)};
    } else {
        Iq2Sizes sz;
        const Iq2View h = host_iq2(slot - 2, &sz);
        v.g2 = {h.size, to_device(h.map, sz.map, keep), to_device(h.nb_offset, sz.nb_offset, keep),
                to_device(h.nb_points, sz.nb_points, keep), to_device(h.grid_keys, sz.grid_keys, keep)};
    }
    cache[device][slot] = v;
    have[device][slot] = true;
    return v;
}

void decode(int fmt, uintptr_t src, uintptr_t dst, int out_type, int64_t count, int device, uintptr_t stream) {
    check_fmt(fmt);
    CtxGuard guard;
    prepare(device);
    launch_decode(fmt, reinterpret_cast<const uint8_t*>(src), reinterpret_cast<void*>(dst), out_type, count,
                  reinterpret_cast<void*>(stream));
}

void encode(int fmt, uintptr_t x, uintptr_t dst, uintptr_t imatrix, int64_t nrows, int64_t n, int device,
            uintptr_t stream) {
    check_fmt(fmt);
    if (!encode_supported(fmt))
        throw std::invalid_argument(std::string("no CUDA encoder for ") + kNames[fmt]);
    CtxGuard guard;
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
    if (is_iq_grid_format(fmt)) {
        if (!im && (fmt == F_IQ1_S || fmt == F_IQ2_XXS || fmt == F_IQ2_XS))
            throw std::invalid_argument(std::string(kNames[fmt]) + " cannot be encoded without an importance matrix");
        return launch_encode_iq(fmt, xp, out, im, nrows, n, device_views(fmt, device), s);
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
    } else if constexpr (is_iq_grid_format(F)) {
        if (!im && (F == F_IQ1_S || F == F_IQ2_XXS || F == F_IQ2_XS))
            throw std::invalid_argument(std::string(kNames[F]) + " cannot be encoded without an importance matrix");
        const IqViews v = host_views(F);
        const int64_t bpr = n / QK_K;
        for (int64_t r = 0; r < nrows; ++r)
            for (int64_t c = 0; c < bpr; ++c)
                iq_encode_block<F>(v, x + r * n + c * QK_K, im ? im + c * QK_K : nullptr,
                                   dst + (r * bpr + c) * block_bytes(F));
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
