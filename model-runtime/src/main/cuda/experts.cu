// A mixture-of-experts feed-forward block on the device (Mixtral, Qwen2-MoE, Qwen3-MoE, Granite MoE), the CPU's
// ExpertFeedForward step by step: the router's scores (a plain product, outside this module) -> moe_route (softmax,
// each token's top-k, their weights) -> moe_group (the slots t*used + j sorted by expert) -> moe_gate_up and
// moe_down (each expert over the tokens that chose it, so its weights are read once per 8 of them, not once per
// token; or moe_mma_*, the same on tensor cores, where experts serve many tokens) -> moe_combine (each token's
// weighted sum, in the order it chose its experts). Nothing goes back to the host: the expert kernels read the
// grouping from device memory, so a step is one CUDA graph as for a dense model.
// Expert weights: one [count, rows, cols] row-major stack per role, 16-bit or quantized planes (moe_quant_*, with
// their scales); rows and cols multiples of 8.
#include "common.cuh"
#include "reduce.cuh"
#include <mma.h>

#define MOE_TOKENS 8 // slots a warp serves per pass over its weight row (registers: 2 x 8 accumulators)

__device__ __forceinline__ float moe_bits(unsigned short h, __half*) { return f16_bits_to_f32(h); }
__device__ __forceinline__ float moe_bits(unsigned short h, __nv_bfloat16*) { return bf16_bits_to_f32(h); }

// Router scores probs [n, count] -> probabilities (in place), chosen [n, used] and weights [n, used], as the CPU's
// ExpertFeedForward.route: softmax with exp and the sum in double, the most probable first (the lower index on a tie),
// divided by their sum where the model normalizes, times weightsScale. One thread per token: count is small.
// grid (ceil(n / 64)), block 64.
extern "C" __global__ void moe_route(float* probs, int n, int count, int used, int normalize, float weightsScale,
                                     int* chosen, float* weights) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n) {
        return;
    }
    float* p = probs + (size_t) t * count;
    int* c = chosen + (size_t) t * used;
    float* w = weights + (size_t) t * used;
    float mx = -INFINITY;
    for (int e = 0; e < count; e++) {
        mx = fmaxf(mx, p[e]);
    }
    double z = 0;
    for (int e = 0; e < count; e++) {
        double v = exp((double) (p[e] - mx));
        p[e] = (float) v;
        z += v;
    }
    for (int e = 0; e < count; e++) {
        p[e] = (float) ((double) p[e] / z);
    }
    double sum = 0;
    for (int j = 0; j < used; j++) {
        int best = -1;
        for (int e = 0; e < count; e++) {
            bool taken = false;
            for (int i = 0; i < j; i++) {
                taken |= c[i] == e;
            }
            if (!taken && (best < 0 || p[e] > p[best])) {
                best = e;
            }
        }
        c[j] = best;
        w[j] = p[best];
        sum += p[best];
    }
    for (int j = 0; j < used; j++) {
        float v = normalize ? (float) ((double) w[j] / sum) : w[j];
        w[j] = v * weightsScale;
    }
}

// The slots s = t*used + j grouped by expert: order [slots] holds expert 0's slots, then expert 1's..., each
// expert's in slot order (a stable counting sort, as the CPU's ExpertFeedForward.group); first [count + 1] where
// each expert's run starts. One warp, 32 slots a round: a slot's place is its expert's next free entry plus the
// lanes below it that chose the same expert (__match_any_sync), so no thread reads every slot (a prefill chunk of a
// 128-expert model has thousands). Deterministic, no atomics. grid (1), block 32; count <= MOE_MAX_EXPERTS.
#define MOE_MAX_EXPERTS 1024 // moe_group's counters in shared memory (DeviceSupport refuses more experts)
extern "C" __global__ void moe_group(const int* chosen, int slots, int count, int* order, int* first) {
    __shared__ int next[MOE_MAX_EXPERTS]; // per expert: its slots counted, then where its next slot goes
    int lane = threadIdx.x;
    unsigned below = (1u << lane) - 1; // the lanes under this one
    for (int e = lane; e < count; e += 32) {
        next[e] = 0;
    }
    __syncwarp();
    for (int s0 = 0; s0 < slots; s0 += 32) { // count: the lowest lane of each expert's peers adds them
        int e = s0 + lane < slots ? chosen[s0 + lane] : -1;
        unsigned peers = __match_any_sync(0xffffffffu, e);
        if (e >= 0 && (peers & below) == 0) {
            next[e] += __popc(peers);
        }
        __syncwarp();
    }
    if (lane == 0) {
        int at = 0;
        for (int e = 0; e < count; e++) {
            int c = next[e];
            first[e] = at;
            next[e] = at;
            at += c;
        }
        first[count] = at;
    }
    __syncwarp();
    for (int s0 = 0; s0 < slots; s0 += 32) { // place: every peer reads next[e] before the lowest one moves it on
        int e = s0 + lane < slots ? chosen[s0 + lane] : -1;
        unsigned peers = __match_any_sync(0xffffffffu, e);
        if (e >= 0) {
            order[next[e] + __popc(peers & below)] = s0 + lane;
        }
        __syncwarp();
        if (e >= 0 && (peers & below) == 0) {
            next[e] += __popc(peers);
        }
        __syncwarp();
    }
}

