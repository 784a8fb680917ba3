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

// ---- Split-context decode attention (flash decoding), one block per (token, KV head, context split) ----
// Every query head of a KV head's group is handled by the same block, so each key and value row is read once
// per token instead of once per query head (Llama-3.2-1B: 4 query heads per KV head). A token's context
// 0..positions[t] is cut into gridDim.y splits of `chunk` positions (split_chunk: at least SPLIT_MIN_CHUNK, so
// short contexts use fewer, fuller splits; the splits past the end exit at once). Inside a block a group of
// L = headDim / 8 lanes owns one position: each lane loads 8 consecutive key and value elements of it with one
// 16-byte load (two for F32), the group sums G scores with log2(L) shuffles each, and keeps an online softmax
// per query head over the positions it visits (two positions per iteration, both rows loaded before the
// arithmetic). Groups, then warps, are merged by max-rescaling. With one split the block writes
// out [n, nHeads, headDim]; otherwise it writes its unnormalised partial state (pacc, and pml = (max, sum)),
// and attention_split_combine merges the splits of each (token, query head).
// Requirements (checked on the host): headDim a power of two 8..256, nHeads / nKvHeads <= GMAX, rows 16-byte
// aligned (kvDim * element size a multiple of 16, pool base 16-byte aligned).

#define SPLIT_WARPS 4
#define SPLIT_MIN_CHUNK 32

// Positions per split for a context of ctx positions cut into `splits`: every split but the last is full, the
// used splits are ceil(ctx / chunk) <= splits, each with at least one position.
__device__ __forceinline__ int split_chunk(int ctx, int splits) {
    return max((ctx + splits - 1) / splits, SPLIT_MIN_CHUNK);
}

__device__ __forceinline__ void zero8(float* v) {
#pragma unroll
    for (int j = 0; j < 8; j++) {
        v[j] = 0.0f;
    }
}

// q [n, nHeads * headDim]; keys/values [slots, kvDim]; tables [numSeqs, maxBlocks];
// out [n, nHeads * headDim] (splits == 1); pacc [n, nHeads, splits, headDim], pml [n, nHeads, splits, 2] (splits > 1).
// grid (n * nKvHeads, splits), block 32 * SPLIT_WARPS, dynamic shared memory
// 4 * (G * headDim + 2 * SPLIT_WARPS * G + SPLIT_WARPS * G * headDim) bytes, G = nHeads / nKvHeads.
// The attention output's padded 16-bit copy for the Wo product (matmul_stream reads it instead of converting out:
// the rounding of to_half_padded in matmul.cu, so bit for bit its result): halfType 1 = F16, 2 = BF16, 0 = none
// (outH null). outH is [npad, nHeads * headDim]; rows n..npad-1 are zeroed by the last token's blocks.
__device__ __forceinline__ void put_half(unsigned short* outH, int halfType, size_t i, float v) {
    if (outH) {
        outH[i] = halfType == 2 ? to_bits(v, (__nv_bfloat16*) 0) : to_bits(v, (__half*) 0);
    }
}

template <typename KV, int GMAX>
__device__ void attention_split(const float* q, const KV* keys, const KV* values, const int* positions, const int* seq,
                                const int* tables, int maxBlocks, int blockSize, float* out, float* pacc, float* pml,
                                int nHeads, int nKvHeads, int headDim, float scale, unsigned short* outH, int halfType,
                                int npad) {
    extern __shared__ float smem[];
    int G = nHeads / nKvHeads;
    int t = blockIdx.x / nKvHeads;
    int kvh = blockIdx.x % nKvHeads;
    int split = blockIdx.y;
    int splits = gridDim.y;
    int ctx = positions[t] + 1;
    int chunk = split_chunk(ctx, splits);
    int start = split * chunk;
    if (start >= ctx) {
        return; // a split past this token's context: the combine does not read it (whole block)
    }
    int end = min(ctx, start + chunk);
    float* qs = smem;                                  // [G, headDim]
    float* wm = qs + G * headDim;                      // [SPLIT_WARPS, G]
    float* wl = wm + SPLIT_WARPS * G;                  // [SPLIT_WARPS, G]
    float* wacc = wl + SPLIT_WARPS * G;                // [SPLIT_WARPS, G, headDim]
    int h0 = kvh * G;                                  // first query head of the group
    const float* qg = q + ((size_t) t * nHeads + h0) * headDim;
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) {
        qs[i] = qg[i];
    }
    __syncthreads();

    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int L = headDim >> 3;          // lanes per position
    int P = 32 / L;                // positions per warp and round
    int R = SPLIT_WARPS * P;       // positions per block and round
    int group = lane / L;
    int li = lane % L;             // this lane's dims: li * 8 .. li * 8 + 7
    int kvDim = nKvHeads * headDim;
    int off = kvh * headDim + li * 8;
    const int* table = tables + (size_t) seq[t] * maxBlocks;

    float m[GMAX];
    float l[GMAX];
    float acc[GMAX][8];
