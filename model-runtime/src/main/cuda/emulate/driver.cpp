// An emulated CUDA driver: the part of libcuda.so.1's API that JCuda's driver library and ForeignProgrammaticLaunch
// call, over host memory, with the kernels of ../*.cu run by cuda_shim.h (threads as fibers). emulate.sh libcuda
// builds it as a libcuda.so.1; a JVM started with that folder on LD_LIBRARY_PATH then runs the engine's GPU code path
// unchanged on the CPU: module loading from the shipped PTX, every launch with its real arguments, stream capture
// into CUDA graphs, programmatic launches. Slow (every thread a fiber), so only small models; what it is for is the
// host side (which kernel, which buffers, which offsets, in which order) that no per-kernel check sees.
//
// Faithful where a mistake would otherwise pass unnoticed, strict where the hardware is:
// - a kernel that reaches inline PTX or wmma (which cannot run here) fails its launch, naming it;
// - a copy through the emulated loads outside every allocation fails it as an illegal address;
// - a programmatic launch whose kernel reads its predecessor's output before griddepcontrol.wait fails it;
// - dynamic shared memory over 48 KB (no kernel opts in) and more than 1024 threads are invalid values;
// - while a stream is being captured, work on the legacy stream or a synchronising call invalidates the capture.
// - a launch that fails as an illegal address (or a failed launch) loses the context, as on a GPU: every later call
//   that uses it returns that error until the primary context is destroyed (its last release) or reset, which also
//   frees its allocations. INFERSTREAM_EMULATED_FAULT_FILE=PATH: the first launch after PATH appears fails that way
//   (and deletes it), so that a test can lose the device at a moment of its choosing.
// - several devices (INFERSTREAM_EMULATED_DEVICES, default 1, at most 8) have a primary context each, with its own
//   memory, allocations and lost state; the current context is per thread and starts unset, as in CUDA. A call that
//   needs one without it fails as CUDA_ERROR_INVALID_CONTEXT; launching a function or into a stream of another
//   context is an invalid handle; a launch whose pointer arguments lie in another device's memory is an illegal
//   address (no peer access here), so a model on cuda:1 that uses a buffer or kernel of cuda:0 fails at once.
// Each device: compute capability INFERSTREAM_EMULATED_CC (default 8.0), INFERSTREAM_EMULATED_SMS multiprocessors
// (default 16), INFERSTREAM_EMULATED_MEMORY_MIB of memory (default 2048).
#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

#include "cuda_shim.h" // after the standard headers: it defines CUDA's keywords as macros
#include "registry.h"

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef int CUdevice;

enum : int {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
};

