// What the split-K reductions of the grouped products do to each output, shared by the reduction kernels
// (splitk_reduce_swiglu*, matmul.cu; splitk_reduce_rope_kv_*, elementwise.cu) and the grouped streaming products that
// reduce their own partial sums (matmul_stream_*group_reduce, stream.cu): one definition, so the fused and the
// separate ways give the same bits.
#pragma once
#include "common.cuh"

// silu(g) * u, SwiGLU's formula (the swiglu kernel's: exp in double).
__device__ __forceinline__ float swiglu_value(float g, float u) {
    return g / (1.0f + (float) exp(-(double) g)) * u;
}

__device__ __forceinline__ void store_kv(float* dst, float v) { *dst = v; }
__device__ __forceinline__ void store_kv(unsigned short* dst, float v) { *dst = __half_as_ushort(__float2half_rn(v)); }

#ifdef INFERSTREAM_EMULATE
__device__ __forceinline__ float load_l2(const float* p) { return *p; }
__device__ __forceinline__ float4 load4_l2(const float* p) { return *(const float4*) p; }
#else
// Floats another block of this launch wrote: read from L2 (this SM's L1 is not coherent with the writer's stores).
__device__ __forceinline__ float load_l2(const float* p) { return __ldcg(p); }
__device__ __forceinline__ float4 load4_l2(const float* p) { return __ldcg((const float4*) p); }
#endif

// The rows (x: a, y: b) of RoPE pair i of head h (common.cuh's rope_pair).
__device__ __forceinline__ int2 rope_pair_rows(int h, int i, int headDim, int neox) {
    int2 ab = rope_pair(i, neox);
    return make_int2(h * headDim + ab.x, h * headDim + ab.y);
}

// One RoPE pair (rows ra, rb, frequency i) of token t of the Q (kind 0), K (1) or V (2) product whose split-K sums
// are x0, x1: the bias added, rotated by position positions[t] (Q and K), stored into y [n, rows] and, for K and V,
// into cache row slots[t] of `cache` (rows wide). The arithmetic of add_bias + rope_kv_store.
template <typename KV>
__device__ __forceinline__ void rope_kv_finish(float x0, float x1, int ra, int rb, int i, int t, int rows,
                                               const float* bias, float* y, KV* cache, int kind, const int* positions,
                                               const float* invFreq, const int* slots) {
    if (bias) {
        x0 += bias[ra];
        x1 += bias[rb];
    }
    if (kind != 2) {
        float2 cs = rope_cos_sin(invFreq, i, (float) positions[t]);
        float2 r = rope_rotate(x0, x1, cs.x, cs.y);
        x0 = r.x;
        x1 = r.y;
    }
    y[(size_t) t * rows + ra] = x0; // the rotated key stays in k as well, as rope_kv_store leaves it
    y[(size_t) t * rows + rb] = x1;
    if (kind != 0) {
        size_t dst = (size_t) slots[t] * rows;
        store_kv(cache + dst + ra, x0);
        store_kv(cache + dst + rb, x1);
    }
}

// rope_kv_finish of pair i of head h, summed over the splits of p [splits, npad, rows] (splitk_sum).
template <typename KV>
__device__ __forceinline__ void rope_kv_pair(const float* p, int npad, int rows, int splits, const float* bias, float* y,
                                             KV* cache, int kind, int h, int i, int t, int headDim, int neox,
                                             const int* positions, const float* invFreq, const int* slots) {
    int2 r = rope_pair_rows(h, i, headDim, neox);
    float x0 = splitk_sum(p, npad, rows, splits, t, r.x);
    float x1 = splitk_sum(p, npad, rows, splits, t, r.y);
    rope_kv_finish<KV>(x0, x1, r.x, r.y, i, t, rows, bias, y, cache, kind, positions, invFreq, slots);
}

// Whether this block is the last of `expect` to arrive at counter *c (every thread gets the answer): each block calls
// it once after storing its partial sums; the last one (which then reads everyone's) resets the counter to 0 for the
// next launch. The fences order each block's stores before its arrival, and the last block's reads after it.
__device__ __forceinline__ bool last_arrival(int* c, int expect) {
    __shared__ int last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        int before = atomicAdd(c, 1);
        last = before == expect - 1;
        if (last) {
            *c = 0; // every other arrival has happened: nobody else touches it in this launch
        }
    }
    __syncthreads();
    bool mine = last;
    if (mine) {
        __threadfence();
    }
    return mine;
}