#pragma unroll
    for (int h = 0; h < GMAX; h++) {
        m[h] = -INFINITY;
        l[h] = 0.0f;
        zero8(acc[h]);
    }
    // The K/V row of position p for this lane (0 past the split: not loaded). The rows of the next round are looked
    // up in the block table while this round's arithmetic runs, so a round waits for one global load, not two.
    auto rowOf = [&](int p) -> size_t {
        return p < end ? (size_t) (table[p / blockSize] * blockSize + p % blockSize) * kvDim + off : 0;
    };
    size_t rowA = rowOf(start + warp * P + group);
    size_t rowB = rowOf(start + warp * P + group + R);
    // base is block-uniform, so every lane takes part in the shuffles
    for (int base = start; base < end; base += 2 * R) {
        int pa = base + warp * P + group;
        int pb = pa + R;
        bool va = pa < end;
        bool vb = pb < end;
        float ka[8], kb[8], xa[8], xb[8];
        zero8(ka);
        zero8(kb);
        zero8(xa);
        zero8(xb);
        if (va) {
            load8(keys + rowA, ka);
            load8(values + rowA, xa);
        }
        if (vb) {
            load8(keys + rowB, kb);
            load8(values + rowB, xb);
        }
        rowA = rowOf(pa + 2 * R);
        rowB = rowOf(pb + 2 * R);
#pragma unroll
        for (int h = 0; h < GMAX; h++) {
            if (h < G) { // block-uniform
                float4 q0 = *(const float4*) (qs + h * headDim + li * 8);
                float4 q1 = *(const float4*) (qs + h * headDim + li * 8 + 4);
                float sa = q0.x * ka[0] + q0.y * ka[1] + q0.z * ka[2] + q0.w * ka[3]
                         + q1.x * ka[4] + q1.y * ka[5] + q1.z * ka[6] + q1.w * ka[7];
                float sb = q0.x * kb[0] + q0.y * kb[1] + q0.z * kb[2] + q0.w * kb[3]
                         + q1.x * kb[4] + q1.y * kb[5] + q1.z * kb[6] + q1.w * kb[7];
                for (int o = L >> 1; o > 0; o >>= 1) {
                    sa += __shfl_xor_sync(FULL_MASK, sa, o);
                    sb += __shfl_xor_sync(FULL_MASK, sb, o);
                }
                if (va) { // vb implies va
                    sa *= scale;
                    sb = vb ? sb * scale : -INFINITY;
                    float mNew = fmaxf(m[h], fmaxf(sa, sb)); // finite: sa is
                    float c = expf(m[h] - mNew);            // 0 on this group's first position (m = -inf)
                    float ea = expf(sa - mNew);
                    float eb = vb ? expf(sb - mNew) : 0.0f;
                    l[h] = l[h] * c + ea + eb;
#pragma unroll
                    for (int j = 0; j < 8; j++) {
                        acc[h][j] = acc[h][j] * c + ea * xa[j] + eb * xb[j];
                    }
                    m[h] = mNew;
                }
            }
        }
    }
    // merge the groups of the warp: lanes li of all groups hold the same dims
    for (int o = L; o < 32; o <<= 1) {
#pragma unroll
        for (int h = 0; h < GMAX; h++) {
            if (h < G) {
                float m2 = __shfl_xor_sync(FULL_MASK, m[h], o);
                float l2 = __shfl_xor_sync(FULL_MASK, l[h], o);
                float acc2[8];
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    acc2[j] = __shfl_xor_sync(FULL_MASK, acc[h][j], o);
                }
                merge_state(m[h], l[h], acc[h], m2, l2, acc2);
            }
        }
    }
    if (group == 0) {
#pragma unroll
        for (int h = 0; h < GMAX; h++) {
            if (h < G) {
                float* dst = wacc + (warp * G + h) * headDim + li * 8;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    dst[j] = acc[h][j];
                }
                if (li == 0) {
                    wm[warp * G + h] = m[h];
                    wl[warp * G + h] = l[h];
                }
            }
        }
    }
    __syncthreads();
    // merge the warps: thread i owns (head i / headDim, dim i % headDim). Position `start` is in warp 0, so M is finite.
    for (int i = threadIdx.x; i < G * headDim; i += blockDim.x) {
        int h = i / headDim;
        int d = i % headDim;
        float M = -INFINITY;
        for (int w = 0; w < SPLIT_WARPS; w++) {
            M = fmaxf(M, wm[w * G + h]);
        }
        float sum = 0.0f;
        float o = 0.0f;
        for (int w = 0; w < SPLIT_WARPS; w++) {
            float mw = wm[w * G + h];
            float c = mw == -INFINITY ? 0.0f : expf(mw - M); // a warp that saw no position adds nothing
            sum += wl[w * G + h] * c;
            o += wacc[(w * G + h) * headDim + d] * c;
        }
        size_t head = (size_t) t * nHeads + h0 + h;
        if (splits == 1) {
            float r = o / sum;
            out[head * headDim + d] = r;
            put_half(outH, halfType, head * headDim + d, r);
            if (outH && t == gridDim.x / nKvHeads - 1) { // the last token's blocks zero the padding rows of their heads
                for (int p = t + 1; p < npad; p++) {
                    outH[((size_t) p * nHeads + h0 + h) * headDim + d] = 0;
                }
            }
        } else {
            size_t row = head * splits + split;
            pacc[row * headDim + d] = o;
            if (d == 0) {
                pml[2 * row] = M;
                pml[2 * row + 1] = sum;
            }
        }
    }
}

