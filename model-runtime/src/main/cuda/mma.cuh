// Tensor-core and asynchronous-copy primitives shared by the streaming GEMM (stream.cu) and the tiled prefill
// attention (attention.cu): cp.async 16-byte copies into shared memory and the m16n8k16 mma with float accumulation.
// Under INFERSTREAM_EMULATE (emulate.sh) they run on the host: copies complete at once (checked against the buffers a
// case registers) and the mma follows the PTX ISA's fragment layout (emu::mma_m16n8k16).
#pragma once
#include "common.cuh"

#ifdef INFERSTREAM_EMULATE
// On the host (emulate/cuda_shim.h): the copies and loads complete at once (a stage refilled while another warp still
// read it would show as wrong results), the warp's mma through emu::mma_m16n8k16 with the PTX fragment layout.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    if (valid) {
        emu::check_read(gmem, 16, "cp.async source");
        std::memcpy(smem, gmem, 16);
    } else {
        std::memset(smem, 0, 16);
    }
}
__device__ __forceinline__ void cp_async_commit() {}
template <int N>
__device__ __forceinline__ void cp_async_wait() {}
__device__ __forceinline__ void mma_m16n8k16(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                                             unsigned b1, __nv_bfloat16*) {
    emu::mma_m16n8k16(d, a0, a1, a2, a3, b0, b1, true);
}
__device__ __forceinline__ void mma_m16n8k16(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                                             unsigned b1, __half*) {
    emu::mma_m16n8k16(d, a0, a1, a2, a3, b0, b1, false);
}
#else
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    unsigned int s = (unsigned int) __cvta_generic_to_shared(smem);
    int bytes = valid ? 16 : 0; // 0: zero-fill, nothing read
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// d += a . b, m16n8k16, float accumulation. a: {row g k 2q..2q+1, row g+8 same k, row g k 2q+8.., row g+8 k 2q+8..};
// b: {k 2q..2q+1, k 2q+8..2q+9} of token g (g = lane / 4, q = lane % 4).
__device__ __forceinline__ void mma_m16n8k16(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                                             unsigned b1, __nv_bfloat16*) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_m16n8k16(float* d, unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0,
                                             unsigned b1, __half*) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
#endif
