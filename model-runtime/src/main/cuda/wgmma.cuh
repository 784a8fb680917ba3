// Hopper warpgroup MMA for the streaming products (stream.cu compiled with -DST_WGMMA for sm_90a: stream_wgmma.ptx,
// loaded only on compute capability 9.x devices).
//
// Why: at 64 tokens the mma.sync kernels keep the SM's tensor pipe about half busy and its shared-memory pipe more
// than half busy at full HBM bandwidth: every warp reads the whole 64-token activation chunk from shared memory into
// B fragments (4x its own weight bytes) and issues 32 mma.sync per 2 KB of weights. wgmma.m64n64k16 multiplies a
// warpgroup's 64 rows (A: the weights each warp already holds in registers, the same fragment layout as mma.sync's A)
// by the activations read by the tensor cores straight from shared memory (B: a matrix descriptor), once per
// warpgroup, at Hopper's full tensor rate.
//
// B layout: wgmma's K-major canonical layout without swizzle, "core matrices" of 8 tokens x 8 k (16 bytes a token,
// 128 bytes contiguous); core matrices LBO = 1024 bytes apart along k and SBO = 128 bytes apart along tokens: a
// 64-k chunk is [8 pieces][64 tokens][8 k] (8 KB, as the mma.sync stage). The k inside a piece are not in memory
// order: the weight registers hold, for mma step s of the chunk, the k {b + 8q + 2h + j} (b = 32 (s / 2) + 4 (s % 2),
// lane q = lane % 4, h and j in 0..1) as the logical k 2q + j + 8h (stream.cu's header), so the activations of
// logical k 8h + 2q + j of step s, piece 2s + h, word q, are the 4-byte word 16 (s / 2) + 2 (s % 2) + h + 4q of the
// chunk (st_load_x_wg copies them word by word). Each step then sums the same 16 products as the mma.sync kernel's.
#pragma once
#include "common.cuh"

#define WG_LBO 1024 // bytes between a step's two core matrices along k (pieces 2s and 2s + 1)
#define WG_SBO 128  // bytes between core matrices along tokens (8 tokens x 16 bytes)

#ifdef INFERSTREAM_EMULATE
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, bool valid) {
    if (valid) {
        emu::check_read(gmem, 4, "cp.async source");
        std::memcpy(smem, gmem, 4);
    } else {
        std::memset(smem, 0, 4);
    }
}
__device__ __forceinline__ void wg_fence_proxy() {}
__device__ __forceinline__ void wg_fence() {}
__device__ __forceinline__ void wg_commit_wait() {}
__device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], unsigned a0, unsigned a1, unsigned a2,
                                           unsigned a3, const unsigned short* b, __nv_bfloat16*) {
    emu::wgmma_m64n64k16(&acc[0][0], a0, a1, a2, a3, b, WG_LBO, WG_SBO, true);
}
__device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], unsigned a0, unsigned a1, unsigned a2,
                                           unsigned a3, const unsigned short* b, __half*) {
    emu::wgmma_m64n64k16(&acc[0][0], a0, a1, a2, a3, b, WG_LBO, WG_SBO, false);
}
#else
// 4 bytes into shared memory (cp.async.ca: the 16-byte .cg cannot copy less); zero-filled when !valid (nothing read)
__device__ __forceinline__ void cp_async4(void* smem, const void* gmem, bool valid) {
    unsigned int s = (unsigned int) __cvta_generic_to_shared(smem);
    int bytes = valid ? 4 : 0;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes) : "memory");
}
// wgmma reads shared memory through the async proxy: this thread's writes (cp.async, stores) made visible to it
__device__ __forceinline__ void wg_fence_proxy() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// before a warpgroup's wgmmas: the registers they read (the weights just loaded, the accumulators) are written
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
// the wgmmas issued so far complete: their accumulators may be read and their weight registers and stage reused
__device__ __forceinline__ void wg_commit_wait() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
}
// The matrix descriptor of a step's B: shared address, LBO and SBO in 16-byte units (bits 0-13, 16-29, 32-45),
// no swizzle (bits 62-63 zero), base offset 0.
__device__ __forceinline__ unsigned long long wg_desc(const unsigned short* b) {
    unsigned int a = (unsigned int) __cvta_generic_to_shared(b);
    return (unsigned long long) ((a & 0x3FFFF) >> 4) | ((unsigned long long) (WG_LBO >> 4) << 16)
            | ((unsigned long long) (WG_SBO >> 4) << 32);
}
#define WG_ACC(t) "+f"(acc[t][0]), "+f"(acc[t][1]), "+f"(acc[t][2]), "+f"(acc[t][3])
#define WG_D "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, " \
             "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1, 0;\n"
