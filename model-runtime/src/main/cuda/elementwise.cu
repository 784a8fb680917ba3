// Per-token kernels of the Llama forward pass: embedding gather, RMSNorm, RoPE, biases, residual add,
// SwiGLU and the paged KV-cache write. Activations are float; one token's row is contiguous.
#include "common.cuh"
#include "reduce.cuh"

// out[t, :] = E[tokens[t], :]   grid (n), any block size
template <int TYPE>
__device__ void embed(const void* e, const float* scales, const int* tokens, float* out, int dim) {
    int t = blockIdx.x;
    size_t src = (size_t) tokens[t] * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        out[(size_t) t * dim + i] = weight_at<TYPE>(e, scales, src + i);
    }
}

extern "C" __global__ void embed_f32(const void* e, const float* s, const int* tok, float* out, int dim) { embed<WT_F32>(e, s, tok, out, dim); }
extern "C" __global__ void embed_f16(const void* e, const float* s, const int* tok, float* out, int dim) { embed<WT_F16>(e, s, tok, out, dim); }
extern "C" __global__ void embed_bf16(const void* e, const float* s, const int* tok, float* out, int dim) { embed<WT_BF16>(e, s, tok, out, dim); }
extern "C" __global__ void embed_q8_0(const void* e, const float* s, const int* tok, float* out, int dim) { embed<WT_Q8_0>(e, s, tok, out, dim); }
extern "C" __global__ void embed_q4_k(const void* e, const float* s, const int* tok, float* out, int dim) { embed<WT_Q4_K>(e, s, tok, out, dim); }
extern "C" __global__ void embed_q6_k(const void* e, const float* s, const int* tok, float* out, int dim) { embed<WT_Q6_K>(e, s, tok, out, dim); }

// out[r, :] = x[src, :] * w / sqrt(mean(x[src, :]^2) + eps), src = rows ? rows[r] : r.
// grid (outRows), block 256. The scale is computed in double like the CPU backend.
extern "C" __global__ void rmsnorm(const float* x, const int* rows, const float* w, float* out, int dim, float eps) {
    int r = blockIdx.x;
    int src = rows ? rows[r] : r;
    const float* xr = x + (size_t) src * dim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        ss += xr[i] * xr[i];
    }
    ss = block_sum(ss);
    float mean = ss / (float) dim + eps;
    float s = (float) (1.0 / sqrt((double) mean));
    float* o = out + (size_t) r * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        o[i] = w[i] * (s * xr[i]);
    }
}

// Rotates every head of q [n, nHeads * headDim] and k [n, nKvHeads * headDim] by position times each pair's inverse
// frequency; invFreq [headDim] holds (inverse frequency, magnitude) per pair, neox the layout (rope_pair: 0 for
// adjacent pairs, else half the rotated width). grid (n), block 128.
extern "C" __global__ void rope(float* q, float* k, const int* positions, const float* invFreq,
                                int nHeads, int nKvHeads, int headDim, int neox) {
    int t = blockIdx.x;
    int half = headDim / 2;
    float pos = (float) positions[t];
    float* qt = q + (size_t) t * nHeads * headDim;
    float* kt = k + (size_t) t * nKvHeads * headDim;
    int total = (nHeads + nKvHeads) * half;
    for (int j = threadIdx.x; j < total; j += blockDim.x) {
        int head = j / half;
        int i = j % half;
        float2 cs = rope_cos_sin(invFreq, i, pos);
        float* base = head < nHeads ? qt + head * headDim : kt + (head - nHeads) * headDim;
        int2 ab = rope_pair(i, neox);
        float2 y = rope_rotate(base[ab.x], base[ab.y], cs.x, cs.y);
        base[ab.x] = y.x;
        base[ab.y] = y.y;
    }
}

// x *= s over count floats (Gemma's embedding scale, sqrt(dim): the CPU's VectorMath.scale, the same products).
extern "C" __global__ void scale_inplace(float* x, float s, int count) {
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (size_t) count; i += (size_t) gridDim.x * blockDim.x) {
        x[i] *= s;
    }
}