// The m <= MOE_TOKENS sums of each lane, summed over the warp (m is warp-uniform).
template <int PAIR>
__device__ __forceinline__ void warp_sums(int m, float* acc0, float* acc1) {
#pragma unroll
    for (int i = 0; i < MOE_TOKENS; i++) {
        if (i < m) {
            acc0[i] = warp_sum(acc0[i]);
            if (PAIR) {
                acc1[i] = warp_sum(acc1[i]);
            }
        }
    }
}

// One warp's dot products of a weight row with the m <= MOE_TOKENS input rows in[i] (float), each summed over the
// warp: every lane returns them in acc0 (and, with PAIR, the second row's in acc1). The row is element base of the
// stack w0 (w1): expert e's row r of [count, rows, cols] is at (e·rows + r)·cols. Two ways to read it:
// 16-bit rows in 16-byte loads (cols a multiple of 8)...
template <typename T>
struct HalfRows {
    template <int PAIR>
    static __device__ __forceinline__ void dot(const void* w0, const float*, const void* w1, const float*, size_t base,
                                               const float* const* in, int m, int cols, float* acc0, float* acc1) {
        int lane = threadIdx.x & 31;
#pragma unroll
        for (int i = 0; i < MOE_TOKENS; i++) {
            acc0[i] = 0.0f;
            acc1[i] = 0.0f;
        }
        const uint4* r0 = (const uint4*) ((const unsigned short*) w0 + base);
        const uint4* r1 = PAIR ? (const uint4*) ((const unsigned short*) w1 + base) : nullptr;
        int chunks = cols >> 3;
        for (int c8 = lane; c8 < chunks; c8 += 32) {
            float a[8];
            float b[8];
            uint4 u = r0[c8];
            const unsigned short* h = (const unsigned short*) &u;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                a[j] = moe_bits(h[j], (T*) 0);
            }
            if (PAIR) {
                uint4 v = r1[c8];
                const unsigned short* g = (const unsigned short*) &v;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    b[j] = moe_bits(g[j], (T*) 0);
                }
            }
#pragma unroll
            for (int i = 0; i < MOE_TOKENS; i++) {
                if (i < m) {
                    const float4* xr = (const float4*) (in[i] + (size_t) c8 * 8);
                    float4 x0 = xr[0];
                    float4 x1 = xr[1];
                    acc0[i] += a[0] * x0.x + a[1] * x0.y + a[2] * x0.z + a[3] * x0.w
                             + a[4] * x1.x + a[5] * x1.y + a[6] * x1.z + a[7] * x1.w;
                    if (PAIR) {
                        acc1[i] += b[0] * x0.x + b[1] * x0.y + b[2] * x0.z + b[3] * x0.w
                                 + b[4] * x1.x + b[5] * x1.y + b[6] * x1.z + b[7] * x1.w;
                    }
                }
            }
        }
        warp_sums<PAIR>(m, acc0, acc1);
    }
};

// ...or the quantized planes as the CPU holds them (Q8_0, Q4_K, Q6_K: common.cuh weight_at, with their scales s0, s1):
// each lane takes every 32nd weight (a warp reads consecutive bytes) and decodes it to the CPU's float bits.
template <int TYPE>
struct QuantRows {
    template <int PAIR>
    static __device__ __forceinline__ void dot(const void* w0, const float* s0, const void* w1, const float* s1, size_t base,
                                               const float* const* in, int m, int cols, float* acc0, float* acc1) {
#pragma unroll
        for (int i = 0; i < MOE_TOKENS; i++) {
            acc0[i] = 0.0f;
            acc1[i] = 0.0f;
        }
        for (int c = threadIdx.x & 31; c < cols; c += 32) {
            float a = weight_at<TYPE>(w0, s0, base + c);
            float b = PAIR ? weight_at<TYPE>(w1, s1, base + c) : 0.0f;
#pragma unroll
            for (int i = 0; i < MOE_TOKENS; i++) {
                if (i < m) {
                    float x = in[i][c];
                    acc0[i] += a * x;
                    if (PAIR) {
                        acc1[i] += b * x;
                    }
                }
            }
        }
        warp_sums<PAIR>(m, acc0, acc1);
    }
};

