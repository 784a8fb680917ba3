// Just enough of CUDA to run the kernels of ../*.cu on the host, each thread a fiber: __syncthreads and the warp
// shuffles switch fibers, so block and warp synchronisation behave as on a GPU, and a barrier that not every live
// thread reaches is reported instead of hanging. Shared memory starts every block as all-ones bytes (NaN as floats,
// -1 as integers), as a GPU's starts with whatever was there. INFERSTREAM_EMULATED_ORDER picks the schedule (launch,
// below): forward (the default) runs one block at a time with its warps in lock-step; reverse and shuffle[:seed] keep
// two blocks in flight and run warps ahead of each other, so a kernel whose result depends on the order has a race.
// The tensor-core and cp.async helpers have host forms (mma.cuh, wgmma.cuh, matmul.cu; wmma below); other inline PTX
// is compiled away and counted (emu_unsupported) if a kernel reaches it. Floats are the host's (compiled with
// -ffp-contract=off): the emulation checks index math, synchronisation and that fused kernels compute what the
// separate ones do, not the GPU's exact bits.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <algorithm>
#include <functional>
#include <map>
#include <setjmp.h>
#include <ucontext.h>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __shared__ static
#define __launch_bounds__(...)
#define __restrict__
#define __align__(n) __attribute__((aligned(n)))
// Inline PTX cannot run on the host: a kernel that reaches it is counted (the emulated driver, driver.cpp, then fails
// the launch, naming the kernel, instead of letting it compute garbage).
inline long& emu_unsupported() { static long n = 0; return n; }
#define EMU_ASM(...) ((void) emu_unsupported()++)

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(8) int2 { int x, y; };
inline int2 make_int2(int x, int y) { return {x, y}; }
struct alignas(8) ushort4 { unsigned short x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return {x, y}; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return {x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline ushort4 make_ushort4(unsigned short x, unsigned short y, unsigned short z, unsigned short w) { return {x, y, z, w}; }

// ---- 16-bit floats: bits and round-to-nearest-even conversions ----
struct __half { unsigned short x; };
struct __half2 { __half a, b; };
struct __nv_bfloat16 { unsigned short x; };

inline unsigned int emu_bits(float f) { unsigned int u; std::memcpy(&u, &f, 4); return u; }
inline float emu_float(unsigned int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __uint_as_float(unsigned int u) { return emu_float(u); }
inline unsigned int __float_as_uint(float f) { return emu_bits(f); }

inline __half __float2half_rn(float f) {
    unsigned int u = emu_bits(f);
    unsigned int sign = (u >> 16) & 0x8000u;
    unsigned int exp = (u >> 23) & 0xffu;
    unsigned int man = u & 0x7fffffu;
    unsigned short h;
    if (exp == 0xffu) {
        h = (unsigned short) (sign | 0x7c00u | (man ? 0x200u : 0u));
    } else {
        int e = (int) exp - 127 + 15;
        if (e >= 31) {
            h = (unsigned short) (sign | 0x7c00u);
        } else if (e <= 0) { // subnormal or zero
            if (e < -10) {
                h = (unsigned short) sign;
            } else {
                unsigned int m = man | 0x800000u;
                int shift = 14 - e;
                unsigned int r = m >> shift;
                unsigned int rem = m & ((1u << shift) - 1);
                unsigned int half = 1u << (shift - 1);
                if (rem > half || (rem == half && (r & 1u))) r++;
                h = (unsigned short) (sign | r);
            }
        } else {
            unsigned int r = ((unsigned int) e << 10) | (man >> 13);
            unsigned int rem = man & 0x1fffu;
            if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++; // may carry into the exponent: still right
            h = (unsigned short) (sign | r);
        }
    }
    return __half {h};
}
inline float __half2float(__half h) {
    unsigned int sign = (unsigned int) (h.x & 0x8000u) << 16;
    unsigned int exp = (h.x >> 10) & 0x1fu;
    unsigned int man = h.x & 0x3ffu;
    if (exp == 0) {
        float v = std::ldexp((float) man, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return emu_float(sign | 0x7f800000u | (man << 13));
    return emu_float(sign | ((exp - 15 + 127) << 23) | (man << 13));
}
inline unsigned short __half_as_ushort(__half h) { return h.x; }
inline __half __ushort_as_half(unsigned short u) { return __half {u}; }
inline float2 __half22float2(__half2 h) { return {__half2float(h.a), __half2float(h.b)}; }
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    unsigned int u = emu_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16 {(unsigned short) ((u >> 16) | 0x40u)};
    u += 0x7fffu + ((u >> 16) & 1u);
    return __nv_bfloat16 {(unsigned short) (u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 b) { return emu_float((unsigned int) b.x << 16); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) { return __nv_bfloat16 {u}; }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }




// wmma on the host: every lane holds the whole 16 x 16 tile (element (row, column) in v) and does the whole
// warp-wide operation itself; the lanes' stores are identical. Accumulates in float in k order.
inline float emu_to_float(float v) { return v; }
inline float emu_to_float(__half v) { return __half2float(v); }
inline float emu_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
namespace nvcuda { namespace wmma {
struct matrix_a {}; struct matrix_b {}; struct accumulator {}; struct row_major {}; struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <typename U, int M, int N, int K, typename T, typename L = void> struct fragment { float v[16][16]; };
template <typename F, typename T> inline void fill_fragment(F& f, T value) {
    for (auto& row : f.v) for (float& x : row) x = (float) value;
}
template <int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<matrix_a, M, N, K, T, row_major>& f, const T* p, unsigned ldm) {
    for (int i = 0; i < 16; i++) for (int k = 0; k < 16; k++) f.v[i][k] = emu_to_float(p[(size_t) i * ldm + k]);
}
template <int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<matrix_b, M, N, K, T, col_major>& f, const T* p, unsigned ldm) {
    for (int k = 0; k < 16; k++) for (int j = 0; j < 16; j++) f.v[k][j] = emu_to_float(p[(size_t) j * ldm + k]);
}
template <typename D, typename A, typename B, typename C> inline void mma_sync(D& d, const A& a, const B& b, const C& c) {
    float out[16][16];
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) {
            float s = c.v[i][j];
            for (int k = 0; k < 16; k++) s += a.v[i][k] * b.v[k][j];
            out[i][j] = s;
        }
    }
    std::memcpy(d.v, out, sizeof(out));
}
template <typename P, typename F> inline void store_matrix_sync(P* p, const F& f, unsigned ldm, layout_t layout) {
    for (int i = 0; i < 16; i++) {
        for (int j = 0; j < 16; j++) {
            p[layout == mem_row_major ? (size_t) i * ldm + j : (size_t) j * ldm + i] = f.v[i][j];
        }
    }
}
}}
inline unsigned long long __cvta_generic_to_shared(const void*) { emu_unsupported()++; return 0; }

// ---- switching between fibers ----
// A switch is the emulation's innermost step (a warp shuffle is two for each of its 32 lanes), so on x86-64 it is a
// few instructions: the callee-saved registers pushed on the stack being left, its stack pointer stored, the other's
// loaded and its registers popped. The SSE and x87 control words are not switched: no kernel changes its rounding.
// glibc's _setjmp/_longjmp, the portable fallback, mangle pointers and look for cancellation handlers to unwind on
// every jump (a quarter of a shuffle-heavy test's time under perf).
// -DINFERSTREAM_EMULATE_PORTABLE_SWITCH takes the fallback on x86-64 too (to check that it still builds and runs).
namespace emu {
inline void entry();
#if defined(__x86_64__) && !defined(INFERSTREAM_EMULATE_PORTABLE_SWITCH)
struct Context { void* sp = nullptr; };
extern "C" void emu_switch_stack(void** save, void* load);
asm(R"(
    .text
    .weak emu_switch_stack
    .hidden emu_switch_stack
    .type emu_switch_stack, @function
emu_switch_stack:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch_stack, .-emu_switch_stack
)");
// Saves the running context into `from` and continues `to`.
inline void jump(Context& from, const Context& to) { emu_switch_stack(&from.sp, to.sp); }
// Readies `c` to start entry() on the stack [base, base + size) at its first switch: that switch pops zeroed
// registers and then entry's address as its return address.
inline void prepare(Context& c, char* base, size_t size) {
    uintptr_t top = ((uintptr_t) (base + size)) & ~(uintptr_t) 15;
    void** sp = (void**) top;
    *--sp = nullptr;                           // entry's own return address (it never returns); rsp = 8 mod 16 there
    *--sp = (void*) &entry;
    for (int i = 0; i < 6; i++) *--sp = nullptr; // rbp, rbx, r12..r15
    c.sp = sp;
}
#else
struct Context { jmp_buf jump; ucontext_t start; bool fresh = false; };
inline void jump(Context& from, Context& to) {
    if (!_setjmp(from.jump)) {
        if (to.fresh) {
            to.fresh = false;
            setcontext(&to.start);
        }
        _longjmp(to.jump, 1);
    }
}
inline void prepare(Context& c, char* base, size_t size) {
    getcontext(&c.start);
    c.start.uc_stack.ss_sp = base;
    c.start.uc_stack.ss_size = size;
    c.start.uc_link = nullptr;
    makecontext(&c.start, entry, 0);
    c.fresh = true;
}
#endif
}

// ---- the fiber scheduler of one block ----
namespace emu {
enum class Wait { NONE, BLOCK, WARP };
struct Fiber {
    Context jump;        // where it yielded
    bool started = false;
    std::vector<char> stack;
    dim3 tid;
    int linear = 0;
    bool done = false;
    Wait wait = Wait::NONE;
    bool waited = false;     // called pdl_wait()
    const char* early = nullptr; // what it read (other than weights) before that, if anything
};
struct Block { // one block in flight: its threads, their synchronisation, its shared memory
    std::map<unsigned int, std::vector<Fiber>> pools; // fibers by block size, kept (and their stacks) for reuse
    std::vector<Fiber>* fibers = nullptr;             // this block's, from pools
    unsigned int threads = 0;
    Context scheduler;
    Fiber* current = nullptr;
    // the fibers the scheduler runs in turn (chain): each that waits or ends switches straight to the next that can run,
    // as if through the scheduler, which it returns to after the last
    std::vector<Fiber*> chain;
    size_t chainAt = 0;
    dim3 blockIdx, blockDim, gridDim;
    // per thread: what it gave the warp's current shuffle or exchange, and the warp's values at the last release
    std::vector<std::array<unsigned int, 16>> slots, snapshot;
    std::vector<char> dynamicSmem;
    std::function<void()> body;
    bool progressed = false;                  // in the current round of the launch's scheduler
    unsigned long epoch = 0;                  // which block this is (a number of the whole run): poisoned once each
    std::map<void*, std::pair<unsigned long, size_t>> poisoned; // each static __shared__ variable: epoch, bytes
    std::map<void*, std::vector<char>> saved; // their contents while another block in flight has the memory
};
// The blocks in flight: one forward, two in the other orders (their warps interleaved, so that a block may read what
// another has not written yet). Static __shared__ variables are one copy per kernel here, so the block running owns
// them and the others' contents are saved (poison_shared registers them).
inline std::vector<Block>& blocks_in_flight() { static std::vector<Block> b(2); return b; }
inline Block*& active_block() { static Block* b = &blocks_in_flight()[0]; return b; }
inline Block*& shared_owner() { static Block* b = nullptr; return b; }
inline Block& block() { return *active_block(); }
inline void* dynamic_smem() { return block().dynamicSmem.data(); }

// Makes b the running block, with its static shared memory in place.
inline void switch_to(Block& b) {
    active_block() = &b;
    Block* owner = shared_owner();
    if (owner == &b) return;
    if (owner) {
        for (auto& [p, v] : owner->poisoned) {
            if (v.first == owner->epoch) {
                owner->saved[p].assign((char*) p, (char*) p + v.second);
            }
        }
    }
    for (auto& [p, v] : b.poisoned) {
        auto copy = b.saved.find(p);
        if (v.first == b.epoch && copy != b.saved.end() && copy->second.size() == v.second) {
            std::memcpy(p, copy->second.data(), v.second);
        }
    }
    shared_owner() = &b;
}

// A GPU's shared memory holds what the last block there left; here a block's starts as all-ones bytes, which as
// floats are NaN and as 16-bit floats too, so a read before any write shows. emulate.sh calls this after every static
// __shared__ declaration: the first thread of a block to reach it poisons the variable, later ones leave it alone.
inline void poison_shared(void* p, size_t bytes) {
    Block& b = block();
    auto& v = b.poisoned[p];
    if (v.first != b.epoch) {
        v = {b.epoch, bytes};
        std::memset(p, 0xff, bytes);
    }
}

// The order blocks run in, and threads between two synchronisations (INFERSTREAM_EMULATED_ORDER): forward (the
// default), reverse, or shuffle[:seed] (a new permutation each time, from a fixed seed, so a failure repeats).
struct Order {
    enum Kind { FORWARD, REVERSE, SHUFFLE } kind = FORWARD;
    unsigned long long state = 0x9e3779b97f4a7c15ull;
};
inline Order& order() {
    static Order o = [] {
        Order r;
        const char* v = std::getenv("INFERSTREAM_EMULATED_ORDER");
        if (!v || !*v || std::strcmp(v, "forward") == 0) return r;
        if (std::strcmp(v, "reverse") == 0) {
            r.kind = Order::REVERSE;
        } else if (std::strncmp(v, "shuffle", 7) == 0 && (v[7] == 0 || v[7] == ':')) {
            r.kind = Order::SHUFFLE;
            if (v[7] == ':') r.state ^= std::strtoull(v + 8, nullptr, 10) * 0xbf58476d1ce4e5b9ull;
        } else {
            std::fprintf(stderr, "INFERSTREAM_EMULATED_ORDER=%s: expected forward, reverse or shuffle[:seed]\n", v);
            std::exit(2);
        }
        return r;
    }();
    return o;
}
// A number below n from the order's generator (xorshift64*).
inline unsigned int random_below(unsigned int n) {
    Order& o = order();
    o.state ^= o.state >> 12;
    o.state ^= o.state << 25;
    o.state ^= o.state >> 27;
    return (unsigned int) ((o.state * 0x2545f4914f6cdd1dull) >> 33) % n;
}
// 0 .. n-1 in the configured order.
inline void arrange(std::vector<unsigned int>& seq, unsigned int n) {
    seq.resize(n);
    Order& o = order();
    for (unsigned int i = 0; i < n; i++) seq[i] = o.kind == Order::REVERSE ? n - 1 - i : i;
    if (o.kind == Order::SHUFFLE) {
        for (unsigned int i = n; i > 1; i--) { // Fisher-Yates
            std::swap(seq[i - 1], seq[random_below(i)]);
        }
    }
}

// The running fiber has waited or ended: the next of the chain that can run continues, else the scheduler.
inline void pass_on(Block& b) {
    Fiber* from = b.current;
    while (b.chainAt < b.chain.size()) {
        Fiber* next = b.chain[b.chainAt++];
        if (!next->done && next->wait == Wait::NONE) {
            b.current = next;
            jump(from->jump, next->jump);
            return;
        }
    }
    jump(from->jump, b.scheduler);
}

inline void yield(Wait w) {
    Block& b = block();
    b.current->wait = w;
    pass_on(b);
}
// Programmatic dependent launch (common.cuh's pdl_wait): a kernel that waits must read nothing but weights before it,
// and must wait on every path (its end then implies its predecessor's). Counted here, checked by kernel_check's main.
inline long& pdl_violations() { static long n = 0; return n; }
inline long& pdl_waits() { static long n = 0; return n; }
inline void pdl_violation(const char* what) {
    if (pdl_violations()++ < 3) {
        std::printf("     programmatic launch: %s\n", what);
    }
}
inline void pdl_wait() {
    Fiber* f = block().current;
    if (!f->waited) {
        f->waited = true;
        pdl_waits()++;
        if (f->early) {
            pdl_violation(f->early);
        }
    }
}
// A read of memory a predecessor kernel may write: counted as early when before pdl_wait().
inline void pdl_note_read(const char* what) {
    Fiber* f = block().current;
    if (f && !f->waited && !f->early) {
        f->early = what;
    }
}
// A fiber runs one thread of every block of its size: after each it parks here until the next block resumes it.
inline void entry() {
    for (;;) {
        block().body();
        Fiber* f = block().current;
        f->done = true;
        pass_on(block());
    }
}

// Runs the running block's fibers in the order of b.chain, each until it waits or ends, those that can run when their
// turn comes; whether any ran.
inline bool run_chain(Block& b) {
    b.chainAt = 0;
    while (b.chainAt < b.chain.size()) {
        Fiber* f = b.chain[b.chainAt++];
        if (!f->done && f->wait == Wait::NONE) {
            b.current = f;
            jump(b.scheduler, f->jump); // back when the chain's last fiber waits or ends
            b.chain.clear();
            return true;
        }
    }
    b.chain.clear();
    return false;
}

// Releases the shuffle of warp w of block b once every live lane waits on it; whether it did.
inline bool release_warp(Block& b, unsigned int w) {
    std::vector<Fiber>& fibers = *b.fibers;
    unsigned int w0 = 32 * w, end = std::min(w0 + 32, b.threads);
    bool any = false;
    for (unsigned int i = w0; i < end; i++) {
        if (!fibers[i].done) {
            if (fibers[i].wait != Wait::WARP) return false;
            any = true;
        }
    }
    if (!any) return false;
    for (unsigned int i = w0; i < end; i++) {
        b.snapshot[i] = b.slots[i];
        if (!fibers[i].done) fibers[i].wait = Wait::NONE;
    }
    return true;
}

// Readies block b's threads (fibers) to run block `index` of the launch from the start.
inline void start_block(Block& b, unsigned int index) {
    static unsigned long epochs = 0;
    unsigned int threads = b.blockDim.x * b.blockDim.y * b.blockDim.z;
    b.blockIdx = dim3 {index % b.gridDim.x, (index / b.gridDim.x) % b.gridDim.y, index / (b.gridDim.x * b.gridDim.y)};
    b.epoch = ++epochs;
    std::memset(b.dynamicSmem.data(), 0xff, b.dynamicSmem.size());
    b.threads = threads;
    std::vector<Fiber>& fibers = b.pools[threads];
    b.fibers = &fibers;
    if (fibers.size() != threads) {
        fibers = std::vector<Fiber>(threads);
        for (auto& f : fibers) {
            f.stack.resize(256 * 1024);
        }
    }
    if (b.slots.size() != threads) {
        b.slots.assign(threads, {});
        b.snapshot.assign(threads, {});
    }
    for (unsigned int i = 0; i < threads; i++) {
        Fiber& f = fibers[i];
        f.linear = (int) i;
        f.tid = dim3 {i % b.blockDim.x, (i / b.blockDim.x) % b.blockDim.y, i / (b.blockDim.x * b.blockDim.y)};
        f.done = false;
        f.wait = Wait::NONE;
        f.waited = false;
        f.early = nullptr;
        if (!f.started) {
            f.started = true;
            prepare(f.jump, f.stack.data(), f.stack.size());
        }
    }
}

// Warp w of the running block runs as far as it can: to a block barrier or its end, its lanes in the order's order.
inline void run_warp_ahead(Block& b, unsigned int w, std::vector<unsigned int>& lanes) {
    for (;;) {
        arrange(lanes, std::min(32u, b.threads - 32 * w));
        for (unsigned int l : lanes) b.chain.push_back(&(*b.fibers)[32 * w + l]);
        b.progressed |= run_chain(b);
        if (!release_warp(b, w)) return;
        b.progressed = true;
    }
}

// Opens block b's barrier when every live thread waits on it; whether any thread of it is live.
inline bool open_barrier(Block& b) {
    bool live = false;
    bool allBlock = true;
    for (auto& f : *b.fibers) {
        if (!f.done) {
            live = true;
            allBlock &= f.wait == Wait::BLOCK;
        }
    }
    if (live && allBlock) {
        for (auto& f : *b.fibers) f.wait = Wait::NONE;
        b.progressed = true;
    }
    return live;
}

// After a round: whether block b has ended. A round in which no thread of it ran and nothing was released means
// threads wait on barriers that not every live thread reaches: reported, instead of hanging.
inline bool settle(Block& b) {
    if (!open_barrier(b)) return true;
    if (!b.progressed) {
        std::fprintf(stderr, "emulated block (%u, %u): threads wait on barriers that not every live thread "
                             "reaches (a divergent __syncthreads or shuffle)\n", b.blockIdx.x, b.blockIdx.y);
        std::abort();
    }
    return false;
}

// Whether warp w of block b has a thread that can run.
inline bool warp_ready(Block& b, unsigned int w) {
    for (unsigned int i = 32 * w; i < std::min(32 * w + 32, b.threads); i++) {
        const Fiber& f = (*b.fibers)[i];
        if (!f.done && f.wait == Wait::NONE) return true;
    }
    return false;
}

// Runs a launch.
// - forward: one block at a time, in order; each fiber runs until it waits or ends, the warps in lock-step from one
//   synchronisation to the next;
// - reverse: two blocks in flight, the last first; in each round every warp of both, last first, runs ahead to its
//   next block barrier (or its end) before the next warp starts;
// - shuffle: two blocks in flight, in random order; one warp at a time, drawn from those of both that can run, runs
//   ahead to its next block barrier, and a block's barrier opens as soon as all its threads wait on it.
// So a read of another warp's data that no barrier orders sees it either not yet written or already overwritten, and
// (shuffle) a block that another block's arrival lets read its partial results may find them not yet stored.
template <typename... P, typename... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 blockDim, size_t smem, A... args) {
    Order::Kind kind = order().kind;
    std::vector<Block>& all = blocks_in_flight();
    size_t width = kind == Order::FORWARD ? 1 : all.size();
    for (size_t i = 0; i < width; i++) {
        Block& b = all[i];
        b.gridDim = grid;
        b.blockDim = blockDim;
        b.dynamicSmem.resize(smem + 16);
        b.body = [=]() { kernel(args...); };
    }
    std::vector<unsigned int> blocks, seq, lanes;
    arrange(blocks, grid.x * grid.y * grid.z);
    size_t next = 0;
    std::vector<Block*> flight;
    bool anyWaited = false, allWaited = true; // pdl_wait over every thread of the launch
    auto refill = [&]() {
        for (size_t i = 0; i < width && next < blocks.size(); i++) {
            if (std::find(flight.begin(), flight.end(), &all[i]) == flight.end()) {
                start_block(all[i], blocks[next++]);
                switch_to(all[i]);
                flight.push_back(&all[i]);
            }
        }
    };
    auto ended = [&](Block* b) { // b's threads have all ended: its pdl_wait record, and its place for the next block
        for (auto& f : *b->fibers) {
            anyWaited |= f.waited;
            allWaited &= f.waited;
        }
        flight.erase(std::find(flight.begin(), flight.end(), b));
    };
    std::vector<std::pair<Block*, unsigned int>> units; // (block, warp)
    for (;;) {
        refill();
        if (flight.empty()) break;
        for (Block* b : flight) b->progressed = false;
        if (kind == Order::SHUFFLE) {
            for (;;) {
                units.clear();
                for (Block* b : flight) {
                    for (unsigned int w = 0; w < (b->threads + 31) / 32; w++) {
                        if (warp_ready(*b, w)) units.push_back({b, w});
                    }
                }
                if (units.empty()) break;
                auto [bp, w] = units[random_below((unsigned int) units.size())];
                Block& b = *bp;
                switch_to(b);
                run_warp_ahead(b, w, lanes);
                if (!open_barrier(b)) {
                    ended(&b);
                    refill();
                }
            }
        } else {
            units.clear();
            for (Block* b : flight) {
                for (unsigned int w = 0; w < (b->threads + 31) / 32; w++) units.push_back({b, w});
            }
            if (kind == Order::REVERSE) {
                for (size_t u = units.size(); u-- > 0;) {
                    switch_to(*units[u].first);
                    run_warp_ahead(*units[u].first, units[u].second, lanes);
                }
            } else { // forward: the threads in order, one step each
                Block& b = *flight[0];
                switch_to(b);
                for (Fiber& f : *b.fibers) b.chain.push_back(&f);
                b.progressed |= run_chain(b);
                for (auto& u : units) b.progressed |= release_warp(b, u.second);
            }
        }
        for (size_t i = 0; i < flight.size();) {
            if (settle(*flight[i])) {
                ended(flight[i]);
            } else {
                i++;
            }
        }
    }
    if (anyWaited && !allWaited) {
        pdl_violation("a thread ended without pdl_wait() where others of its launch waited");
    }
}

template <typename T>
T shuffle(T v, int src) {
    static_assert(sizeof(T) <= sizeof(unsigned int) * 16, "shuffled value too large");
    Block& b = block();
    int me = b.current->linear;
    std::memcpy(b.slots[me].data(), &v, sizeof(T));
    yield(Wait::WARP);
    T out;
    std::memcpy(&out, b.snapshot[(me & ~31) + (src & 31)].data(), sizeof(T));
    return out;
}

// Every lane of the warp gives W words and gets all 32 lanes' (all[lane][w]).
template <int W>
void exchange(const unsigned int (&mine)[W], unsigned int (&all)[32][W]) {
    static_assert(W <= 16, "too many words");
    Block& b = block();
    int me = b.current->linear;
    std::memcpy(b.slots[me].data(), mine, sizeof(mine));
    yield(Wait::WARP);
    for (int l = 0; l < 32; l++) {
        std::memcpy(all[l], b.snapshot[(me & ~31) + l].data(), sizeof(mine));
    }
}

// Global memory a kernel may read, for the loads that go through emulated helpers (stream.cu's weight loads and
// cp.async copies): a check registers its buffers with allow(); a read outside all of them is counted (and the first
// few printed) instead of silently reading the host's neighbouring memory. No ranges registered: no checks.
// Keyed by the first byte, so that a read is looked up in log time among the emulated driver's allocations.
inline std::map<const char*, const char*>& ranges() { static std::map<const char*, const char*> r; return r; }
inline long& stray_reads() { static long n = 0; return n; }
inline void allow(const void* p, size_t bytes) {
    const char* lo = (const char*) p;
    const char*& hi = ranges()[lo];
    hi = std::max(hi, lo + bytes);
}
inline void disallow(const void* p) { ranges().erase((const char*) p); }
inline void forget() { ranges().clear(); }
inline void check_read(const void* p, size_t bytes, const char* what) {
    if (std::strcmp(what, "weights") != 0) {
        pdl_note_read(what);
    }
    if (ranges().empty()) {
        return;
    }
    const char* c = (const char*) p;
    auto it = ranges().upper_bound(c); // the first range starting after c; the one before may hold [c, c + bytes)
    while (it != ranges().begin()) {
        --it;
        if (c + bytes <= it->second) {
            return;
        }
        if (it->first + (64 << 20) < c) { // ranges overlap only in the checks' own small buffers
            break;
        }
    }
    if (stray_reads()++ < 3) {
        std::printf("     out-of-bounds read of %zu bytes at %p (%s)\n", bytes, p, what);
    }
}

inline float half_bits_to_float(unsigned short h, bool bf16) {
    return bf16 ? emu_float((unsigned int) h << 16) : __half2float(__half {h});
}

// The warp's 16 x 16 A of an m16n8k16 (or a warpgroup MMA's 16 rows of this warp) from every lane's a0..a3 (the first
// four words of all[lane]): g = lane / 4, q = lane % 4; a0 row g k 2q..2q+1, a1 row g+8, a2 row g k 2q+8.., a3 row g+8.
template <int W>
inline void a_fragments(const unsigned int (&all)[32][W], float (&A)[16][16], bool bf16) {
    for (int l = 0; l < 32; l++) {
        int g = l >> 2, q = l & 3;
        for (int h = 0; h < 2; h++) {
            A[g][2 * q + h] = half_bits_to_float((unsigned short) (all[l][0] >> (16 * h)), bf16);
            A[g + 8][2 * q + h] = half_bits_to_float((unsigned short) (all[l][1] >> (16 * h)), bf16);
            A[g][2 * q + 8 + h] = half_bits_to_float((unsigned short) (all[l][2] >> (16 * h)), bf16);
            A[g + 8][2 * q + 8 + h] = half_bits_to_float((unsigned short) (all[l][3] >> (16 * h)), bf16);
        }
    }
}

// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}: d (4 floats of this lane) += A [16 x 16] . B [16 x 8], with the
// fragments spread over the warp as the PTX ISA lays them out (g = lane / 4, q = lane % 4): a0 row g k 2q..2q+1,
// a1 row g+8, a2 row g k 2q+8.., a3 row g+8 k 2q+8..; b0 k 2q..2q+1 of column g, b1 k 2q+8..; d0, d1 row g columns
// 2q, 2q+1, d2, d3 row g+8. Accumulates in float in k order (the hardware's order is its own).
inline void mma_m16n8k16(float* d, unsigned int a0, unsigned int a1, unsigned int a2, unsigned int a3, unsigned int b0,
                         unsigned int b1, bool bf16) {
    unsigned int mine[6] = {a0, a1, a2, a3, b0, b1};
    unsigned int all[32][6];
    exchange(mine, all);
    float A[16][16], B[16][8];
    a_fragments(all, A, bf16);
    for (int l = 0; l < 32; l++) {
        int g = l >> 2, q = l & 3;
        for (int h = 0; h < 2; h++) {
            B[2 * q + h][g] = half_bits_to_float((unsigned short) (all[l][4] >> (16 * h)), bf16);
            B[2 * q + 8 + h][g] = half_bits_to_float((unsigned short) (all[l][5] >> (16 * h)), bf16);
        }
    }
    int lane = block().current->linear & 31;
    int g = lane >> 2, q = lane & 3;
    int rows[4] = {g, g, g + 8, g + 8};
    int cols[4] = {2 * q, 2 * q + 1, 2 * q, 2 * q + 1};
    for (int i = 0; i < 4; i++) {
        float s = d[i];
        for (int k = 0; k < 16; k++) {
            s += A[rows[i]][k] * B[k][cols[i]];
        }
        d[i] = s;
    }
}

// wgmma.mma_async.m64n64k16 with A in registers and B in shared memory (wgmma.cuh): this warp's 16 rows of A (a0..a3
// in mma_m16n8k16's A layout) times B [16 k x 64 tokens], K-major with the 128-byte swizzle: element (k, n) at byte
// o = start + (n / 8) sbo + (n % 8) 128 + (k / 8) 16 + (k % 8) 2 of the 1024-byte aligned stage, its bits 4-6 XORed
// with bits 7-9. A warp's rows of D are its own, so each warp computes them alone: d[4t + i] as mma_m16n8k16's d of
// 8-token tile t, summed in k order as it sums.
inline void wgmma_m64n64k16_sw128(float* d, unsigned int a0, unsigned int a1, unsigned int a2, unsigned int a3,
                                  const unsigned short* stage, int start, int sbo, bool bf16) {
    unsigned int mine[4] = {a0, a1, a2, a3};
    unsigned int all[32][4];
    exchange(mine, all);
    float A[16][16];
    a_fragments(all, A, bf16);
    const char* base = (const char*) stage;
    int lane = block().current->linear & 31;
    int g = lane >> 2, q = lane & 3;
    int rows[4] = {g, g, g + 8, g + 8};
    for (int t = 0; t < 8; t++) {
        for (int i = 0; i < 4; i++) {
            int n = 8 * t + 2 * q + (i & 1);
            float s = d[4 * t + i];
            for (int k = 0; k < 16; k++) {
                int o = start + (n / 8) * sbo + (n % 8) * 128 + (k / 8) * 16 + (k % 8) * 2;
                o ^= ((o >> 7) & 7) << 4;
                unsigned short bits;
                std::memcpy(&bits, base + o, 2);
                s += A[rows[i]][k] * half_bits_to_float(bits, bf16);
            }
            d[4 * t + i] = s;
        }
    }
}
} // namespace emu