// x = cap * tanh(x / cap) over count floats (Gemma 2's final soft cap on the logits: the CPU's float quotient, tanh in
// double).
extern "C" __global__ void softcap_inplace(float* x, float cap, int count) {
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (size_t) count; i += (size_t) gridDim.x * blockDim.x) {
        x[i] = cap * (float) tanh((double) (x[i] / cap));
    }
}

// gate = gelu(gate) * up over count floats (Gemma's GeGLU): GELU in its tanh approximation, 0.5 x (1 + tanh(u)) with
// u = sqrt(2/pi) (x + 0.044715 x^3), as x / (1 + exp(-2u)), the CPU's VectorMath.geglu formula and float constants
// (-2 sqrt(2/pi) and -2 sqrt(2/pi) 0.044715), exp in double.
extern "C" __global__ void geglu(float* gate, const float* up, int count) {
    const float linear = -0x1.988454p+0f;
    const float cubic = -0x1.2444f2p-4f;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (size_t) count; i += (size_t) gridDim.x * blockDim.x) {
        float g = gate[i];
        float minus2u = __fmul_rn(g, __fmaf_rn(__fmul_rn(g, g), cubic, linear));
        gate[i] = g / (1.0f + (float) exp((double) minus2u)) * up[i];
    }
}

// x[t, i] += bias[i] for x [n, d]; grid-stride over n * d.
extern "C" __global__ void add_bias(float* x, const float* bias, int n, int d) {
    size_t total = (size_t) n * d;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        x[i] += bias[i % d];
    }
}

// x += y over count floats (residual connection).
extern "C" __global__ void add_inplace(float* x, const float* y, int count) {
    pdl_enter();
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (size_t) count; i += (size_t) gridDim.x * blockDim.x) {
        x[i] += y[i];
    }
}

// gate = silu(gate) * up over count floats.
extern "C" __global__ void swiglu(float* gate, const float* up, int count) {
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (size_t) count; i += (size_t) gridDim.x * blockDim.x) {
        float g = gate[i];
        gate[i] = swiglu_value(g, up[i]);
    }
}

// Writes token t's keys and values [kvDim] into cache slot slots[t] of one layer's pools.
// grid (n), block 128.
extern "C" __global__ void kv_store_f32(const float* k, const float* v, const int* slots, float* keys, float* values, int kvDim) {
    int t = blockIdx.x;
    size_t dst = (size_t) slots[t] * kvDim;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        keys[dst + i] = k[(size_t) t * kvDim + i];
        values[dst + i] = v[(size_t) t * kvDim + i];
    }
}

extern "C" __global__ void kv_store_f16(const float* k, const float* v, const int* slots, unsigned short* keys, unsigned short* values, int kvDim) {
    int t = blockIdx.x;
    size_t dst = (size_t) slots[t] * kvDim;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        keys[dst + i] = __half_as_ushort(__float2half_rn(k[(size_t) t * kvDim + i]));
        values[dst + i] = __half_as_ushort(__float2half_rn(v[(size_t) t * kvDim + i]));
    }
}

// Residual add fused with the next RMSNorm: x[r, :] += y[r, :], then out[r, :] = rmsnorm(x[r, :]) * w (the same
// arithmetic as add_inplace followed by rmsnorm). grid (n), block 256.
extern "C" __global__ void add_rmsnorm(float* x, const float* y, const float* w, float* out, int dim, float eps) {
    int r = blockIdx.x;
    float* xr = x + (size_t) r * dim;
    const float* yr = y + (size_t) r * dim;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = xr[i] + yr[i];
        xr[i] = v;
        ss += v * v;
    }
    ss = block_sum(ss);
    float mean = ss / (float) dim + eps;
    float s = (float) (1.0 / sqrt((double) mean));
    float* o = out + (size_t) r * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        o[i] = w[i] * (s * xr[i]); // the element this thread wrote above
    }
}

