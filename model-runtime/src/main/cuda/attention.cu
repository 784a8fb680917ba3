// Paged causal attention, one warp per (token, query head), for decode tokens and prefill chunks alike:
// token t attends to positions 0..positions[t] of its own sequence through that sequence's block table, or, in a
// sliding-window layer (window > 0 in every kernel here), to its last `window` positions only (window_start); with
// softcap > 0 (Gemma 2) each score is soft-capped before the softmax (soft_cap).
// Keys are visited 32 at a time (one per lane) with an online softmax (running max and sum, FlashAttention
// style), so no score buffer is needed whatever the context length. Grouped-query: query head h reads
// KV head h / (nHeads / nKvHeads).
// attention_vec_*, below, is the fast path for head sizes 8..256 that are powers of two; this one serves the rest.
#include "common.cuh"
#include "mma.cuh"

#define MAX_HEAD_DIM 256
#define PER_LANE (MAX_HEAD_DIM / 32)

// The first position a token at `pos` attends to: 0, or in a layer with a sliding window of `window` positions (its
// own included; 0: none) pos - window + 1 (model.SlidingWindow: llama.cpp's LLAMA_SWA_TYPE_STANDARD).
__device__ __forceinline__ int window_start(int pos, int window) {
    return window > 0 ? max(0, pos - window + 1) : 0;
}

// Gemma 2's soft cap on a scaled score, cap * tanh(s / cap) (cap 0: none), as the CPU's PagedAttention computes it:
// the quotient in float, tanh in double. Only for scores of positions a token sees (a masked -inf stays -inf).
__device__ __forceinline__ float soft_cap(float s, float cap) {
    return cap > 0.0f ? cap * (float) tanh((double) (s / cap)) : s;
}

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
                          int nKvHeads, int headDim, float scale, int window, float softcap) {
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
    for (int base = window_start(pos, window); base <= pos; base += 32) {
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
            s = soft_cap(dot * scale, softcap);
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
                                         int n, int nHeads, int nKvHeads, int headDim, float scale, int window,
                                         float softcap) {
    attention<float>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale,
                     window, softcap);
}

extern "C" __global__ void attention_f16(const float* q, const unsigned short* keys, const unsigned short* values,
                                         const int* positions, const int* seq, const int* tables, int maxBlocks,
                                         int blockSize, float* out, int n, int nHeads, int nKvHeads, int headDim,
                                         float scale, int window, float softcap) {
    attention<unsigned short>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale,
                              window, softcap);
}

// ---- Vectorised paged attention (head sizes 8, 16, 32, 64, 128, 256) ----
// One block of ATT_WARPS warps per (token, query head). A group of L = headDim / 8 lanes owns one position:
// each lane loads 8 consecutive key and value elements (one 128-bit load for F16, two for F32), the group
// sums the score with log2(L) shuffles, and each group keeps its own online softmax (running max, sum and
// 8 output dims per lane) over the positions it visits. The 32 / L groups of a warp visit consecutive
// positions, the warps interleave; at the end the groups of a warp, then the warps of the block are merged
// (max-rescaled sums), so the result is the same softmax(q k^T * scale) v as the CPU's.

#define ATT_WARPS 8

// 8 consecutive key or value elements as loaded, before conversion: what the prefetching split attention holds in
// registers for the next round (F16: one 16-byte load, 4 registers; F32: two, 8 registers); to() gives the floats.
template <typename KV>
struct Raw8;
template <>
struct Raw8<unsigned short> {
    uint4 u;
    __device__ __forceinline__ void load(const unsigned short* p) { u = *(const uint4*) p; }
    __device__ __forceinline__ void clear() { u = make_uint4(0, 0, 0, 0); }
    __device__ __forceinline__ void to(float* v) const {
        const __half2* h = (const __half2*) &u;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float2 f = __half22float2(h[j]);
            v[2 * j] = f.x;
            v[2 * j + 1] = f.y;
        }
    }
};
template <>
struct Raw8<float> {
    float4 a, b;
    __device__ __forceinline__ void load(const float* p) {
        a = *(const float4*) p;
        b = *(const float4*) (p + 4);
    }
    __device__ __forceinline__ void clear() {
        a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        b = a;
    }
    __device__ __forceinline__ void to(float* v) const {
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
        v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    }
};