namespace {

// A device's primary context: what it holds, and the sticky error it took (0 while it is usable).
struct Context {
    int device;
    int retains = 0;
    size_t allocated = 0;
    CUresult lost = 0;
};
struct Kernel {
    const emu::KernelEntry* entry;
    Context* ctx; // its module's
};
struct Module {
    Context* ctx; // current when it was loaded
    std::vector<std::string> tables; // where its entries are looked up, first match wins
    std::vector<std::unique_ptr<Kernel>> kernels;
};
struct Launch {
    Context* ctx;
    const emu::KernelEntry* entry;
    dim3 grid, block;
    size_t smem;
    bool programmatic;
    std::vector<std::vector<char>> params;
};
struct Stream {
    Context* ctx;
    unsigned flags = 0; // CU_STREAM_NON_BLOCKING (1): not synchronised with the legacy stream
    bool capturing = false;
    bool invalidated = false;
    std::vector<Launch> captured;
};
struct Graph {
    std::vector<Launch> launches;
};
std::recursive_mutex& lock() {
    static std::recursive_mutex m;
    return m;
}
std::map<std::string, emu::KernelEntry>& registry() {
    static std::map<std::string, emu::KernelEntry> r;
    return r;
}
std::vector<Stream*>& streams() {
    static std::vector<Stream*> s;
    return s;
}
int env(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}
int deviceCount() { return std::min(8, std::max(1, env("INFERSTREAM_EMULATED_DEVICES", 1))); }
Context* primary(int device) {
    static Context contexts[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
    return &contexts[device];
}
thread_local Context* current = nullptr; // cuCtxSetCurrent's, per thread
// Which device each allocation is on, keyed by its first byte like emu::ranges().
std::map<const char*, int>& owners() {
    static std::map<const char*, int> o;
    return o;
}

// The primary context ends (last release, or a reset): its allocations go with it, and so does a sticky error.
void destroyContext(Context* c) {
    for (auto it = owners().begin(); it != owners().end();) {
        if (it->second == c->device) {
            emu::disallow(it->first);
            std::free((void*) it->first);
            it = owners().erase(it);
        } else {
            ++it;
        }
    }
    c->allocated = 0;
    c->lost = 0;
}
void computeCapability(int* major, int* minor) {
    const char* v = std::getenv("INFERSTREAM_EMULATED_CC");
    *major = 8;
    *minor = 0;
    if (v && *v) {
        std::sscanf(v, "%d.%d", major, minor);
    }
}
size_t memoryBytes() { return (size_t) env("INFERSTREAM_EMULATED_MEMORY_MIB", 2048) << 20; }

void say(const char* format, ...) {
    va_list args;
    va_start(args, format);
    std::fprintf(stderr, "[emulated CUDA] ");
    std::vfprintf(stderr, format, args);
    std::fprintf(stderr, "\n");
    va_end(args);
}

// The calling thread's context, or null after saying that a call needing one found none (CUDA_ERROR_INVALID_CONTEXT).
Context* need(const char* what) {
    if (!current) say("%s without a current context (cuCtxSetCurrent) on this thread", what);
    return current;
}

// The device whose allocation holds address p, or -1.
int ownerOf(const char* p) {
    auto it = owners().upper_bound(p);
    if (it == owners().begin()) return -1;
    --it;
    auto r = emu::ranges().find(it->first);
    return r != emu::ranges().end() && p < r->second ? it->second : -1;
}

// Work that synchronises with the legacy stream of a context while one of its blocking streams is captured (from any
// thread): CUDA refuses it and the capture can no longer be completed. Other contexts' captures do not matter, nor do
// non-blocking streams' (the programming guide's "prohibited and unhandled operations").
bool blocksLegacy(const Stream* s, const Context* c) { return s->capturing && s->ctx == c && !(s->flags & 1); }
CUresult implicitSync(const char* what) {
    bool any = false;
    for (Stream* s : streams()) {
        if (blocksLegacy(s, current)) {
            s->invalidated = true;
            any = true;
        }
    }
    if (!any) return CUDA_SUCCESS;
    say("%s on cuda:%d while one of its blocking streams is being captured: refused, and the capture is invalidated",
        what, current->device);
    return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
}

// INFERSTREAM_EMULATED_PROFILE=1: launches and host seconds per kernel, printed at exit (where the emulation's time goes)
struct Profile {
    std::map<std::string, std::pair<long, double>> kernels;
    ~Profile() {
        if (kernels.empty()) return;
        std::vector<std::pair<double, std::string>> rows;
        for (auto& k : kernels) rows.push_back({k.second.second, k.first});
        std::sort(rows.rbegin(), rows.rend());
        for (auto& r : rows) say("%-44s %6ld launches %9.3f s", r.second.c_str(), kernels[r.second].first, r.first);
    }
};
Profile* profile() {
    static Profile* p = env("INFERSTREAM_EMULATED_PROFILE", 0) ? new Profile() : nullptr;
    return p;
}
struct ProfileAtExit {
    ~ProfileAtExit() { delete profile(); }
} profileAtExit;

// A fault injected through INFERSTREAM_EMULATED_FAULT_FILE, if its file has appeared (then deleted: one fault each).
bool injectedFault() {
    const char* f = std::getenv("INFERSTREAM_EMULATED_FAULT_FILE");
    return f && *f && access(f, F_OK) == 0 && unlink(f) == 0;
}

CUresult runChecked(const Launch& l);

// Errors that lose the context, as a GPU's MMU fault or trap does.
CUresult run(const Launch& l) {
    Context* c = l.ctx;
    if (c->lost) return c->lost;
    if (injectedFault()) {
        say("%s: injected fault (an illegal address): the context is lost until it is destroyed or reset", l.entry->name);
        return c->lost = CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    // pointer-sized arguments into another device's memory: a GPU without peer access faults on them
    for (size_t i = 0; i < l.params.size(); i++) {
        if (l.params[i].size() != sizeof(CUdeviceptr)) continue;
        CUdeviceptr v;
        std::memcpy(&v, l.params[i].data(), sizeof v);
        int owner = ownerOf((const char*) v);
        if (owner >= 0 && owner != c->device) {
            say("%s on cuda:%d: argument %zu points into memory of cuda:%d (an illegal address)", l.entry->name,
                c->device, i, owner);
            return c->lost = CUDA_ERROR_ILLEGAL_ADDRESS;
        }
    }
    CUresult r = runChecked(l);
    if (r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_FAILED) c->lost = r;
    return r;
}

CUresult runChecked(const Launch& l) {
    auto start = std::chrono::steady_clock::now();
    long unsupported = emu_unsupported(), stray = emu::stray_reads(), violations = emu::pdl_violations();
    std::vector<void*> params;
    for (const std::vector<char>& p : l.params) params.push_back(const_cast<char*>(p.data()));
    l.entry->launch(l.grid, l.block, l.smem, params.data());
    if (profile()) {
        auto& k = profile()->kernels[l.entry->name];
        k.first++;
        k.second += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (emu_unsupported() != unsupported) {
        say("%s reached inline PTX or wmma, which the host emulation cannot run", l.entry->name);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (emu::stray_reads() != stray) {
        say("%s read outside every allocation", l.entry->name);
        return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    if (l.programmatic && emu::pdl_violations() != violations) {
        say("%s, launched programmatically, read what the kernel before it writes before griddepcontrol.wait, or "
            "did not wait on every path", l.entry->name);
        return CUDA_ERROR_LAUNCH_FAILED;
    }
    return CUDA_SUCCESS;
}

// A launch as the driver receives it: checked, then run at once or recorded into the capture of its stream.
CUresult launch(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned smem,
                void* hStream, void** params, void** extra, bool programmatic) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuLaunchKernel");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    const emu::KernelEntry* e = static_cast<Kernel*>(f)->entry;
    Stream* s = static_cast<Stream*>(hStream);
    if (static_cast<Kernel*>(f)->ctx != c || (s && s->ctx != c)) {
        say("%s: launched on cuda:%d with a %s of cuda:%d", e->name, c->device,
            static_cast<Kernel*>(f)->ctx != c ? "function" : "stream",
            static_cast<Kernel*>(f)->ctx != c ? static_cast<Kernel*>(f)->ctx->device : s->ctx->device);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (extra) {
        say("%s: launch parameters through 'extra' are not emulated", e->name);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (gx == 0 || gy == 0 || gz == 0 || bx * by * bz == 0 || bx * by * bz > 1024) {
        say("%s: grid (%u, %u, %u) x block (%u, %u, %u) is not a valid launch", e->name, gx, gy, gz, bx, by, bz);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (smem > 48 * 1024) { // beyond 48 KB a kernel must opt in with cuFuncSetAttribute, which nothing here calls
        say("%s: %u bytes of dynamic shared memory without opting in beyond 48 KB", e->name, smem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (!params && !e->paramSizes.empty()) return CUDA_ERROR_INVALID_VALUE;
    Launch l {c, e, dim3 {gx, gy, gz}, dim3 {bx, by, bz}, smem, programmatic, {}};
    for (size_t i = 0; i < e->paramSizes.size(); i++) {
        const char* p = static_cast<const char*>(params[i]);
        l.params.emplace_back(p, p + e->paramSizes[i]);
    }
    if (s && s->capturing) {
        s->captured.push_back(std::move(l));
        return CUDA_SUCCESS;
    }
    if (!s) {
        CUresult r = implicitSync(e->name);
        if (r != CUDA_SUCCESS) return r;
    }
    return run(l);
}

} // namespace

void emu::register_kernel(const KernelEntry& e) { registry()[std::string(e.table) + ":" + e.name] = e; }

extern "C" {

CUresult cuInit(unsigned int) { return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int* v) {
    *v = 12060;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int* n) {
    *n = deviceCount();
    return CUDA_SUCCESS;
}
CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (ordinal < 0 || ordinal >= deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char* name, int len, CUdevice) {
    int major, minor;
    computeCapability(&major, &minor);
    std::snprintf(name, (size_t) len, "InferStream emulated CUDA device (compute %d.%d, %d SMs, host fibers)", major,
                  minor, env("INFERSTREAM_EMULATED_SMS", 16));
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int* v, int attribute, CUdevice) {
    int major, minor;
    computeCapability(&major, &minor);
    switch (attribute) {
        case 1: *v = 1024; break;                                       // max threads per block
        case 8: *v = 48 * 1024; break;                                  // shared memory per block
        case 10: *v = 32; break;                                        // warp size
        case 16: *v = env("INFERSTREAM_EMULATED_SMS", 16); break;       // multiprocessors
        case 38: *v = 40 << 20; break;                                  // L2 bytes
        case 39: *v = 2048; break;                                      // threads per multiprocessor
        case 75: *v = major; break;
        case 76: *v = minor; break;
        case 97: *v = major >= 9 ? 227 * 1024 : 163 * 1024; break;      // shared memory per block, opted in
        default: *v = 0;
    }
    return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice) {
    *bytes = memoryBytes();
    return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(void** ctx, CUdevice d) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    if (d < 0 || d >= deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    primary(d)->retains++;
    *ctx = primary(d);
    return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    if (d < 0 || d >= deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    Context* c = primary(d);
    if (c->retains == 0) return CUDA_ERROR_INVALID_CONTEXT;
    if (--c->retains == 0) destroyContext(c);
    return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxReset_v2(CUdevice d) { // destroys the context; the retains stay (the driver's documentation)
    std::lock_guard<std::recursive_mutex> guard(lock());
    if (d < 0 || d >= deviceCount()) return CUDA_ERROR_INVALID_DEVICE;
    Context* c = primary(d);
    say("cuda:%d primary context reset: %zu bytes of allocations freed%s", d, c->allocated,
        c->lost ? ", its lost state cleared" : "");
    destroyContext(c);
    return CUDA_SUCCESS;
}
CUresult cuCtxSetCurrent(void* ctx) {
    current = static_cast<Context*>(ctx);
    return CUDA_SUCCESS;
}
CUresult cuCtxGetCurrent(void** ctx) {
    *ctx = current;
    return CUDA_SUCCESS;
}
CUresult cuCtxSynchronize() {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuCtxSynchronize");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    return implicitSync("cuCtxSynchronize");
}
CUresult cuProfilerStart() { return CUDA_SUCCESS; }
CUresult cuProfilerStop() { return CUDA_SUCCESS; }

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuMemGetInfo");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    *total = memoryBytes();
    *free = *total > c->allocated ? *total - c->allocated : 0;
    return CUDA_SUCCESS;
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuMemAlloc");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    size_t rounded = (bytes + 255) & ~(size_t) 255;
    if (c->allocated + rounded > memoryBytes()) return CUDA_ERROR_OUT_OF_MEMORY;
    void* m = std::aligned_alloc(256, rounded);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    std::memset(m, 0xA5, rounded); // device memory is not zeroed: neither is this
    *p = (CUdeviceptr) m;
    c->allocated += rounded;
    owners()[(const char*) m] = c->device;
    emu::allow(m, bytes); // the allocations are the shim's read-check ranges: the kernels' loads are checked too
    return CUDA_SUCCESS;
}
// Frees on the allocation's own device, whichever context is current (unified addressing tells the driver which).
CUresult cuMemFree_v2(CUdeviceptr p) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    auto owner = owners().find((const char*) p);
    auto it = emu::ranges().find((const char*) p);
    if (owner == owners().end() || it == emu::ranges().end()) return CUDA_ERROR_INVALID_VALUE;
    Context* c = primary(owner->second);
    if (c->lost) return c->lost; // refused: the context's end frees it
    c->allocated -= ((size_t) (it->second - it->first) + 255) & ~(size_t) 255;
    owners().erase(owner);
    emu::disallow((const void*) p);
    std::free((void*) p);
    return CUDA_SUCCESS;
}

// The bytes [p, p + n) lie inside one allocation (CUDA checks copies the same way).
static bool inside(CUdeviceptr p, size_t n) {
    auto it = emu::ranges().upper_bound((const char*) p);
    if (it == emu::ranges().begin()) return false;
    --it;
    return (const char*) p + n <= it->second;
}
static CUresult copy(void* dst, const void* src, size_t n, const char* what, CUdeviceptr d1, CUdeviceptr d2, int devs) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need(what);
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    if ((devs & 1 && !inside(d1, n)) || (devs & 2 && !inside(d2, n))) {
        say("%s of %zu bytes outside an allocation", what, n);
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult r = implicitSync(what);
    if (r != CUDA_SUCCESS) return r;
    std::memmove(dst, src, n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    return copy((void*) dst, src, n, "cuMemcpyHtoD", dst, 0, 1);
}
CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    return copy(dst, (const void*) src, n, "cuMemcpyDtoH", src, 0, 1);
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    return copy((void*) dst, (const void*) src, n, "cuMemcpyDtoD", dst, src, 3);
}
CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuMemsetD8");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    if (!inside(dst, n)) {
        say("cuMemsetD8 of %zu bytes outside an allocation", n);
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult r = implicitSync("cuMemsetD8");
    if (r != CUDA_SUCCESS) return r;
    std::memset((void*) dst, value, n);
    return CUDA_SUCCESS;
}

// A PTX image's kernels: compute_80 modules from the base tables; sm_90 (the *_sm90 twins) from the programmatic
// build of stream.cu where it has them, else the base build (the emulation always waits where the twins would);
// sm_90a (stream_wgmma) from the warpgroup-MMA build.
CUresult cuModuleLoadData(void** module, const void* image) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuModuleLoadData");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    const char* text = static_cast<const char*>(image);
    if (!text || !std::strstr(text, ".entry")) {
        say("module image is not PTX with entries (only the shipped PTX modules are emulated)");
        return CUDA_ERROR_INVALID_IMAGE;
    }
    auto* m = new Module();
    m->ctx = c;
    if (std::strstr(text, ".target sm_90a")) {
        m->tables = {"wg"};
    } else if (std::strstr(text, ".target sm_90")) {
        m->tables = {"pdl", "base"};
    } else {
        m->tables = {"base"};
    }
    *module = m;
    return CUDA_SUCCESS;
}
CUresult cuModuleLoadDataEx(void** module, const void* image, unsigned int, void*, void**) {
    return cuModuleLoadData(module, image);
}
CUresult cuModuleUnload(void* module) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    if (static_cast<Module*>(module)->ctx->lost) return static_cast<Module*>(module)->ctx->lost;
    delete static_cast<Module*>(module);
    return CUDA_SUCCESS;
}
CUresult cuModuleGetFunction(void** f, void* module, const char* name) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    auto* m = static_cast<Module*>(module);
    for (const std::string& t : m->tables) {
        auto it = registry().find(t + ":" + name);
        if (it != registry().end()) {
            m->kernels.push_back(std::unique_ptr<Kernel>(new Kernel {&it->second, m->ctx}));
            *f = m->kernels.back().get();
            return CUDA_SUCCESS;
        }
    }
    say("no emulated kernel %s in the module's tables", name);
    return CUDA_ERROR_NOT_FOUND;
}

CUresult cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, void* stream, void** params, void** extra) {
    return launch(f, gx, gy, gz, bx, by, bz, smem, stream, params, extra, false);
}

// cuda.h's CUlaunchConfig and CUlaunchAttribute (ProgrammaticLaunchAbiTest checks the Java side against cuda.h).
struct LaunchAttribute {
    int id;
    char pad[4];
    union {
        char bytes[64];
        int programmaticStreamSerializationAllowed;
    } value;
};
struct LaunchConfig {
    unsigned gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes;
    void* hStream;
    LaunchAttribute* attrs;
    unsigned numAttrs;
};
static_assert(sizeof(LaunchAttribute) == 72 && offsetof(LaunchConfig, hStream) == 32 &&
              offsetof(LaunchConfig, attrs) == 40 && offsetof(LaunchConfig, numAttrs) == 48, "cuda.h layout");
CUresult cuLaunchKernelEx(const LaunchConfig* c, void* f, void** params, void** extra) {
    bool programmatic = false;
    for (unsigned i = 0; i < c->numAttrs; i++) {
        if (c->attrs[i].id == 6) {
            programmatic = c->attrs[i].value.programmaticStreamSerializationAllowed != 0;
        } else {
            say("launch attribute %d is not emulated", c->attrs[i].id);
            return CUDA_ERROR_NOT_SUPPORTED;
        }
    }
    int major, minor;
    computeCapability(&major, &minor);
    if (programmatic && major < 9) return CUDA_ERROR_NOT_SUPPORTED;
    return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                  c->sharedMemBytes, c->hStream, params, extra, programmatic);
}

CUresult cuStreamCreate(void** stream, unsigned int flags) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuStreamCreate");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    auto* s = new Stream();
    s->ctx = c;
    s->flags = flags;
    streams().push_back(s);
    *stream = s;
    return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    auto* s = static_cast<Stream*>(stream);
    for (size_t i = 0; i < streams().size(); i++) {
        if (streams()[i] == s) streams().erase(streams().begin() + (long) i);
    }
    delete s;
    return CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    auto* s = static_cast<Stream*>(stream);
    if (s && s->ctx->lost) return s->ctx->lost;
    if (s && s->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    return stream ? CUDA_SUCCESS : cuCtxSynchronize();
}
CUresult cuStreamBeginCapture_v2(void* stream, int) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    auto* s = static_cast<Stream*>(stream);
    if (!s || s->capturing) return CUDA_ERROR_INVALID_VALUE; // the legacy stream cannot be captured
    s->capturing = true;
    s->invalidated = false;
    s->captured.clear();
    return CUDA_SUCCESS;
}
CUresult cuStreamEndCapture(void* stream, void** graph) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    auto* s = static_cast<Stream*>(stream);
    if (!s || !s->capturing) return CUDA_ERROR_INVALID_VALUE;
    s->capturing = false;
    if (s->invalidated) {
        s->captured.clear();
        *graph = nullptr;
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    *graph = new Graph {std::move(s->captured)};
    s->captured.clear();
    return CUDA_SUCCESS;
}
CUresult cuStreamIsCapturing(void* stream, int* status) {
    auto* s = static_cast<Stream*>(stream);
    *status = s && s->capturing ? (s->invalidated ? 2 : 1) : 0;
    return CUDA_SUCCESS;
}
CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    if (!graph) return CUDA_ERROR_INVALID_VALUE;
    *exec = new Graph(*static_cast<Graph*>(graph));
    return CUDA_SUCCESS;
}
CUresult cuGraphLaunch(void* exec, void* stream) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Context* c = need("cuGraphLaunch");
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    if (c->lost) return c->lost;
    auto* s = static_cast<Stream*>(stream);
    if (!exec) return CUDA_ERROR_INVALID_HANDLE;
    if (s && s->ctx != c) {
        say("cuGraphLaunch on cuda:%d into a stream of cuda:%d", c->device, s->ctx->device);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (s && s->capturing) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED; // graphs inside graphs: not used here
    if (!s) {
        CUresult r = implicitSync("cuGraphLaunch on the legacy stream");
        if (r != CUDA_SUCCESS) return r;
    }
    for (const Launch& l : static_cast<Graph*>(exec)->launches) {
        CUresult r = run(l);
        if (r != CUDA_SUCCESS) return r;
    }
    return CUDA_SUCCESS;
}
CUresult cuGraphExecDestroy(void* exec) {
    delete static_cast<Graph*>(exec);
    return CUDA_SUCCESS;
}
CUresult cuGraphDestroy(void* graph) {
    delete static_cast<Graph*>(graph);
    return CUDA_SUCCESS;
}

} // extern "C"