// rope followed by kv_store in one launch: rotates q and k of token t, then writes its k and v into cache slot
// slots[t]. grid (n), block 128; headDim <= 2 * ROPE_MAX_HALF (the model allows head sizes up to 256).
#define ROPE_MAX_HALF 128
// store_kv: reduce.cuh

// The pairs of one thread per round: their loads are all issued before any store (stores to q/k could alias the
// next pairs' loads as far as the compiler knows, which serialised one global round trip per pair: 10 us per layer
// for 64 tokens on an H200 in run 5).
#define ROPE_UNROLL 8

template <typename KV>
__device__ void rope_kv_store(float* q, float* k, const float* v, const int* positions, const float* invFreq,
                              int nHeads, int nKvHeads, int headDim, int neox, const int* slots, KV* keys, KV* values) {
    // cos and sin of the head's half angles, computed once per token instead of once per (head, pair): the same
    // double-precision values as before (and as `rope`), 40x fewer of them for Llama-3.2-1B (32 + 8 heads)
    __shared__ float cosines[ROPE_MAX_HALF];
    __shared__ float sines[ROPE_MAX_HALF];
    int t = blockIdx.x;
    int half = headDim / 2;
    float pos = (float) positions[t];
    int kvDim = nKvHeads * headDim;
    float* qt = q + (size_t) t * nHeads * headDim;
    float* kt = k + (size_t) t * kvDim;
    size_t dst = (size_t) slots[t] * kvDim;
    // values need no rotation: stored first, their loads overlap the sines below
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        store_kv(values + dst + i, v[(size_t) t * kvDim + i]);
    }
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float2 cs = rope_cos_sin(invFreq, i, pos);
        cosines[i] = cs.x;
        sines[i] = cs.y;
    }
    __syncthreads();
    int total = (nHeads + nKvHeads) * half;
    for (int j0 = threadIdx.x; j0 < total; j0 += ROPE_UNROLL * blockDim.x) {
        float x0[ROPE_UNROLL];
        float x1[ROPE_UNROLL];
#pragma unroll
        for (int u = 0; u < ROPE_UNROLL; u++) {
            int j = j0 + u * blockDim.x;
            if (j < total) {
                int head = j / half;
                int i = j % half;
                const float* base = head < nHeads ? qt + head * headDim : kt + (head - nHeads) * headDim;
                int2 ab = rope_pair(i, neox);
                x0[u] = base[ab.x];
                x1[u] = base[ab.y];
            }
        }
#pragma unroll
        for (int u = 0; u < ROPE_UNROLL; u++) {
            int j = j0 + u * blockDim.x;
            if (j < total) {
                int head = j / half;
                int i = j % half;
                int2 ab = rope_pair(i, neox);
                int a = ab.x;
                int b = ab.y;
                float2 y = rope_rotate(x0[u], x1[u], cosines[i], sines[i]);
                float y0 = y.x;
                float y1 = y.y;
                if (head < nHeads) {
                    float* base = qt + head * headDim;
                    base[a] = y0;
                    base[b] = y1;
                } else {
                    int kh = (head - nHeads) * headDim;
                    kt[kh + a] = y0; // the rotated key stays in k as well, as before
                    kt[kh + b] = y1;
                    store_kv(keys + dst + kh + a, y0);
                    store_kv(keys + dst + kh + b, y1);
                }
            }
        }
    }
}

extern "C" __global__ void rope_kv_store_f32(float* q, float* k, const float* v, const int* positions, const float* invFreq,
                                             int nHeads, int nKvHeads, int headDim, int neox, const int* slots,
                                             float* keys, float* values) {
    pdl_enter();
    rope_kv_store<float>(q, k, v, positions, invFreq, nHeads, nKvHeads, headDim, neox, slots, keys, values);
}