// h [slots, hidden]: h[s, r] = silu(gate_e[r] . x[s / used]) * (up_e[r] . x[s / used]) for each slot s routed to
// expert e = blockIdx.y; a warp per row r, the expert's slots MOE_TOKENS at a time. gate, up [count, hidden, dim] read
// by Rows (with their scales where quantized); x [n, dim]. grid (ceil(hidden / 8), count), block 256 (an expert no
// token chose returns at once).
template <typename Rows>
__device__ void moe_gate_up(const void* gate, const float* gateScales, const void* up, const float* upScales, const float* x,
                            const int* order, const int* first, int used, int dim, int hidden, float* h) {
    int e = blockIdx.y;
    int begin = first[e];
    int end = first[e + 1];
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (begin == end || row >= hidden) { // warp-uniform; no barriers below
        return;
    }
    size_t base = ((size_t) e * hidden + row) * dim;
    float g[MOE_TOKENS];
    float u[MOE_TOKENS];
    const float* in[MOE_TOKENS];
    for (int s0 = begin; s0 < end; s0 += MOE_TOKENS) {
        int m = min(MOE_TOKENS, end - s0);
#pragma unroll
        for (int i = 0; i < MOE_TOKENS; i++) {
            in[i] = x + (size_t) (i < m ? order[s0 + i] / used : 0) * dim;
        }
        Rows::template dot<1>(gate, gateScales, up, upScales, base, in, m, dim, g, u);
        if ((threadIdx.x & 31) == 0) {
            for (int i = 0; i < m; i++) {
                h[(size_t) order[s0 + i] * hidden + row] = swiglu_value(g[i], u[i]);
            }
        }
    }
}

// out [slots, dim]: out[s, r] = down_e[r] . h[s] for each slot s routed to expert e = blockIdx.y. down [count, dim,
// hidden]. grid (ceil(dim / 8), count), block 256.
template <typename Rows>
__device__ void moe_down(const void* down, const float* downScales, const float* h, const int* order, const int* first,
                         int dim, int hidden, float* out) {
    int e = blockIdx.y;
    int begin = first[e];
    int end = first[e + 1];
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (begin == end || row >= dim) {
        return;
    }
    size_t base = ((size_t) e * dim + row) * hidden;
    float acc[MOE_TOKENS];
    float unused[MOE_TOKENS];
    const float* in[MOE_TOKENS];
    for (int s0 = begin; s0 < end; s0 += MOE_TOKENS) {
        int m = min(MOE_TOKENS, end - s0);
#pragma unroll
        for (int i = 0; i < MOE_TOKENS; i++) {
            in[i] = h + (size_t) (i < m ? order[s0 + i] : order[s0]) * hidden;
        }
        Rows::template dot<0>(down, downScales, nullptr, nullptr, base, in, m, hidden, acc, unused);
        if ((threadIdx.x & 31) == 0) {
            for (int i = 0; i < m; i++) {
                out[(size_t) order[s0 + i] * dim + row] = acc[i];
            }
        }
    }
}

extern "C" __global__ void moe_gate_up_f16(const unsigned short* gate, const unsigned short* up, const float* x, const int* order,
                                           const int* first, int used, int dim, int hidden, float* h) {
    moe_gate_up<HalfRows<__half>>(gate, nullptr, up, nullptr, x, order, first, used, dim, hidden, h);
}
extern "C" __global__ void moe_gate_up_bf16(const unsigned short* gate, const unsigned short* up, const float* x, const int* order,
                                            const int* first, int used, int dim, int hidden, float* h) {
    moe_gate_up<HalfRows<__nv_bfloat16>>(gate, nullptr, up, nullptr, x, order, first, used, dim, hidden, h);
}
extern "C" __global__ void moe_down_f16(const unsigned short* down, const float* h, const int* order, const int* first,
                                        int dim, int hidden, float* out) {
    moe_down<HalfRows<__half>>(down, nullptr, h, order, first, dim, hidden, out);
}
extern "C" __global__ void moe_down_bf16(const unsigned short* down, const float* h, const int* order, const int* first,
                                         int dim, int hidden, float* out) {
    moe_down<HalfRows<__nv_bfloat16>>(down, nullptr, h, order, first, dim, hidden, out);
}