#define ATTENTION_SPLIT(NAME, KV, GMAX)                                                                              \
    extern "C" __global__ void __launch_bounds__(32 * SPLIT_WARPS)                                                  \
    NAME(const float* q, const KV* keys, const KV* values, const int* positions, const int* seq, const int* tables, \
         int maxBlocks, int blockSize, float* out, float* pacc, float* pml, int nHeads, int nKvHeads, int headDim,  \
         float scale, unsigned short* outH, int halfType, int npad) {                                               \
        attention_split<KV, GMAX>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, pacc, pml,    \
                                  nHeads, nKvHeads, headDim, scale, outH, halfType, npad);                          \
    }

ATTENTION_SPLIT(attention_split_f16_g1, unsigned short, 1)
ATTENTION_SPLIT(attention_split_f16_g2, unsigned short, 2)
ATTENTION_SPLIT(attention_split_f16_g4, unsigned short, 4)
ATTENTION_SPLIT(attention_split_f16_g8, unsigned short, 8)
ATTENTION_SPLIT(attention_split_f32_g1, float, 1)
ATTENTION_SPLIT(attention_split_f32_g2, float, 2)
ATTENTION_SPLIT(attention_split_f32_g4, float, 4)
ATTENTION_SPLIT(attention_split_f32_g8, float, 8)

// Merges the splits of attention_split: out[t, h, :] = sum_s pacc[t, h, s, :] e^(m_s - M) / sum_s l_s e^(m_s - M)
// over the splits s that hold positions of token t (the same split_chunk as the attention blocks).
// With outH, as attention_split with one split: the padded 16-bit copy of out as well (see put_half).
// grid (n * nHeads), block 64 (any multiple of 32).
extern "C" __global__ void attention_split_combine(const int* positions, const float* pacc, const float* pml, float* out,
                                                  int nHeads, int headDim, int splits, unsigned short* outH,
                                                  int halfType, int npad) {
    int t = blockIdx.x / nHeads;
    int ctx = positions[t] + 1;
    int chunk = split_chunk(ctx, splits);
    int used = (ctx + chunk - 1) / chunk; // 1..splits, every one non-empty
    size_t row0 = (size_t) blockIdx.x * splits;
    float M = -INFINITY;
    for (int s = 0; s < used; s++) {
        M = fmaxf(M, pml[2 * (row0 + s)]);
    }
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float sum = 0.0f;
        float o = 0.0f;
        for (int s = 0; s < used; s++) {
            float ms = pml[2 * (row0 + s)];
            float c = ms == -INFINITY ? 0.0f : expf(ms - M);
            sum += pml[2 * (row0 + s) + 1] * c;
            o += pacc[(row0 + s) * headDim + d] * c;
        }
        float r = o / sum;
        out[(size_t) blockIdx.x * headDim + d] = r;
        put_half(outH, halfType, (size_t) blockIdx.x * headDim + d, r);
        if (outH && t == gridDim.x / nHeads - 1) { // the last token's blocks zero the padding rows of their heads
            for (int p = t + 1; p < npad; p++) {
                outH[((size_t) p * nHeads + blockIdx.x % nHeads) * headDim + d] = 0;
            }
        }
    }
}