extern "C" __global__ void rope_kv_store_f16(float* q, float* k, const float* v, const int* positions, const float* invFreq,
                                             int nHeads, int nKvHeads, int headDim, int neox, const int* slots,
                                             unsigned short* keys, unsigned short* values) {
    pdl_enter();
    rope_kv_store<unsigned short>(q, k, v, positions, invFreq, nHeads, nKvHeads, headDim, neox, slots, keys, values);
}

// ---- The grouped Q/K/V product's split-K reduction, biases, RoPE and the KV write in one launch ----
// splitk_reduce_group + add_bias (x3, when the model has biases) + rope_kv_store with the same arithmetic in the same
// order (splitk_sum, one float add of the bias, rope_rotate of the same double-precision cosines and sines), so bit for
// bit their results: q and k rotated, v as summed, and the token's rotated key and its value in cache slot slots[t].
// Thread j of token t owns the pair j of the flattened (head, i) space of the Q, then K, then V heads: the two
// elements of a RoPE pair (common.cuh's rope_pair), summed over the splits, rotated (Q, K) and
// stored. grid (n, ceil((nHeads + 2 nKvHeads) * headDim / 2 / 256)), block 256; part as matmul_stream_group leaves
// it for (Wq, Wk, Wv): [splits0, npad, qDim], then [splits1, npad, kvDim], then [splits2, npad, kvDim].
template <typename KV>
__device__ __forceinline__ void splitk_reduce_rope_kv(const float* part, float* q, float* k, float* v, const float* bq,
                                                      const float* bk, const float* bv, const int* positions,
                                                      const float* invFreq, const int* slots, KV* keys, KV* values,
                                                      int npad, int nHeads, int nKvHeads, int headDim, int neox,
                                                      int splits0, int splits1, int splits2) {
    int t = blockIdx.x;
    int half = headDim / 2;
    int j = blockIdx.y * blockDim.x + threadIdx.x;
    if (j >= (nHeads + 2 * nKvHeads) * half) {
        return;
    }
    int head = j / half;
    int qDim = nHeads * headDim;
    int kvDim = nKvHeads * headDim;
    const float* pk = part + (size_t) splits0 * npad * qDim;
    const float* pv = pk + (size_t) splits1 * npad * kvDim;
    if (head < nHeads) {
        rope_kv_pair<KV>(part, npad, qDim, splits0, bq, q, nullptr, 0, head, j % half, t, headDim, neox, positions,
                                invFreq, slots);
    } else if (head < nHeads + nKvHeads) {
        rope_kv_pair<KV>(pk, npad, kvDim, splits1, bk, k, keys, 1, head - nHeads, j % half, t, headDim, neox,
                                positions, invFreq, slots);
    } else {
        rope_kv_pair<KV>(pv, npad, kvDim, splits2, bv, v, values, 2, head - nHeads - nKvHeads, j % half, t, headDim,
                                neox, positions, invFreq, slots);
    }
}

#define REDUCE_ROPE_KV_ARGS(KV) const float* part, float* q, float* k, float* v, const float* bq, const float* bk, \
    const float* bv, const int* positions, const float* invFreq, const int* slots, KV* keys, KV* values, int npad, \
    int nHeads, int nKvHeads, int headDim, int neox, int splits0, int splits1, int splits2
#define REDUCE_ROPE_KV_PASS part, q, k, v, bq, bk, bv, positions, invFreq, slots, keys, values, npad, nHeads, nKvHeads, \
    headDim, neox, splits0, splits1, splits2
extern "C" __global__ void __launch_bounds__(256) splitk_reduce_rope_kv_f32(REDUCE_ROPE_KV_ARGS(float)) {
    pdl_enter();
    splitk_reduce_rope_kv<float>(REDUCE_ROPE_KV_PASS);
}
extern "C" __global__ void __launch_bounds__(256) splitk_reduce_rope_kv_f16(REDUCE_ROPE_KV_ARGS(unsigned short)) {
    pdl_enter();
    splitk_reduce_rope_kv<unsigned short>(REDUCE_ROPE_KV_PASS);
}