// ---- The tensor-core form (a long prefill, or many tokens per expert) ----
// moe_gate_up and moe_down as matmul_wmma: the inputs rounded to 16 bits (the weights' type; F16 for quantized
// experts, whose weights are decoded to F16 as each tile is loaded), float accumulation, each weight tile read once
// per MOE_TILE slots of its expert instead of once per MOE_TOKENS. Block y takes tile y of the slots grouped by
// expert: each expert's run in order cut into tiles of MOE_TILE, expert after expert; blocks past the last tile
// return (the host sizes the grid for the most tiles n tokens can make, as it cannot see the grouping).
#define MOE_TILE 64          // slots per tile: 4 warps x 16
#define MOE_ROWS 32          // weight rows per block (of each of gate and up)
#define MOE_K 32             // k per stage: 2 mma steps of 16
#define MOE_LD (MOE_K + 8)   // shared row stride (16-bit elements), a multiple of 8 for wmma
#define MOE_CLD (MOE_ROWS + 4) // float staging stride, a multiple of 4

// One stage of MOE_ROWS weight rows (row0.. of the expert whose rows start at element base) x MOE_K columns (k0..)
// into ws [row][k] as the 16-bit bits the mma reads, zero past the matrix. 16-bit experts: copied 16 bytes at a time
// (cols a multiple of 8)...
template <typename T>
struct HalfTiles {
    typedef T Mma;
    static __device__ __forceinline__ void load(const void* w, const float*, size_t base, int row0, int rows, int cols,
                                                int k0, unsigned short* ws) {
        for (int i = threadIdx.x; i < MOE_ROWS * (MOE_K / 8); i += blockDim.x) {
            int r = i / (MOE_K / 8);
            int c8 = (i % (MOE_K / 8)) * 8;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (row0 + r < rows && k0 + c8 < cols) {
                v = *(const uint4*) ((const unsigned short*) w + base + (size_t) (row0 + r) * cols + k0 + c8);
            }
            *(uint4*) (ws + r * MOE_LD + c8) = v;
        }
    }
};

// ...quantized experts (Q8_0, Q4_K, Q6_K planes with their scales): each weight decoded to the CPU's float bits
// (weight_at; consecutive threads read consecutive weights), then rounded to F16.
template <int TYPE>
struct QuantTiles {
    typedef __half Mma;
    static __device__ __forceinline__ void load(const void* w, const float* scales, size_t base, int row0, int rows,
                                                int cols, int k0, unsigned short* ws) {
        for (int i = threadIdx.x; i < MOE_ROWS * MOE_K; i += blockDim.x) {
            int r = i / MOE_K;
            int c = i % MOE_K;
            float v = 0.0f;
            if (row0 + r < rows && k0 + c < cols) {
                v = weight_at<TYPE>(w, scales, base + (size_t) (row0 + r) * cols + k0 + c);
            }
            ws[r * MOE_LD + c] = to_bits(v, (__half*) 0);
        }
    }
};