// acc (this thread's D of rows 16 (warp % 4) + g, + 8 and tokens 8t + 2q, + 1: mma.sync's C layout per 8-token tile)
// += A (this warp's 16 rows x 16 k, mma.sync's A layout) . B (16 k x 64 tokens at b)
__device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], unsigned a0, unsigned a1, unsigned a2,
                                           unsigned a3, const unsigned short* b, __nv_bfloat16*) {
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, 1, 0;\n"
                 " wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 " WG_D "}\n"
                 : WG_ACC(0), WG_ACC(1), WG_ACC(2), WG_ACC(3), WG_ACC(4), WG_ACC(5), WG_ACC(6), WG_ACC(7)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(wg_desc(b))
                 : "memory");
}
__device__ __forceinline__ void wg_mma_n64(float (&acc)[ST_MAX_TILES][4], unsigned a0, unsigned a1, unsigned a2,
                                           unsigned a3, const unsigned short* b, __half*) {
    asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, 1, 0;\n"
                 " wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " WG_D "}\n"
                 : WG_ACC(0), WG_ACC(1), WG_ACC(2), WG_ACC(3), WG_ACC(4), WG_ACC(5), WG_ACC(6), WG_ACC(7)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "l"(wg_desc(b))
                 : "memory");
}
#undef WG_ACC
#undef WG_D
#endif

// Activations of the chunk at k into one stage in the layout above, 32 words per token: warp w copies piece w % 8 of
// every (WARPS / 8)-th 8 tokens, lane (t, q) word q of token t (bank 4t + q: no two lanes on one bank). The word and
// its bound are the thread's for the whole chunk, so the loop is one address per copy.
template <int WARPS>
__device__ __forceinline__ void st_load_x_wg(unsigned short* stage, const unsigned short* xh, int npad, int cols, int k,
                                             int k1) {
    static_assert(WARPS % 8 == 0, "a warp per piece");
    int lane = threadIdx.x & 31;
    int piece = (threadIdx.x >> 5) & 7; // 2s + h
    int s = piece >> 1;
    int q = lane & 3;
    int c = k + 2 * (16 * (s >> 1) + 2 * (s & 1) + (piece & 1) + 4 * q);
    bool valid = c < k1;
    int t = (threadIdx.x >> 8) * 8 + (lane >> 2);
    const unsigned short* src = xh + (size_t) t * cols + (valid ? c : 0);
    unsigned short* dst = stage + (piece * ST_MAX_TILES * 8 + t) * 8 + 2 * q;
    for (; t < npad; t += WARPS) {
        cp_async4(dst, src, valid);
        src += (size_t) WARPS * cols;
        dst += WARPS * 8;
    }
}

// The rows of tokens npad..63 of every stage zeroed once (wgmma multiplies all 64; copies never write them).
template <int WARPS>
__device__ __forceinline__ void st_zero_pad_wg(unsigned short* stages, int npad) {
    int rows = ST_MAX_TILES * 8 - npad;
    for (int i = threadIdx.x; i < ST_STAGES * 8 * rows; i += WARPS * 32) {
        int piece = i / rows; // stage * 8 + piece
        int t = npad + i % rows;
        *(uint4*) (stages + (piece * ST_MAX_TILES * 8 + t) * 8) = make_uint4(0, 0, 0, 0);
    }
}