// 8 consecutive key or value elements of a row into floats (F16 widened), in one or two 16-byte loads.
template <typename KV>
__device__ __forceinline__ void load8(const KV* p, float* v) {
    Raw8<KV> r;
    r.load(p);
    r.to(v);
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
                              int nKvHeads, int headDim, float scale, int window, float softcap) {
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
    for (int base = window_start(pos, window) + warp * P; base <= pos; base += ATT_WARPS * P) {
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
            float s = soft_cap(dot * scale, softcap);
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
    // merge the warps: thread d owns output dim d (the first position is always in warp 0, so M is finite)
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
                                             int n, int nHeads, int nKvHeads, int headDim, float scale, int window,
                                             float softcap) {
    attention_vec<float>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale,
                         window, softcap);
}

extern "C" __global__ void attention_vec_f16(const float* q, const unsigned short* keys, const unsigned short* values,
                                             const int* positions, const int* seq, const int* tables, int maxBlocks,
                                             int blockSize, float* out, int n, int nHeads, int nKvHeads, int headDim,
                                             float scale, int window, float softcap) {
    attention_vec<unsigned short>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, n, nHeads, nKvHeads, headDim, scale,
                                  window, softcap);
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

// PF (the _pf kernels): each round's key and value rows are loaded one round ahead, before the arithmetic of the round
// in use, so a block waits for a round's loads only where they took longer than the previous round's arithmetic (the
// block-table rows two rounds ahead); the same arithmetic in the same order, so the same bits.
template <typename KV, int GMAX, bool PF>
__device__ void attention_split(const float* q, const KV* keys, const KV* values, const int* positions, const int* seq,
                                const int* tables, int maxBlocks, int blockSize, float* out, float* pacc, float* pml,
                                int nHeads, int nKvHeads, int headDim, float scale, unsigned short* outH, int halfType,
                                int npad, int window, float softcap) {
    extern __shared__ float smem[];
    int G = nHeads / nKvHeads;
    int t = blockIdx.x / nKvHeads;
    int kvh = blockIdx.x % nKvHeads;
    int split = blockIdx.y;
    int splits = gridDim.y;
    int first = window_start(positions[t], window);
    int ctx = positions[t] + 1 - first; // the positions it sees: first .. positions[t]
    int chunk = split_chunk(ctx, splits);
    if (split * chunk >= ctx) {
        return; // a split past this token's context: the combine does not read it (whole block)
    }
    int start = first + split * chunk;
    int end = first + min(ctx, split * chunk + chunk);
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
    Raw8<KV> nka, nkb, nxa, nxb; // PF: the rows of the round about to be used, loaded during the previous one
    if (PF) {
        int pa = start + warp * P + group;
        nka.clear();
        nkb.clear();
        nxa.clear();
        nxb.clear();
        if (pa < end) {
            nka.load(keys + rowA);
            nxa.load(values + rowA);
        }
        if (pa + R < end) {
            nkb.load(keys + rowB);
            nxb.load(values + rowB);
        }
        rowA = rowOf(pa + 2 * R);
        rowB = rowOf(pa + 3 * R);
    }
    // base is block-uniform, so every lane takes part in the shuffles
    for (int base = start; base < end; base += 2 * R) {
        int pa = base + warp * P + group;
        int pb = pa + R;
        bool va = pa < end;
        bool vb = pb < end;
        float ka[8], kb[8], xa[8], xb[8];
        if (PF) {
            // this round's rows (zero where past the split), then the next round's loads, then the row lookups of the
            // round after it
            nka.to(ka);
            nkb.to(kb);
            nxa.to(xa);
            nxb.to(xb);
            nka.clear();
            nkb.clear();
            nxa.clear();
            nxb.clear();
            if (pa + 2 * R < end) {
                nka.load(keys + rowA);
                nxa.load(values + rowA);
            }
            if (pb + 2 * R < end) {
                nkb.load(keys + rowB);
                nxb.load(values + rowB);
            }
            rowA = rowOf(pa + 4 * R);
            rowB = rowOf(pb + 4 * R);
        } else {
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
        }
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
                    sa = soft_cap(sa * scale, softcap);
                    sb = vb ? soft_cap(sb * scale, softcap) : -INFINITY;
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

#define ATTENTION_SPLIT(NAME, KV, GMAX, PF)                                                                          \
    extern "C" __global__ void __launch_bounds__(32 * SPLIT_WARPS)                                                  \
    NAME(const float* q, const KV* keys, const KV* values, const int* positions, const int* seq, const int* tables, \
         int maxBlocks, int blockSize, float* out, float* pacc, float* pml, int nHeads, int nKvHeads, int headDim,  \
         float scale, unsigned short* outH, int halfType, int npad, int window, float softcap) {                    \
        pdl_enter();                                                                                                \
        attention_split<KV, GMAX, PF>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, out, pacc, pml, \
                                      nHeads, nKvHeads, headDim, scale, outH, halfType, npad, window, softcap);     \
    }

// Every compiled group size over both cache types, with (PF) or without the rows loaded a round ahead.
#define ATTENTION_SPLITS(PREFIX, PF)                          \
    ATTENTION_SPLIT(PREFIX##_f16_g1, unsigned short, 1, PF)   \
    ATTENTION_SPLIT(PREFIX##_f16_g2, unsigned short, 2, PF)   \
    ATTENTION_SPLIT(PREFIX##_f16_g4, unsigned short, 4, PF)   \
    ATTENTION_SPLIT(PREFIX##_f16_g8, unsigned short, 8, PF)   \
    ATTENTION_SPLIT(PREFIX##_f32_g1, float, 1, PF)            \
    ATTENTION_SPLIT(PREFIX##_f32_g2, float, 2, PF)            \
    ATTENTION_SPLIT(PREFIX##_f32_g4, float, 4, PF)            \
    ATTENTION_SPLIT(PREFIX##_f32_g8, float, 8, PF)
ATTENTION_SPLITS(attention_split, false)
ATTENTION_SPLITS(attention_split_pf, true)

// Merges the splits of attention_split: out[t, h, :] = sum_s pacc[t, h, s, :] e^(m_s - M) / sum_s l_s e^(m_s - M)
// over the splits s that hold positions of token t (the same window and split_chunk as the attention blocks).
// With outH, as attention_split with one split: the padded 16-bit copy of out as well (see put_half).
// grid (n * nHeads), block 64 (any multiple of 32).
extern "C" __global__ void attention_split_combine(const int* positions, const float* pacc, const float* pml, float* out,
                                                  int nHeads, int headDim, int splits, unsigned short* outH,
                                                  int halfType, int npad, int window) {
    pdl_enter();
    int t = blockIdx.x / nHeads;
    int ctx = positions[t] + 1 - window_start(positions[t], window);
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

// ---- Tiled prefill attention (FlashAttention-2 style) on tensor cores, F16 keys and values ----
// The split kernel above reads a token's whole context for that token alone: a prefill chunk of c tokens at context
// P reads c * P key/value rows. Here a block takes an *item* of up to TILED_ROWS / G consecutive tokens of one
// sequence (the host cuts a step into items: TiledAttention.plan) and one KV head, so its query rows are
// (token j, query head h of the group) = TILED_ROWS rows, 16 per warp; the block walks the context in tiles of KT
// positions that it copies once into shared memory (cp.async, double-buffered) and every warp uses: the rows read
// per tile are KT instead of KT * tokens. Each warp computes S = Q K^T for its 16 rows with m16n8k16 mma (Q rounded
// to F16 after the 1/sqrt(headDim) scale, float accumulation), masks the positions past each row's own (causal) and,
// in a sliding-window layer, those before its window (tiles before the first row's window are not read),
// keeps an online softmax per row (running max and sum, FA2: the rescale is applied to O as it goes) and adds
// P V with P rounded to F16, the S accumulators reused as the A fragments. Rows of a warp lying wholly before a tile
// skip its arithmetic. Results differ from the split kernel by the F16 roundings of Q and P (TiledAttention: within
// its tolerance, checked at load against the split kernel and in the GPU tests against the CPU).
// F32 caches (attention_tiled_f32_*) are tiled as they are stored, in half the positions per tile, and each fragment
// rounds its keys and values to F16 as it reads them (the tensor cores' input type).
// Requirements (host): headDim 64 (KT 64 for F16 KV, 32 for F32) or 128 (KT 32 / 16), G = nHeads / nKvHeads <= TILED_ROWS.
// items [2 * gridDim.x]: (first token, token count) pairs in token order; grid (items, nKvHeads), block 32 * TILED_WARPS,
// dynamic shared memory 2 stages x (keys + values) x KT rows of headDim + 16 bytes (padded: conflict-free reads).
// outH as in attention_split (the Wo product's padded 16-bit copy; the last item's blocks zero rows n..npad-1).
#define TILED_WARPS 4
#define TILED_ROWS (16 * TILED_WARPS)

__device__ __forceinline__ unsigned pack_f16x2(float lo, float hi) {
    return (unsigned) to_bits(lo, (__half*) 0) | ((unsigned) to_bits(hi, (__half*) 0) << 16);
}

// Two keys or values of a tile row as an F16 pair for a B fragment: consecutive (p, p + 1), or a and b.
__device__ __forceinline__ unsigned kv_pair(const unsigned short* p) { return *(const unsigned*) p; }
__device__ __forceinline__ unsigned kv_pair(const float* p) {
    float2 v = *(const float2*) p;
    return pack_f16x2(v.x, v.y);
}
__device__ __forceinline__ unsigned kv_pair(const unsigned short* a, const unsigned short* b) {
    return (unsigned) *a | ((unsigned) *b << 16);
}
__device__ __forceinline__ unsigned kv_pair(const float* a, const float* b) { return pack_f16x2(*a, *b); }

template <typename KV, int HD, int KT>
__device__ void attention_tiled(const float* q, const KV* keys, const KV* values,
                                const int* positions, const int* seq, const int* tables, int maxBlocks, int blockSize,
                                const int* items, float* out, int n, int nHeads, int nKvHeads, float scale,
                                unsigned short* outH, int halfType, int npad, int window, float softcap) {
    extern __shared__ float tiled_smem[];
    constexpr int PER = 16 / sizeof(KV); // elements per 16-byte piece
    constexpr int LD = HD + PER;         // padded row, in elements (16 bytes more)
    constexpr int PIECES = HD / PER;     // 16-byte pieces per row
    KV* kTile = (KV*) tiled_smem;        // [2][KT][LD]
    KV* vTile = kTile + 2 * KT * LD;     // [2][KT][LD]
    int item = blockIdx.x;
    int kvh = blockIdx.y;
    int t0 = items[2 * item];
    int cnt = items[2 * item + 1];
    int G = nHeads / nKvHeads;
    int rowsUsed = cnt * G;
    int p0 = positions[t0];
    int last = p0 + cnt - 1; // the item's tokens are positions p0 .. last of one sequence
    const int* table = tables + (size_t) seq[t0] * maxBlocks;
    int kvDim = nKvHeads * HD;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int g = lane >> 2;
    int qd = lane & 3;
    int r0 = warp * 16 + g; // this lane's rows: r0 and r0 + 8 of the block (token r / G, head kvh * G + r % G)
    int r1 = r0 + 8;
    bool v0 = r0 < rowsUsed;
    bool v1 = r1 < rowsUsed;
    int pos0 = p0 + r0 / G;
    int pos1 = p0 + r1 / G;
    int warpRows = min(16, rowsUsed - warp * 16);
    int warpLast = warpRows > 0 ? p0 + (warp * 16 + warpRows - 1) / G : -1; // the last position a row of the warp sees
    int lo0 = window_start(pos0, window); // the first position row r0 sees, and row r1
    int lo1 = window_start(pos1, window);
    int warpFirst = window_start(p0 + warp * 16 / G, window); // the first position a row of the warp sees
    int first = window_start(p0, window); // ... and a row of the block

    // Q fragments (A, 16 rows x HD): k step s holds dims 16s + 2qd, +1 (a0 row r0, a1 row r1) and 16s + 8 + 2qd, +1.
    unsigned qa[HD / 16][4];
    const float* q0 = q + ((size_t) (t0 + r0 / G) * nHeads + kvh * G + r0 % G) * HD;
    const float* q1 = q + ((size_t) (t0 + r1 / G) * nHeads + kvh * G + r1 % G) * HD;
#pragma unroll
    for (int s = 0; s < HD / 16; s++) {
        int d = 16 * s + 2 * qd;
        float2 x0 = v0 ? *(const float2*) (q0 + d) : make_float2(0.0f, 0.0f);
        float2 x1 = v1 ? *(const float2*) (q1 + d) : make_float2(0.0f, 0.0f);
        float2 y0 = v0 ? *(const float2*) (q0 + d + 8) : make_float2(0.0f, 0.0f);
        float2 y1 = v1 ? *(const float2*) (q1 + d + 8) : make_float2(0.0f, 0.0f);
        qa[s][0] = pack_f16x2(x0.x * scale, x0.y * scale);
        qa[s][1] = pack_f16x2(x1.x * scale, x1.y * scale);
        qa[s][2] = pack_f16x2(y0.x * scale, y0.y * scale);
        qa[s][3] = pack_f16x2(y1.x * scale, y1.y * scale);
    }

    // keys and values of positions [tile * KT, tile * KT + KT) into stage `stage`; outside first .. last: zeros,
    // nothing read
    auto loadTile = [&](int tile, int stage) {
        for (int c = threadIdx.x; c < KT * PIECES; c += blockDim.x) {
            int row = c / PIECES;
            int piece = c % PIECES;
            int p = tile * KT + row;
            bool valid = p >= first && p <= last;
            size_t src = valid ? (size_t) (table[p / blockSize] * blockSize + p % blockSize) * kvDim + kvh * HD + piece * PER : 0;
            int dst = (stage * KT + row) * LD + piece * PER;
            cp_async16(kTile + dst, keys + src, valid);
            cp_async16(vTile + dst, values + src, valid);
        }
        cp_async_commit();
    };

    float o[HD / 8][4]; // O: dims 8dt + 2qd, +1 of row r0 (0, 1) and row r1 (2, 3)
#pragma unroll
    for (int dt = 0; dt < HD / 8; dt++) {
        o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    }
    float m0 = -INFINITY, m1 = -INFINITY; // running max of rows r0, r1 (the same in the row's 4 lanes)
    float l0 = 0.0f, l1 = 0.0f;           // this lane's part of the running sums
    int tiles = last / KT + 1;
    int kt0 = first / KT; // the first tile holding a position some row sees
    loadTile(kt0, kt0 & 1);
    for (int kt = kt0; kt < tiles; kt++) {
        if (kt + 1 < tiles) {
            loadTile(kt + 1, (kt + 1) & 1); // that stage was last read in iteration kt - 1, before its closing barrier
        } else {
            cp_async_commit(); // an empty group, so that wait<1> below always means "tile kt has landed"
        }
        cp_async_wait<1>();
        __syncthreads();
        int base = kt * KT;
        if (base <= warpLast && base + KT > warpFirst) { // warp-uniform
            const KV* ks = kTile + (kt & 1) * KT * LD;
            const KV* vs = vTile + (kt & 1) * KT * LD;
            float s[KT / 8][4]; // S: positions base + 8nt + 2qd, +1 of rows r0 (0, 1) and r1 (2, 3)
#pragma unroll
            for (int nt = 0; nt < KT / 8; nt++) {
                s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
                for (int st = 0; st < HD / 16; st++) {
                    const KV* kr = ks + (8 * nt + g) * LD + 16 * st + 2 * qd; // B: k = dims, n = positions
                    mma_m16n8k16(s[nt], qa[st][0], qa[st][1], qa[st][2], qa[st][3], kv_pair(kr), kv_pair(kr + 8),
                                 (__half*) 0);
                }
            }
            float mx0 = m0, mx1 = m1;
#pragma unroll
            for (int nt = 0; nt < KT / 8; nt++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    int p = base + 8 * nt + 2 * qd + e;
                    s[nt][e] = soft_cap(s[nt][e], softcap); // (Q came scaled)
                    s[nt][2 + e] = soft_cap(s[nt][2 + e], softcap);
                    if (!v0 || p > pos0 || p < lo0) {
                        s[nt][e] = -INFINITY;
                    }
                    if (!v1 || p > pos1 || p < lo1) {
                        s[nt][2 + e] = -INFINITY;
                    }
                    mx0 = fmaxf(mx0, s[nt][e]);
                    mx1 = fmaxf(mx1, s[nt][2 + e]);
                }
            }
            mx0 = fmaxf(mx0, __shfl_xor_sync(FULL_MASK, mx0, 1));
            mx0 = fmaxf(mx0, __shfl_xor_sync(FULL_MASK, mx0, 2));
            mx1 = fmaxf(mx1, __shfl_xor_sync(FULL_MASK, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(FULL_MASK, mx1, 2));
            // a row with nothing unmasked yet keeps max -inf: no rescale, all its p are 0
            float c0 = mx0 == -INFINITY ? 1.0f : expf(m0 - mx0);
            float c1 = mx1 == -INFINITY ? 1.0f : expf(m1 - mx1);
            l0 *= c0;
            l1 *= c1;
#pragma unroll
            for (int nt = 0; nt < KT / 8; nt++) {
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    s[nt][e] = s[nt][e] == -INFINITY ? 0.0f : expf(s[nt][e] - mx0);
                    s[nt][2 + e] = s[nt][2 + e] == -INFINITY ? 0.0f : expf(s[nt][2 + e] - mx1);
                    l0 += s[nt][e];
                    l1 += s[nt][2 + e];
                }
            }
#pragma unroll
            for (int dt = 0; dt < HD / 8; dt++) {
                o[dt][0] *= c0;
                o[dt][1] *= c0;
                o[dt][2] *= c1;
                o[dt][3] *= c1;
            }
            m0 = mx0;
            m1 = mx1;
            // O += P V: k step kk covers positions 16kk .. 16kk + 15, whose P are S tiles 2kk and 2kk + 1 as they lie
#pragma unroll
            for (int kk = 0; kk < KT / 16; kk++) {
                unsigned a0 = pack_f16x2(s[2 * kk][0], s[2 * kk][1]);
                unsigned a1 = pack_f16x2(s[2 * kk][2], s[2 * kk][3]);
                unsigned a2 = pack_f16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
                unsigned a3 = pack_f16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
                for (int dt = 0; dt < HD / 8; dt++) {
                    const KV* vr = vs + (16 * kk + 2 * qd) * LD + 8 * dt + g; // B: k = positions, n = dims
                    unsigned b0 = kv_pair(vr, vr + LD);
                    unsigned b1 = kv_pair(vr + 8 * LD, vr + 9 * LD);
                    mma_m16n8k16(o[dt], a0, a1, a2, a3, b0, b1, (__half*) 0);
                }
            }
        }
        __syncthreads(); // every warp is done with stage kt & 1 before iteration kt + 1 refills it
    }
    l0 += __shfl_xor_sync(FULL_MASK, l0, 1);
    l0 += __shfl_xor_sync(FULL_MASK, l0, 2);
    l1 += __shfl_xor_sync(FULL_MASK, l1, 1);
    l1 += __shfl_xor_sync(FULL_MASK, l1, 2);
#pragma unroll
    for (int dt = 0; dt < HD / 8; dt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            int d = 8 * dt + 2 * qd + e;
            if (v0) {
                size_t i = ((size_t) (t0 + r0 / G) * nHeads + kvh * G + r0 % G) * HD + d;
                float r = o[dt][e] / l0;
                out[i] = r;
                put_half(outH, halfType, i, r);
            }
            if (v1) {
                size_t i = ((size_t) (t0 + r1 / G) * nHeads + kvh * G + r1 % G) * HD + d;
                float r = o[dt][2 + e] / l1;
                out[i] = r;
                put_half(outH, halfType, i, r);
            }
        }
    }
    if (outH && item == gridDim.x - 1) { // the last item's blocks zero the padding rows of their heads
        for (int i = threadIdx.x; i < (npad - n) * G * HD; i += blockDim.x) {
            int p = n + i / (G * HD);
            outH[((size_t) p * nHeads + kvh * G) * HD + i % (G * HD)] = 0;
        }
    }
}

#define ATTENTION_TILED(NAME, KV, HD, KT, BOUNDS)                                                                    \
    extern "C" __global__ void BOUNDS                                                                               \
    NAME(const float* q, const KV* keys, const KV* values, const int* positions,                                    \
         const int* seq, const int* tables, int maxBlocks, int blockSize, const int* items, float* out, int n,      \
         int nHeads, int nKvHeads, float scale, unsigned short* outH, int halfType, int npad, int window,           \
         float softcap) {                                                                                           \
        pdl_enter();                                                                                                \
        attention_tiled<KV, HD, KT>(q, keys, values, positions, seq, tables, maxBlocks, blockSize, items, out, n,  \
                                    nHeads, nKvHeads, scale, outH, halfType, npad, window, softcap);                \
    }

ATTENTION_TILED(attention_tiled_f16_d64, unsigned short, 64, 64, __launch_bounds__(32 * TILED_WARPS))
ATTENTION_TILED(attention_tiled_f16_d128, unsigned short, 128, 32, __launch_bounds__(32 * TILED_WARPS))
// (left to itself ptxas gives the F32 / 64 kernel 96 registers and spills; 3 blocks an SM are what the others get)
ATTENTION_TILED(attention_tiled_f32_d64, float, 64, 32, __launch_bounds__(32 * TILED_WARPS, 3))
ATTENTION_TILED(attention_tiled_f32_d128, float, 128, 16, __launch_bounds__(32 * TILED_WARPS))