// ---- Vectorised RMSNorm (dim % 4 == 0, dim <= 4 * NORM_THREADS * NORM_VEC) ----
// One block of NORM_THREADS per row, like rmsnorm / add_rmsnorm, but every thread loads its (at most NORM_VEC)
// float4 pieces of the row once, keeps them in registers across the block sum, and writes float4s: one round of
// 16-byte loads per row instead of a strided scalar loop that reads the row twice. Same formula (scale in double);
// only the order of the sum of squares differs.
#define NORM_THREADS 256
#define NORM_VEC 4

__device__ __forceinline__ float4 norm_scale(float4 w, float s, float4 v) {
    return make_float4(w.x * (s * v.x), w.y * (s * v.y), w.z * (s * v.z), w.w * (s * v.w));
}

// Where a vector norm also writes its output: nowhere else (NoHalves), or rounded to T into the row of the 16-bit
// padded activations xh [npad, dim] that the next streaming product reads (Halves<T>): the rounding to_half_padded
// (matmul.cu) applies to the same floats, so bit for bit its output without its launch.
struct NoHalves {
    __device__ void put(int, float4) const {}
};
template <typename T>
struct Halves {
    ushort4* row; // this block's row of xh
    __device__ void put(int i, float4 v) const {
        row[i] = make_ushort4(to_bits(v.x, (T*) 0), to_bits(v.y, (T*) 0), to_bits(v.z, (T*) 0), to_bits(v.w, (T*) 0));
    }
};

// The second half of every vector norm: the block's sum of squares gives the scale, then out = w · v · s for
// the float4 pieces v this thread holds (and h gets the same pieces).
template <typename H>
__device__ __forceinline__ void norm_finish(const float4 (&v)[NORM_VEC], float ss, int dim, float eps,
                                            const float4* w4, float4* o, int n4, H h) {
    ss = block_sum(ss);
    float mean = ss / (float) dim + eps;
    float s = (float) (1.0 / sqrt((double) mean));
#pragma unroll
    for (int j = 0; j < NORM_VEC; j++) {
        int i = threadIdx.x + j * NORM_THREADS;
        if (i < n4) {
            float4 r = norm_scale(w4[i], s, v[j]);
            o[i] = r;
            h.put(i, r);
        }
    }
}

// out[r, :] = x[src, :] * w / sqrt(mean(x[src, :]^2) + eps), src = rows ? rows[r] : r (r = blockIdx.x).
template <typename H>
__device__ __forceinline__ void rmsnorm_row(const float* x, const int* rows, const float* w, float* out, int dim,
                                            float eps, H h) {
    int r = blockIdx.x;
    int src = rows ? rows[r] : r;
    const float4* xr = (const float4*) (x + (size_t) src * dim);
    const float4* w4 = (const float4*) w;
    float4* o = (float4*) (out + (size_t) r * dim);
    int n4 = dim >> 2;
    float4 v[NORM_VEC];
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < NORM_VEC; j++) {
        int i = threadIdx.x + j * NORM_THREADS;
        v[j] = i < n4 ? xr[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
    }
    norm_finish(v, ss, dim, eps, w4, o, n4, h);
}

// grid (outRows), block NORM_THREADS.
extern "C" __global__ void __launch_bounds__(NORM_THREADS)
rmsnorm_vec(const float* x, const int* rows, const float* w, float* out, int dim, float eps) {
    rmsnorm_row(x, rows, w, out, dim, eps, NoHalves {});
}

