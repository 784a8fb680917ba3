// Hopper warpgroup MMA for the streaming products on packed weights (stream.cu compiled with -DST_WGMMA for sm_90a:
// stream_wgmma.ptx, loaded only on compute capability 9.x devices).
//
// Why: at 64 tokens the mma.sync kernels keep the SM's tensor pipe about half busy and its shared-memory pipe more
// than half busy at full HBM bandwidth: every warp reads the whole 64-token activation chunk from shared memory into
// B fragments (4x its own weight bytes) and issues 32 mma.sync per 2 KB of weights. wgmma.m64n64k16 multiplies a
// warpgroup's 64 rows (A: weights each warp holds in registers, mma.sync's A layout per warp) by the activations the
// tensor cores read straight from shared memory (B: a matrix descriptor), once per warpgroup, at Hopper's full rate.
//
// A: the weights in their own packed order (pack_stream_weights_wg): a lane's 16-byte piece j of a chunk's tile is
// exactly its A fragment of k16 step j, {row g k 2q..2q+1, row g+8 the same, row g k 2q+8.., row g+8 k 2q+8..} with
// k = 64 kc + 16 j, so the k order is the natural one (the mma.sync kernels' packing takes a piece as 8 consecutive k
// of one row and permutes k instead).
// B: the chunk's activations [token][64 k] in wgmma's K-major layout with the 128-byte swizzle: token t's 128 bytes at
// 128 t, its 16-byte piece p at ((p ^ (t % 8)) * 16) within them; 8-token groups SBO = 1024 bytes apart; step j's
// descriptor starts 32 j bytes into the stage (the hardware applies the XOR to the address bits, so the stage must be
// 1024-byte aligned). The copies (stream.cu's st_load_x) are 16-byte cp.async, a warp writing 4 whole tokens: no bank
// conflicts.
#pragma once
#include "common.cuh"

#define WG_SBO 1024 // bytes between 8-token groups (8 rows of 128 bytes)

#ifdef INFERSTREAM_EMULATE
__device__ __forceinline__ void wg_fence_proxy() {}
__device__ __forceinline__ void wg_fence() {}
__device__ __forceinline__ void wg_commit_wait() {}
__device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], uint4 a, const unsigned short* stage, int step,
                                           __nv_bfloat16*) {
    emu::wgmma_m64n64k16_sw128(&acc[0][0], a.x, a.y, a.z, a.w, stage, 32 * step, WG_SBO, true);
}
__device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], uint4 a, const unsigned short* stage, int step,
                                           __half*) {
    emu::wgmma_m64n64k16_sw128(&acc[0][0], a.x, a.y, a.z, a.w, stage, 32 * step, WG_SBO, false);
}
#else
// wgmma reads shared memory through the async proxy: this thread's writes (cp.async, stores) made visible to it
__device__ __forceinline__ void wg_fence_proxy() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// before a warpgroup's wgmmas: the registers they read (the weights just loaded, the accumulators) are written
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
// the wgmmas issued so far complete: their accumulators may be read and their weight registers and stage reused
__device__ __forceinline__ void wg_commit_wait() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}
// The matrix descriptor of step `step`'s B in `stage`: start address (bits 0-13), LBO (16-29: unused with a swizzled
// K-major layout, 1 by convention), SBO (32-45), both in 16-byte units; base offset 0 (1024-aligned stage); bits 62-63
// layout 1 = 128-byte swizzle.
__device__ __forceinline__ unsigned long long wg_desc(const unsigned short* stage, int step) {
    unsigned int a = (unsigned int) __cvta_generic_to_shared(stage) + 32 * step;
    return (unsigned long long) ((a & 0x3FFFF) >> 4) | (1ull << 16) | ((unsigned long long) (WG_SBO >> 4) << 32)
            | (1ull << 62);
}
#define WG_ACC(t) "+f"(acc[t][0]), "+f"(acc[t][1]), "+f"(acc[t][2]), "+f"(acc[t][3])
#define WG_D "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
             "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n"
// acc (this thread's D: rows 16 (warp % 4) + g and + 8, tokens 8t + 2q and + 1, mma.sync's C layout per 8-token tile)
// += A (this warp's 16 rows x 16 k: a.x .. a.w as mma.sync's a0 .. a3) . B (16 k x 64 tokens of step `step`)
#define WG_MMA(T, ptxType)                                                                                            \
    __device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], uint4 a, const unsigned short* stage,  \
                                               int step, T*) {                                                        \
        asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, 1, 0;\n"                                                     \
                     " wgmma.mma_async.sync.aligned.m64n64k16.f32." ptxType "." ptxType " " WG_D "}\n"               \
                     : WG_ACC(0), WG_ACC(1), WG_ACC(2), WG_ACC(3), WG_ACC(4), WG_ACC(5), WG_ACC(6), WG_ACC(7)        \
                     : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "l"(wg_desc(stage, step))                              \
                     : "memory");                                                                                     \
    }
WG_MMA(__nv_bfloat16, "bf16")
WG_MMA(__half, "f16")
#undef WG_MMA
#undef WG_ACC
#undef WG_D
#endif

// The rows of tokens npad..63 of every stage zeroed once (wgmma multiplies all 64; copies never write them).
template <int WARPS>
__device__ __forceinline__ void st_zero_pad_wg(unsigned short* stages, int npad) {
    int pieces = (ST_MAX_TILES * 8 - npad) * 8;
    for (int i = threadIdx.x; i < ST_STAGES * pieces; i += WARPS * 32) {
        int s = i / pieces;
        int r = i % pieces;
        *(uint4*) (stages + (size_t) s * (ST_MAX_TILES * 8 * ST_KC) + (npad + (r >> 3)) * ST_KC + (r & 7) * 8) =
                make_uint4(0, 0, 0, 0);
    }
}
