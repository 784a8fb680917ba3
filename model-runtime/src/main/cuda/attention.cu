// Paged causal attention, one warp per (token, query head), for decode tokens and prefill chunks alike:
// token t attends to positions 0..positions[t] of its own sequence through that sequence's block table.
// Keys are visited 32 at a time (one per lane) with an online softmax (running max and sum, FlashAttention
// style), so no score buffer is needed whatever the context length. Grouped-query: query head h reads
// KV head h / (nHeads / nKvHeads).
#include "common.cuh"

#define MAX_HEAD_DIM 256
#define PER_LANE (MAX_HEAD_DIM / 32)

template <typename KV>
__device__ __forceinline__ float kv_at(const KV* p, size_t i);
template <>
__device__ __forceinline__ float kv_at<float>(const float* p, size_t i) { return p[i]; }
template <>
__device__ __forceinline__ float kv_at<unsigned short>(const unsigned short* p, size_t i) { return f16_bits_to_f32(p[i]); }

// q, out [n, nHeads * headDim]; keys/values [slots, kvDim] of one layer; tables [numSeqs, maxBlocks].
// grid (ceil(n * nHeads / 4)), block 128, dynamic shared memory 4 * headDim floats.
template <typename KV>
__device__ void attention(const float* q, const KV* keys, const KV* values, const int* positions, const int* seq,
                          const int* tables, int maxBlocks, int blockSize, float* out, int n, int nHeads,
                          int nKvHeads, int headDim, float scale) {
    extern __shared__ float qshared[];
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int item = blockIdx.x * (blockDim.x >> 5) + warp;
    if (item >= n * nHeads) {
        return; // whole warp: item is warp-uniform
    }
    int t = item / nHeads;
    int h = item % nHeads;
    int kvDim = nKvHeads * headDim;
    int headOff = (h / (nHeads / nKvHeads)) * headDim;
    float* qs = qshared + warp * headDim;
    const float* qg = q + (size_t) t * nHeads * headDim + (size_t) h * headDim;
    for (int d = lane; d < headDim; d += 32) {
        qs[d] = qg[d];
    }
    __syncwarp();
    int pos = positions[t];
    const int* table = tables + (size_t) seq[t] * maxBlocks;
    float m = -INFINITY;
    float l = 0.0f;
    float acc[PER_LANE];
#pragma unroll
    for (int j = 0; j < PER_LANE; j++) {
        acc[j] = 0.0f;
    }
    for (int base = 0; base <= pos; base += 32) {
        int p = base + lane;
        float s = -INFINITY;
        int slot = 0;
        if (p <= pos) {
            slot = table[p / blockSize] * blockSize + p % blockSize;
            const KV* kr = keys + (size_t) slot * kvDim + headOff;
            float dot = 0.0f;
            for (int d = 0; d < headDim; d++) {
                dot += qs[d] * kv_at(kr, d);
            }
            s = dot * scale;
        }
        float mNew = fmaxf(m, warp_max(s)); // finite: position `base` is always <= pos
        float correction = expf(m - mNew);  // 0 on the first tile (m = -inf)
        float e = p <= pos ? expf(s - mNew) : 0.0f;
        l = l * correction + warp_sum(e);
#pragma unroll
        for (int j = 0; j < PER_LANE; j++) {
            acc[j] *= correction;
        }
        int count = min(32, pos - base + 1);
        for (int i = 0; i < count; i++) {
            float ei = __shfl_sync(FULL_MASK, e, i);
            int si = __shfl_sync(FULL_MASK, slot, i);
            const KV* vr = values + (size_t) si * kvDim + headOff;
#pragma unroll
            for (int j = 0; j < PER_LANE; j++) {
                int d = lane + 32 * j;
                if (d < headDim) {
                    acc[j] += ei * kv_at(vr, d);
                }
            }
        }
        m = mNew;
    }
    float inv = 1.0f / l;
    float* o = out + (size_t) t * nHeads * headDim + (size_t) h * headDim;
#pragma unroll
    for (int j = 0; j < PER_LANE; j++) {
        int d = lane + 32 * j;
        if (d < headDim) {
            o[d] = acc[j] * inv;
        }
    }
}

extern "C" __global__ void attention_f32(const float* q, const float* keys, const float* values, const int* positions,
                                         const int* seq, const int* tables, int maxBlocks, int blockSize, float* out,
                                         int n, int nHeads, int nKvHeads, int headDim, float scale) {
    attention<float>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale);
}

extern "C" __global__ void attention_f16(const float* q, const unsigned short* keys, const unsigned short* values,
                                         const int* positions, const int* seq, const int* tables, int maxBlocks,
                                         int blockSize, float* out, int n, int nHeads, int nKvHeads, int headDim,
                                         float scale) {
    attention<unsigned short>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale);
}