// x[r, :] += y, then out[r, :] = rmsnorm(x[r, :]) * w, with this thread's pieces of the row's y (float4s
// threadIdx.x + j * NORM_THREADS) loaded by Y: the body of add_rmsnorm_vec and add_rmsnorm_splitk_vec.
template <typename Y, typename H>
__device__ __forceinline__ void add_rmsnorm_row(float* x, Y y, const float* w, float* out, int dim, float eps, H h) {
    int r = blockIdx.x;
    float4* xr = (float4*) (x + (size_t) r * dim);
    const float4* w4 = (const float4*) w;
    float4* o = (float4*) (out + (size_t) r * dim);
    int n4 = dim >> 2;
    float4 b[NORM_VEC];
    y.pieces(b, n4);
    float4 v[NORM_VEC];
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < NORM_VEC; j++) {
        int i = threadIdx.x + j * NORM_THREADS;
        v[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (i < n4) {
            float4 a = xr[i];
            v[j] = make_float4(a.x + b[j].x, a.y + b[j].y, a.z + b[j].z, a.w + b[j].w);
            xr[i] = v[j];
        }
        ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
    }
    norm_finish(v, ss, dim, eps, w4, o, n4, h);
}

// y's pieces from a row of y itself.
struct RowPieces {
    const float4* row;
    __device__ void pieces(float4 (&b)[NORM_VEC], int n4) const {
#pragma unroll
        for (int j = 0; j < NORM_VEC; j++) {
            int i = threadIdx.x + j * NORM_THREADS;
            b[j] = i < n4 ? row[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
    }
};

// y's pieces as the sum of matmul_stream's split-K partial sums, in split order (as splitk_reduce sums them). Splits
// outermost, SPLITS_IN_FLIGHT at a time: the thread's loads of those splits are in flight together (one split of one
// piece at a time left a ~0.5 us L2 round trip per split and piece: the fused norm measured slower than the reduction
// it saves; two at a time, Wo's and down's 8 splits still took four round trips, now two).
#define SPLITS_IN_FLIGHT 4
struct SplitPieces {
    const float4* row; // split 0's row
    size_t stride4;    // float4s from one split to the next: npad * dim / 4
    int splits;
    __device__ void pieces(float4 (&b)[NORM_VEC], int n4) const {
#pragma unroll
        for (int j = 0; j < NORM_VEC; j++) {
            b[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
        for (int sp = 0; sp < splits; sp += SPLITS_IN_FLIGHT) {
            float4 p[SPLITS_IN_FLIGHT][NORM_VEC];
#pragma unroll
            for (int u = 0; u < SPLITS_IN_FLIGHT; u++) {
#pragma unroll
                for (int j = 0; j < NORM_VEC; j++) {
                    int i = threadIdx.x + j * NORM_THREADS;
                    p[u][j] = i < n4 && sp + u < splits ? row[(sp + u) * stride4 + i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                }
            }
#pragma unroll
            for (int u = 0; u < SPLITS_IN_FLIGHT; u++) {
                if (sp + u < splits) { // in order: a missing split adds nothing, not even +0 to a -0
#pragma unroll
                    for (int j = 0; j < NORM_VEC; j++) {
                        b[j] = make_float4(b[j].x + p[u][j].x, b[j].y + p[u][j].y, b[j].z + p[u][j].z,
                                           b[j].w + p[u][j].w);
                    }
                }
            }
        }
    }
};

// x[r, :] += y[r, :], then out[r, :] = rmsnorm(x[r, :]) * w; out may be y (each thread reads its y pieces before
// the block sum and writes the same pieces after it). grid (n), block NORM_THREADS.
extern "C" __global__ void __launch_bounds__(NORM_THREADS)
add_rmsnorm_vec(float* x, const float* y, const float* w, float* out, int dim, float eps) {
    add_rmsnorm_row(x, RowPieces {(const float4*) (y + (size_t) blockIdx.x * dim)}, w, out, dim, eps, NoHalves {});
}

// add_rmsnorm_vec with y still as the split-K partial sums of matmul_stream, part [splits, npad, dim]: y is summed
// in split order exactly as splitk_reduce sums it, so this is bit for bit splitk_reduce + add_rmsnorm_vec in one
// launch, without y's round trip (the Wo and down products of each layer). grid (n), block NORM_THREADS.
extern "C" __global__ void __launch_bounds__(NORM_THREADS)
add_rmsnorm_splitk_vec(float* x, const float* part, int splits, int npad, const float* w, float* out, int dim, float eps) {
    SplitPieces y {(const float4*) (part + (size_t) blockIdx.x * dim), (size_t) npad * (dim >> 2), splits};
    add_rmsnorm_row(x, y, w, out, dim, eps, NoHalves {});
}

// ---- The vector norms that also write the next streaming product's activations (the _h_bf16 / _h_f16 kernels) ----
// Each is its norm above plus, in the same pass, xh [npad, dim] = out rounded to T with rows n..npad-1 zero: bit for
// bit the norm followed by to_half_padded (matmul.cu), one launch instead of two. grid (npad): blocks n..npad-1 only
// zero their row of xh. The host launches them only where the next product is matmul_stream and reads xh as it is.

// Row r of xh, 8-byte pieces (dim % 4 == 0 for the vector norms).
__device__ __forceinline__ ushort4* half_row(unsigned short* xh, int r, int dim) {
    return (ushort4*) (xh + (size_t) r * dim);
}

__device__ __forceinline__ void zero_half_row(unsigned short* xh, int r, int dim) {
    ushort4* row = half_row(xh, r, dim);
    for (int i = threadIdx.x; i < (dim >> 2); i += blockDim.x) {
        row[i] = make_ushort4(0, 0, 0, 0);
    }
}

#define NORM_HALVES_KERNELS(T, SUFFIX)                                                                                 \
    extern "C" __global__ void __launch_bounds__(NORM_THREADS) rmsnorm_vec_h_##SUFFIX(                                   \
        const float* x, const int* rows, const float* w, float* out, unsigned short* xh, int n, int dim, float eps) {      \
        pdl_enter();                                                                                                   \
        if (blockIdx.x >= n) {                                                                                         \
            zero_half_row(xh, blockIdx.x, dim);                                                                        \
            return; /* block-uniform, before any barrier */                                                            \
        }                                                                                                              \
        rmsnorm_row(x, rows, w, out, dim, eps, Halves<T> {half_row(xh, blockIdx.x, dim)});                             \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(NORM_THREADS) add_rmsnorm_vec_h_##SUFFIX(                               \
        float* x, const float* y, const float* w, float* out, unsigned short* xh, int n, int dim, float eps) {           \
        pdl_enter();                                                                                                   \
        if (blockIdx.x >= n) {                                                                                         \
            zero_half_row(xh, blockIdx.x, dim);                                                                        \
            return;                                                                                                    \
        }                                                                                                              \
        add_rmsnorm_row(x, RowPieces {(const float4*) (y + (size_t) blockIdx.x * dim)}, w, out, dim, eps,              \
                        Halves<T> {half_row(xh, blockIdx.x, dim)});                                                    \
    }                                                                                                                  \
    extern "C" __global__ void __launch_bounds__(NORM_THREADS) add_rmsnorm_splitk_vec_h_##SUFFIX(                        \
        float* x, const float* part, int splits, int npad, const float* w, float* out, unsigned short* xh, int n,      \
        int dim, float eps) {                                                                                          \
        pdl_enter();                                                                                                   \
        if (blockIdx.x >= n) {                                                                                         \
            zero_half_row(xh, blockIdx.x, dim);                                                                        \
            return;                                                                                                    \
        }                                                                                                              \
        SplitPieces y {(const float4*) (part + (size_t) blockIdx.x * dim), (size_t) npad * (dim >> 2), splits};       \
        add_rmsnorm_row(x, y, w, out, dim, eps, Halves<T> {half_row(xh, blockIdx.x, dim)});                            \
    }

NORM_HALVES_KERNELS(__nv_bfloat16, bf16)
NORM_HALVES_KERNELS(__half, f16)