// PAIR: out[s, r] = swiglu(w0_e[r] . in[s / div], w1_e[r] . in[s / div]) (gate and up, div = used: a slot's token);
// else out[s, r] = w0_e[r] . in[s] (down, div = 1). w0, w1 [count, rows, cols] (s0, s1: their scales where quantized);
// in [., cols]; out [slots, rows]; rows and cols multiples of 8. grid (ceil(rows / MOE_ROWS), most tiles), block 128.
template <typename Tiles, int PAIR>
__device__ void moe_mma(const void* w0, const float* s0w, const void* w1, const float* s1w, const float* in, int div,
                        const int* order, const int* first, int count, int rows, int cols, float* out) {
    using namespace nvcuda;
    typedef typename Tiles::Mma T;
    __shared__ int tile[2];        // this block's expert (-1: none) and first slot in order
    __shared__ int src[MOE_TILE];  // each of the tile's slots' input row, -1 past its end
    __shared__ int dst[MOE_TILE];  // its output row (the slot)
    __shared__ __align__(32) unsigned short xs[MOE_TILE * MOE_LD];             // [slot][k]
    __shared__ __align__(32) unsigned short ws[(1 + PAIR) * MOE_ROWS * MOE_LD]; // [role x row][k]
    __shared__ __align__(32) float cs[(1 + PAIR) * MOE_TILE * MOE_CLD];         // [role][slot][row]
    if (threadIdx.x == 0) {
        int y = blockIdx.y;
        int expert = -1;
        int at = 0;
        for (int e = 0; e < count; e++) {
            int tiles = (first[e + 1] - first[e] + MOE_TILE - 1) / MOE_TILE;
            if (y < tiles) {
                expert = e;
                at = first[e] + y * MOE_TILE;
                break;
            }
            y -= tiles;
        }
        tile[0] = expert;
        tile[1] = at;
    }
    __syncthreads();
    int e = tile[0];
    if (e < 0) { // block-uniform: no barrier below is skipped by part of the block
        return;
    }
    int s0 = tile[1];
    int m = min(MOE_TILE, first[e + 1] - s0);
    for (int i = threadIdx.x; i < MOE_TILE; i += blockDim.x) {
        int slot = i < m ? order[s0 + i] : -1;
        src[i] = slot < 0 ? -1 : slot / div;
        dst[i] = slot;
    }
    int warp = threadIdx.x >> 5;
    int row0 = blockIdx.x * MOE_ROWS;
    size_t base = (size_t) e * rows * cols; // the expert's first weight
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2 * (1 + PAIR)];
#pragma unroll
    for (int f = 0; f < 2 * (1 + PAIR); f++) {
        wmma::fill_fragment(acc[f], 0.0f);
    }
    __syncthreads(); // src and dst written
    for (int k0 = 0; k0 < cols; k0 += MOE_K) {
        for (int i = threadIdx.x; i < MOE_TILE * (MOE_K / 4); i += blockDim.x) { // the inputs, a float4 each
            int r = i / (MOE_K / 4);
            int c4 = (i % (MOE_K / 4)) * 4;
            float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (src[r] >= 0 && k0 + c4 < cols) { // cols % 8 == 0: a float4 is all in or all out
                v = *(const float4*) (in + (size_t) src[r] * cols + k0 + c4);
            }
            unsigned short* d = xs + r * MOE_LD + c4;
            d[0] = to_bits(v.x, (T*) 0);
            d[1] = to_bits(v.y, (T*) 0);
            d[2] = to_bits(v.z, (T*) 0);
            d[3] = to_bits(v.w, (T*) 0);
        }
        Tiles::load(w0, s0w, base, row0, rows, cols, k0, ws);
        if (PAIR) {
            Tiles::load(w1, s1w, base, row0, rows, cols, k0, ws + MOE_ROWS * MOE_LD);
        }
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < MOE_K; ks += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
            wmma::load_matrix_sync(a, (const T*) (xs + warp * 16 * MOE_LD + ks), MOE_LD);
#pragma unroll
            for (int f = 0; f < 2 * (1 + PAIR); f++) { // B is K x N, stored [row][k]: column-major
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(b, (const T*) (ws + f * 16 * MOE_LD + ks), MOE_LD);
                wmma::mma_sync(acc[f], a, b, acc[f]);
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int f = 0; f < 2 * (1 + PAIR); f++) { // role f / 2, rows 16 (f % 2) ..
        wmma::store_matrix_sync(cs + (f / 2) * MOE_TILE * MOE_CLD + warp * 16 * MOE_CLD + (f % 2) * 16, acc[f], MOE_CLD,
                                wmma::mem_row_major);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < MOE_TILE * MOE_ROWS; i += blockDim.x) {
        int s = i / MOE_ROWS;
        int r = i % MOE_ROWS;
        if (s < m && row0 + r < rows) {
            float v = cs[s * MOE_CLD + r];
            if (PAIR) {
                v = swiglu_value(v, cs[MOE_TILE * MOE_CLD + s * MOE_CLD + r]);
            }
            out[(size_t) dst[s] * rows + row0 + r] = v;
        }
    }
}