#define threadIdx (emu::block().current->tid)
#define blockIdx (emu::block().blockIdx)
#define blockDim (emu::block().blockDim)
#define gridDim (emu::block().gridDim)
inline void __syncthreads() { emu::yield(emu::Wait::BLOCK); }
// one OS thread runs every fiber of every block in flight: every store is visible to every later load
inline void __threadfence() {}
inline void __syncwarp(unsigned int = 0xffffffffu) { emu::shuffle(0, 0); }
template <typename T> T __shfl_xor_sync(unsigned int, T v, int mask) {
    return emu::shuffle(v, (emu::block().current->linear & 31) ^ mask);
}
template <typename T> T __shfl_sync(unsigned int, T v, int src) { return emu::shuffle(v, src); }
template <typename T> T __shfl_down_sync(unsigned int, T v, unsigned int delta) {
    int lane = emu::block().current->linear & 31;
    return emu::shuffle(v, lane + (int) delta < 32 ? lane + (int) delta : lane);
}
template <typename T> T __shfl_up_sync(unsigned int, T v, unsigned int delta) {
    int lane = emu::block().current->linear & 31;
    return emu::shuffle(v, lane - (int) delta >= 0 ? lane - (int) delta : lane);
}
inline unsigned int __ballot_sync(unsigned int, int predicate) {
    unsigned int mine[1] = {predicate ? 1u : 0u};
    unsigned int all[32][1];
    emu::exchange(mine, all);
    unsigned int bits = 0;
    for (int l = 0; l < 32; l++) bits |= all[l][0] << l;
    return bits;
}
inline unsigned int __match_any_sync(unsigned int, unsigned int value) {
    unsigned int mine[1] = {value};
    unsigned int all[32][1];
    emu::exchange(mine, all);
    unsigned int bits = 0;
    for (int l = 0; l < 32; l++) bits |= (all[l][0] == value ? 1u : 0u) << l;
    return bits;
}
using std::isnan;
using std::isinf;
inline int __ffs(unsigned int x) { return __builtin_ffs((int) x); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
// one OS thread runs every fiber: a read-modify-write is atomic as it is
template <typename T> T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> T atomicMax(T* p, T v) { T old = *p; *p = old > v ? old : v; return old; }
template <typename T> T atomicMin(T* p, T v) { T old = *p; *p = old < v ? old : v; return old; }
