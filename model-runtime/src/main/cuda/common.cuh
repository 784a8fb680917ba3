// Shared device helpers of the InferStream kernels. Compiled into each module (header only).
#pragma once
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define FULL_MASK 0xffffffffu

// Weight storage types, the same ids as CudaWeightType on the Java side.
#define WT_F32 0
#define WT_F16 1
#define WT_BF16 2
#define WT_Q8_0 3
#define WT_Q4_K 4
#define WT_Q6_K 5

__device__ __forceinline__ float bf16_bits_to_f32(unsigned short h) {
    return __uint_as_float(((unsigned int) h) << 16);
}

__device__ __forceinline__ float f16_bits_to_f32(unsigned short h) {
    return __half2float(__ushort_as_half(h));
}

// f rounded to nearest-even in T (__half or __nv_bfloat16), as bits: the one rounding of activations for the
// 16-bit products (to_half_padded and the kernels that write its output themselves).
__device__ __forceinline__ unsigned short to_bits(float f, __half*) { return __half_as_ushort(__float2half_rn(f)); }
__device__ __forceinline__ unsigned short to_bits(float f, __nv_bfloat16*) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

// Element idx of a row-major weight matrix as float. Q8_0 is stored as int8 quants [rows * cols]
// and one float scale per 32 consecutive quants (scales[idx / 32]). The K-quants as the CPU holds them
// (tensor.QuantPlanes, cols a multiple of 256): Q4_K as nibbles [rows * cols / 2] in ggml's order (per 64
// values 32 bytes, low nibbles values 0..31, high nibbles 32..63) and per 32 values a (scale, min) pair,
// w = scale * q - min rounded as the CPU rounds it (no fused multiply-add); Q6_K as int8 (q - 32)
// [rows * cols] and one float scale per 16 values.
template <int TYPE>
__device__ __forceinline__ float weight_at(const void* w, const float* scales, size_t idx) {
    if (TYPE == WT_F32) {
        return ((const float*) w)[idx];
    } else if (TYPE == WT_F16) {
        return f16_bits_to_f32(((const unsigned short*) w)[idx]);
    } else if (TYPE == WT_BF16) {
        return bf16_bits_to_f32(((const unsigned short*) w)[idx]);
    } else if (TYPE == WT_Q4_K) {
        unsigned int b = ((const unsigned char*) w)[((idx >> 6) << 5) + (idx & 31)];
        unsigned int q = (idx & 32) ? b >> 4 : b & 15u;
        size_t g = idx >> 5;
        return __fsub_rn(__fmul_rn(scales[2 * g], (float) q), scales[2 * g + 1]);
    } else if (TYPE == WT_Q6_K) {
        return scales[idx >> 4] * (float) ((const signed char*) w)[idx];
    } else {
        return scales[idx >> 5] * (float) ((const signed char*) w)[idx];
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(FULL_MASK, v, o);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    }
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) {
        partial[warp] = v;
    }
    __syncthreads();
    int warps = blockDim.x >> 5;
    float s = lane < warps ? partial[lane] : 0.0f;
    return warp_sum(s);
}

// Sum over s of part [s, t, r] (split-K partial sums [splits, npad, rows], fixed order from split 0, as splitk_reduce
// adds them): every reduction of the skinny products goes through this, so fused reductions stay bit for bit equal.
__device__ __forceinline__ float splitk_sum(const float* part, int npad, int rows, int splits, size_t t, size_t r) {
    float s = 0.0f;
    for (int sp = 0; sp < splits; sp++) {
        s += part[((size_t) sp * npad + t) * rows + r];
    }
    return s;
}

// Programmatic dependent launch (PDL; compute capability 9.0, PTX griddepcontrol). Only the modules compiled for 9.x
// (stream_wgmma and the _sm90 twins of elementwise, attention and matmul: ptx.sh) have these instructions; elsewhere
// the functions are empty and the PTX is what it was. A kernel launched with the programmatic-serialization attribute
// (CudaKernels, on 9.x when chosen at load) may start before the kernel ahead of it in the stream has finished, so
// it must not touch anything that kernel writes or reads until pdl_wait() returns (the predecessor has completed and
// its memory is visible); and it must call pdl_wait() on every path, so that its own completion still implies its
// predecessors' (the next kernel waits for this one only). pdl_trigger() lets the next kernel's blocks be scheduled
// (as SMs free up) once every block of this one has issued it; they then wait for this one's end themselves.
#ifdef INFERSTREAM_EMULATE
__device__ __forceinline__ void pdl_wait() { emu::pdl_wait(); }
__device__ __forceinline__ void pdl_trigger() {}
#else
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
#endif
// A small kernel's first statement: the next one may be scheduled beside it, and it waits for the one before.
__device__ __forceinline__ void pdl_enter() {
    pdl_trigger();
    pdl_wait();
}

// One RoPE rotation of the pair (x0, x1) by the angle whose cosine and sine are c and s, with the roundings spelled
// out so that every kernel that rotates (rope, rope_kv_store, splitk_reduce_rope_kv) gives the same bits.
__device__ __forceinline__ float2 rope_rotate(float x0, float x1, float c, float s) {
    return make_float2(__fmaf_rn(x0, c, -__fmul_rn(x1, s)), __fmaf_rn(x0, s, __fmul_rn(x1, c)));
}

// The dimensions (a, b) of RoPE pair i (0 <= i < headDim / 2) of a head. `neox` is the layout and the rotated width:
// 0 for adjacent pairs (2i, 2i+1: llama.cpp's "normal"); for NeoX, half the rotated width r, the pairs i < r being
// (i, i + r) and the ones past them (2i, 2i+1) over the dimensions that do not turn (Phi-4-mini rotates 96 of 128).
// Pairs that do not turn have frequency 0 and magnitude 1 in the table (rope_cos_sin), so the rotation leaves them.
__device__ __forceinline__ int2 rope_pair(int i, int neox) {
    return neox == 0 || i >= neox ? make_int2(2 * i, 2 * i + 1) : make_int2(i, i + neox);
}

// cos and sin of pair i's angle at position pos, times its magnitude: the table holds (inverse frequency, magnitude)
// for each pair, the magnitude being 1 or LongRoPE's attention factor. The arithmetic of the CPU's Rope.angles: the
// angle in float, cos and sin in double rounded to float, then the magnitude in float (exact when it is 1).
__device__ __forceinline__ float2 rope_cos_sin(const float* table, int i, float pos) {
    float angle = pos * table[2 * i];
    float m = table[2 * i + 1];
    return make_float2((float) cos((double) angle) * m, (float) sin((double) angle) * m);
}