extern "C" __global__ void moe_mma_gate_up_f16(const unsigned short* gate, const unsigned short* up, const float* x, const int* order,
                                               const int* first, int count, int used, int dim, int hidden, float* h) {
    moe_mma<HalfTiles<__half>, 1>(gate, nullptr, up, nullptr, x, used, order, first, count, hidden, dim, h);
}
extern "C" __global__ void moe_mma_gate_up_bf16(const unsigned short* gate, const unsigned short* up, const float* x, const int* order,
                                                const int* first, int count, int used, int dim, int hidden, float* h) {
    moe_mma<HalfTiles<__nv_bfloat16>, 1>(gate, nullptr, up, nullptr, x, used, order, first, count, hidden, dim, h);
}
extern "C" __global__ void moe_mma_down_f16(const unsigned short* down, const float* h, const int* order, const int* first, int count,
                                            int dim, int hidden, float* out) {
    moe_mma<HalfTiles<__half>, 0>(down, nullptr, nullptr, nullptr, h, 1, order, first, count, dim, hidden, out);
}
extern "C" __global__ void moe_mma_down_bf16(const unsigned short* down, const float* h, const int* order, const int* first, int count,
                                             int dim, int hidden, float* out) {
    moe_mma<HalfTiles<__nv_bfloat16>, 0>(down, nullptr, nullptr, nullptr, h, 1, order, first, count, dim, hidden, out);
}

// The quantized experts on tensor cores (moe_quant_mma_*: each stack's scales after its planes, as moe_quant_*).
#define MOE_QUANT_MMA(name, TYPE) \
extern "C" __global__ void moe_quant_mma_gate_up_##name(const void* gate, const float* gateScales, const void* up, \
        const float* upScales, const float* x, const int* order, const int* first, int count, int used, int dim, int hidden, \
        float* h) { \
    moe_mma<QuantTiles<TYPE>, 1>(gate, gateScales, up, upScales, x, used, order, first, count, hidden, dim, h); \
} \
extern "C" __global__ void moe_quant_mma_down_##name(const void* down, const float* downScales, const float* h, \
        const int* order, const int* first, int count, int dim, int hidden, float* out) { \
    moe_mma<QuantTiles<TYPE>, 0>(down, downScales, nullptr, nullptr, h, 1, order, first, count, dim, hidden, out); \
}
MOE_QUANT_MMA(q8_0, WT_Q8_0)
MOE_QUANT_MMA(q4_k, WT_Q4_K)
MOE_QUANT_MMA(q6_k, WT_Q6_K)

// The quantized experts (moe_quant_*: two more parameters, each stack's scales after its planes; Q4_K: each group's
// scale and min side by side).
#define MOE_QUANT(name, TYPE) \
extern "C" __global__ void moe_quant_gate_up_##name(const void* gate, const float* gateScales, const void* up, const float* upScales, \
        const float* x, const int* order, const int* first, int used, int dim, int hidden, float* h) { \
    moe_gate_up<QuantRows<TYPE>>(gate, gateScales, up, upScales, x, order, first, used, dim, hidden, h); \
} \
extern "C" __global__ void moe_quant_down_##name(const void* down, const float* downScales, const float* h, const int* order, \
        const int* first, int dim, int hidden, float* out) { \
    moe_down<QuantRows<TYPE>>(down, downScales, h, order, first, dim, hidden, out); \
}
MOE_QUANT(q8_0, WT_Q8_0)
MOE_QUANT(q4_k, WT_Q4_K)
MOE_QUANT(q6_k, WT_Q6_K)

// xb[t] = Σ_j weights[t, j] · out[t·used + j] (j in the order token t chose its experts), + s(t) · shared[t] where
// shared is not null, s(t) = sigmoid(sharedRouter · xb[t]) (Qwen2-MoE) or 1 (sharedRouter null: Granite MoE's shared
// expert). In place: xb is the experts' input, read for s(t) before any thread writes. grid (n), block 256.
extern "C" __global__ void moe_combine(float* xb, const float* out, const float* weights, int used, const float* shared,
                                       const float* sharedRouter, int dim) {
    int t = blockIdx.x;
    float* row = xb + (size_t) t * dim;
    float s = 1.0f;
    if (shared != nullptr && sharedRouter != nullptr) { // block-uniform
        float d = 0.0f;
        for (int i = threadIdx.x; i < dim; i += blockDim.x) {
            d += sharedRouter[i] * row[i];
        }
        d = block_sum(d);
        s = (float) (1.0 / (1.0 + exp(-(double) d)));
    }
    __syncthreads(); // every read of row above is done
    const float* w = weights + (size_t) t * used;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float v = 0.0f;
        for (int j = 0; j < used; j++) {
            v = __fmaf_rn(w[j], out[((size_t) t * used + j) * dim + i], v);
        }
        if (shared != nullptr) {
            v = __fmaf_rn(s, shared[(size_t) t * dim + i], v);
        }
        row[i] = v;
    }
}
