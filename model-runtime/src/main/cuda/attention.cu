// Paged causal attention, one warp per (token, query head), for decode tokens and prefill chunks alike:
// token t attends to positions 0..positions[t] of its own sequence through that sequence's block table.
// Keys are visited 32 at a time (one per lane) with an online softmax (running max and sum, FlashAttention
// style), so no score buffer is needed whatever the context length. Grouped-query: query head h reads
// KV head h / (nHeads / nKvHeads).
// attention_vec_*, below, is the fast path for head sizes 8..256 that are powers of two; this one serves the rest.
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

// ---- Vectorised paged attention (head sizes 8, 16, 32, 64, 128, 256) ----
// One block of ATT_WARPS warps per (token, query head). A group of L = headDim / 8 lanes owns one position:
// each lane loads 8 consecutive key and value elements (one 128-bit load for F16, two for F32), the group
// sums the score with log2(L) shuffles, and each group keeps its own online softmax (running max, sum and
// 8 output dims per lane) over the positions it visits. The 32 / L groups of a warp visit consecutive
// positions, the warps interleave; at the end the groups of a warp, then the warps of the block are merged
// (max-rescaled sums), so the result is the same softmax(q k^T * scale) v as the CPU's.

#define ATT_WARPS 8

__device__ __forceinline__ void load8(const float* p, float* v) {
    float4 a = *(const float4*) p;
    float4 b = *(const float4*) (p + 4);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}

__device__ __forceinline__ void load8(const unsigned short* p, float* v) {
    uint4 u = *(const uint4*) p;
    const __half2* h = (const __half2*) &u;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        float2 f = __half22float2(h[j]);
        v[2 * j] = f.x;
        v[2 * j + 1] = f.y;
    }
}

// Merges the running softmax state (m, l, acc) with another one (m2, l2, acc2); either may be empty (m = -inf).
__device__ __forceinline__ void merge_state(float& m, float& l, float* acc, float m2, float l2, const float* acc2) {
    float mNew = fmaxf(m, m2);
    if (mNew == -INFINITY) {
        return; // both empty
    }
    float c1 = expf(m - mNew);
    float c2 = expf(m2 - mNew);
    l = l * c1 + l2 * c2;
#pragma unroll
    for (int j = 0; j < 8; j++) {
        acc[j] = acc[j] * c1 + acc2[j] * c2;
    }
    m = mNew;
}

// Same arguments as attention_*; grid (n * nHeads), block 32 * ATT_WARPS, no dynamic shared memory.
template <typename KV>
__device__ void attention_vec(const float* q, const KV* keys, const KV* values, const int* positions, const int* seq,
                              const int* tables, int maxBlocks, int blockSize, float* out, int n, int nHeads,
                              int nKvHeads, int headDim, float scale) {
    __shared__ float sm[ATT_WARPS];
    __shared__ float sl[ATT_WARPS];
    __shared__ float sacc[ATT_WARPS * MAX_HEAD_DIM];
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int t = blockIdx.x / nHeads;
    int h = blockIdx.x % nHeads;
    int L = headDim >> 3;       // lanes per position (1..32, a power of two)
    int P = 32 / L;             // positions per warp and iteration
    int group = lane / L;
    int li = lane % L;          // this lane's 8 dims: li * 8 .. li * 8 + 7
    int kvDim = nKvHeads * headDim;
    int off = (h / (nHeads / nKvHeads)) * headDim + li * 8;
    float qv[8];
    load8(q + (size_t) t * nHeads * headDim + (size_t) h * headDim + li * 8, qv);
    int pos = positions[t];
    const int* table = tables + (size_t) seq[t] * maxBlocks;
    float m = -INFINITY;
    float l = 0.0f;
    float acc[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
        acc[j] = 0.0f;
    }
    // base is warp-uniform, so every lane takes part in the shuffles
    for (int base = warp * P; base <= pos; base += ATT_WARPS * P) {
        int p = base + group;
        bool valid = p <= pos;
        float kv8[8];
        float dot = 0.0f;
        size_t row = 0;
        if (valid) {
            int slot = table[p / blockSize] * blockSize + p % blockSize;
            row = (size_t) slot * kvDim + off;
            load8(keys + row, kv8);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                dot += qv[j] * kv8[j];
            }
        }
        for (int o = L >> 1; o > 0; o >>= 1) {
            dot += __shfl_xor_sync(FULL_MASK, dot, o);
        }
        if (valid) {
            float s = dot * scale;
            load8(values + row, kv8);
            float mNew = fmaxf(m, s);
            float c = expf(m - mNew); // 0 on this group's first position (m = -inf)
            float e = expf(s - mNew);
            l = l * c + e;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                acc[j] = acc[j] * c + e * kv8[j];
            }
            m = mNew;
        }
    }
    // merge the groups of the warp: lanes li of all groups hold the same dims
    for (int o = L; o < 32; o <<= 1) {
        float m2 = __shfl_xor_sync(FULL_MASK, m, o);
        float l2 = __shfl_xor_sync(FULL_MASK, l, o);
        float acc2[8];
#pragma unroll
        for (int j = 0; j < 8; j++) {
            acc2[j] = __shfl_xor_sync(FULL_MASK, acc[j], o);
        }
        merge_state(m, l, acc, m2, l2, acc2);
    }
    if (group == 0) {
#pragma unroll
        for (int j = 0; j < 8; j++) {
            sacc[warp * MAX_HEAD_DIM + li * 8 + j] = acc[j];
        }
        if (li == 0) {
            sm[warp] = m;
            sl[warp] = l;
        }
    }
    __syncthreads();
    // merge the warps: thread d owns output dim d (position 0 is always in warp 0, so M is finite)
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float M = -INFINITY;
        for (int w = 0; w < ATT_WARPS; w++) {
            M = fmaxf(M, sm[w]);
        }
        float sum = 0.0f;
        float o = 0.0f;
        for (int w = 0; w < ATT_WARPS; w++) {
            float c = expf(sm[w] - M); // 0 for a warp that saw no position
            sum += sl[w] * c;
            o += sacc[w * MAX_HEAD_DIM + d] * c;
        }
        out[(size_t) t * nHeads * headDim + (size_t) h * headDim + d] = o / sum;
    }
}

extern "C" __global__ void attention_vec_f32(const float* q, const float* keys, const float* values, const int* positions,
                                             const int* seq, const int* tables, int maxBlocks, int blockSize, float* out,
                                             int n, int nHeads, int nKvHeads, int headDim, float scale) {
    attention_vec<float>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale);
}

extern "C" __global__ void attention_vec_f16(const float* q, const unsigned short* keys, const unsigned short* values,
                                             const int* positions, const int* seq, const int* tables, int maxBlocks,
                                             int blockSize, float* out, int n, int nHeads, int nKvHeads, int headDim,
                                             float scale) {
    attention_vec<unsigned short>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale);
}
