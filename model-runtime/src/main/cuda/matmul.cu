// Matrix products y [n, rows] = x [n, cols] . W^T with W [rows, cols] row-major (a GGUF weight):
//  - matvec_*: up to 8 tokens (decode), one warp per weight row, every weight read once;
//  - matmul_tiled_*: any n, 64 tokens x 64 rows per block, float FMA (F32, Q8_0, Q4_K and Q6_K weights);
//  - matmul_wmma_*: any n, tensor cores (BF16/F16 weights; activations rounded to the weight type,
//    float accumulation), 64 tokens x 32 rows per block.
#include "common.cuh"
#include "reduce.cuh"
#include <mma.h>

#define MATVEC_MAX_TOKENS 8

// grid (ceil(rows / warpsPerBlock)), block 256.
template <int TYPE>
__device__ void matvec(const void* w, const float* scales, const float* x, float* y, int n, int rows, int cols) {
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) {
        return;
    }
    float acc[MATVEC_MAX_TOKENS];
#pragma unroll
    for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
        acc[t] = 0.0f;
    }
    size_t base = (size_t) row * cols;
    for (int c = lane; c < cols; c += 32) {
        float wv = weight_at<TYPE>(w, scales, base + c);
#pragma unroll
        for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
            if (t < n) {
                acc[t] += wv * x[(size_t) t * cols + c];
            }
        }
    }
#pragma unroll
    for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
        if (t < n) {
            float s = warp_sum(acc[t]);
            if (lane == 0) {
                y[(size_t) t * rows + row] = s;
            }
        }
    }
}

extern "C" __global__ void matvec_f32(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matvec<WT_F32>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matvec_f16(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matvec<WT_F16>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matvec_bf16(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matvec<WT_BF16>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matvec_q8_0(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matvec<WT_Q8_0>(w, s, x, y, n, rows, cols); }

// The matvec for K-quant planes (common.cuh, weight_at; cols a multiple of 256) with 32-bit weight loads: per step a
// lane reads 4 bytes and the matching activations as float4s, where matvec reads one weight. Q4_K: a step covers 256
// values (128 bytes, four 64-value chunks); lane i's bytes hold values l..l+3 (low nibbles) and 32+l..35+l (high) of
// chunk i / 8, l = 4 (i % 8), scaled by the chunk's two (scale, min) pairs. Q6_K: a step covers 128 values, lane i's
// bytes are values 4i..4i+3, all of one 16-value group. Each weight is weight_at's (the CPU's bits); the sums run in
// another order than matvec's. Same grid and block as matvec.
__device__ __forceinline__ float q4k_weight(unsigned int b, int shift, float scale, float min) {
    return __fsub_rn(__fmul_rn(scale, (float) ((b >> shift) & 15u)), min);
}

template <int TYPE>
__device__ void matvec_kquant(const void* w, const float* scales, const float* x, float* y, int n, int rows, int cols) {
    int lane = threadIdx.x & 31;
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) {
        return; // warp-uniform
    }
    float acc[MATVEC_MAX_TOKENS];
#pragma unroll
    for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
        acc[t] = 0.0f;
    }
    size_t base = (size_t) row * cols;
    if (TYPE == WT_Q4_K) {
        const unsigned char* q = (const unsigned char*) w + base / 2;
        int chunk = lane >> 3;
        int l = (lane & 7) * 4;
        for (int c0 = 0; c0 < cols; c0 += 256) {
            unsigned int b = *(const unsigned int*) (q + c0 / 2 + 4 * lane);
            int e = c0 + chunk * 64 + l;           // the low nibbles' first column; the high nibbles' is e + 32
            size_t g = (base + c0 + chunk * 64) >> 5; // the low nibbles' group; g + 1 the high nibbles'
            float s0 = scales[2 * g];
            float m0 = scales[2 * g + 1];
            float s1 = scales[2 * g + 2];
            float m1 = scales[2 * g + 3];
            float wl[4];
            float wh[4];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                wl[j] = q4k_weight(b, 8 * j, s0, m0);
                wh[j] = q4k_weight(b, 8 * j + 4, s1, m1);
            }
#pragma unroll
            for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
                if (t < n) {
                    float4 a = *(const float4*) (x + (size_t) t * cols + e);
                    float4 h = *(const float4*) (x + (size_t) t * cols + e + 32);
                    acc[t] += wl[0] * a.x + wl[1] * a.y + wl[2] * a.z + wl[3] * a.w
                            + wh[0] * h.x + wh[1] * h.y + wh[2] * h.z + wh[3] * h.w;
                }
            }
        }
    } else {
        const unsigned char* q = (const unsigned char*) w + base;
        for (int c0 = 0; c0 < cols; c0 += 128) {
            int e = c0 + 4 * lane;
            unsigned int b = *(const unsigned int*) (q + e);
            float s = scales[(base + e) >> 4];
            float wv[4];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                wv[j] = s * (float) (signed char) (b >> (8 * j));
            }
#pragma unroll
            for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
                if (t < n) {
                    float4 a = *(const float4*) (x + (size_t) t * cols + e);
                    acc[t] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w;
                }
            }
        }
    }
#pragma unroll
    for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
        if (t < n) {
            float v = warp_sum(acc[t]);
            if (lane == 0) {
                y[(size_t) t * rows + row] = v;
            }
        }
    }
}

extern "C" __global__ void matvec_q4_k(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matvec_kquant<WT_Q4_K>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matvec_q6_k(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matvec_kquant<WT_Q6_K>(w, s, x, y, n, rows, cols); }

// The matvec for 16-bit weights with 128-bit loads: lane i of a row's warp reads weights 8i..8i+7 of every
// 256-column stretch (one uint4) and the matching activations (two float4). Needs cols % 8 == 0 (16-byte
// aligned rows). Same grid and block as matvec; the sum over a row is in a different order than matvec's.
__device__ __forceinline__ float bits_to_f32(unsigned short h, __half*) { return f16_bits_to_f32(h); }
__device__ __forceinline__ float bits_to_f32(unsigned short h, __nv_bfloat16*) { return bf16_bits_to_f32(h); }

// One warp computes y[t, row] for all n tokens (row < rows).
template <typename T>
__device__ __forceinline__ void matvec_vec_row(const unsigned short* w, const float* x, float* y, int n, int rows, int cols,
                                               int row) {
    int lane = threadIdx.x & 31;
    float acc[MATVEC_MAX_TOKENS];
#pragma unroll
    for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
        acc[t] = 0.0f;
    }
    const uint4* wr = (const uint4*) (w + (size_t) row * cols);
    int chunks = cols >> 3;
#pragma unroll 4
    for (int c8 = lane; c8 < chunks; c8 += 32) {
        uint4 u = wr[c8];
        float wv[8];
        const unsigned short* hs = (const unsigned short*) &u;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            wv[j] = bits_to_f32(hs[j], (T*) 0);
        }
#pragma unroll
        for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
            if (t < n) {
                const float4* xr = (const float4*) (x + (size_t) t * cols + (size_t) c8 * 8);
                float4 a = xr[0];
                float4 b = xr[1];
                acc[t] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w
                        + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z + wv[7] * b.w;
            }
        }
    }
#pragma unroll
    for (int t = 0; t < MATVEC_MAX_TOKENS; t++) {
        if (t < n) {
            float s = warp_sum(acc[t]);
            if (lane == 0) {
                y[(size_t) t * rows + row] = s;
            }
        }
    }
}

template <typename T>
__device__ void matvec_vec(const unsigned short* w, const float* x, float* y, int n, int rows, int cols) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row < rows) { // warp-uniform
        matvec_vec_row<T>(w, x, y, n, rows, cols, row);
    }
}

// Three products of the same x in one launch (Wq, Wk, Wv of a decode step): warps 0..rows0-1 serve w0,
// the next rows1 w1, the next rows2 w2. grid (ceil((rows0 + rows1 + rows2) / 8)), block 256.
template <typename T>
__device__ void matvec3_vec(const unsigned short* w0, const unsigned short* w1, const unsigned short* w2, const float* x,
                            float* y0, float* y1, float* y2, int n, int rows0, int rows1, int rows2, int cols) {
    int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5); // warp-uniform
    if (row < rows0) {
        matvec_vec_row<T>(w0, x, y0, n, rows0, cols, row);
    } else if (row - rows0 < rows1) {
        matvec_vec_row<T>(w1, x, y1, n, rows1, cols, row - rows0);
    } else if (row - rows0 - rows1 < rows2) {
        matvec_vec_row<T>(w2, x, y2, n, rows2, cols, row - rows0 - rows1);
    }
}

extern "C" __global__ void matvec3_vec_f16(const unsigned short* w0, const unsigned short* w1, const unsigned short* w2, const float* x,
                                           float* y0, float* y1, float* y2, int n, int rows0, int rows1, int rows2, int cols) {
    matvec3_vec<__half>(w0, w1, w2, x, y0, y1, y2, n, rows0, rows1, rows2, cols);
}
extern "C" __global__ void matvec3_vec_bf16(const unsigned short* w0, const unsigned short* w1, const unsigned short* w2, const float* x,
                                            float* y0, float* y1, float* y2, int n, int rows0, int rows1, int rows2, int cols) {
    matvec3_vec<__nv_bfloat16>(w0, w1, w2, x, y0, y1, y2, n, rows0, rows1, rows2, cols);
}

extern "C" __global__ void matvec_vec_f16(const unsigned short* w, const float* x, float* y, int n, int rows, int cols) { matvec_vec<__half>(w, x, y, n, rows, cols); }
extern "C" __global__ void matvec_vec_bf16(const unsigned short* w, const float* x, float* y, int n, int rows, int cols) { matvec_vec<__nv_bfloat16>(w, x, y, n, rows, cols); }

#define TILE 64
#define TILE_K 32

// grid (ceil(rows / 64), ceil(n / 64)), block 256 (16 x 16 threads, 4 x 4 outputs each).
template <int TYPE>
__device__ void matmul_tiled(const void* w, const float* scales, const float* x, float* y, int n, int rows, int cols) {
    __shared__ float xs[TILE_K][TILE + 1]; // [k][token]
    __shared__ float ws[TILE_K][TILE + 1]; // [k][row]
    int tx = threadIdx.x & 15;
    int ty = threadIdx.x >> 4;
    int row0 = blockIdx.x * TILE;
    int tok0 = blockIdx.y * TILE;
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            acc[i][j] = 0.0f;
        }
    }
    for (int k0 = 0; k0 < cols; k0 += TILE_K) {
        for (int i = threadIdx.x; i < TILE * TILE_K; i += blockDim.x) {
            int m = i / TILE_K;
            int kk = i % TILE_K;
            int c = k0 + kk;
            int tok = tok0 + m;
            int row = row0 + m;
            xs[kk][m] = (tok < n && c < cols) ? x[(size_t) tok * cols + c] : 0.0f;
            ws[kk][m] = (row < rows && c < cols) ? weight_at<TYPE>(w, scales, (size_t) row * cols + c) : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < TILE_K; kk++) {
            float a[4];
            float b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                a[i] = xs[kk][ty + 16 * i];
                b[i] = ws[kk][tx + 16 * i];
            }
#pragma unroll
            for (int i = 0; i < 4; i++) {
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    acc[i][j] += a[i] * b[j];
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int tok = tok0 + ty + 16 * i;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int row = row0 + tx + 16 * j;
            if (tok < n && row < rows) {
                y[(size_t) tok * rows + row] = acc[i][j];
            }
        }
    }
}

extern "C" __global__ void matmul_tiled_f32(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matmul_tiled<WT_F32>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matmul_tiled_f16(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matmul_tiled<WT_F16>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matmul_tiled_bf16(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matmul_tiled<WT_BF16>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matmul_tiled_q8_0(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matmul_tiled<WT_Q8_0>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matmul_tiled_q4_k(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matmul_tiled<WT_Q4_K>(w, s, x, y, n, rows, cols); }
extern "C" __global__ void matmul_tiled_q6_k(const void* w, const float* s, const float* x, float* y, int n, int rows, int cols) { matmul_tiled<WT_Q6_K>(w, s, x, y, n, rows, cols); }

#define WM 64   // tokens per block: 4 warps x 16
#define WN 32   // weight rows per block: 2 fragments of 16 per warp
#define WK 32   // k per stage: 2 mma steps of 16
#define WLD (WK + 8)  // smem row stride (16-bit elements), a multiple of 8 for wmma
#define CLD (WN + 4)  // float staging stride, a multiple of 4

// grid (ceil(rows / 32), ceil(n / 64)), block 128. T is __half or __nv_bfloat16, w holds its bits.
template <typename T>
__device__ void matmul_wmma(const unsigned short* w, const float* x, float* y, int n, int rows, int cols) {
    using namespace nvcuda;
    __shared__ __align__(32) unsigned short xs[WM * WLD]; // [token][k]
    __shared__ __align__(32) unsigned short ws[WN * WLD]; // [row][k]
    __shared__ __align__(32) float cs[WM * CLD];          // [token][row]
    int warp = threadIdx.x >> 5;
    int row0 = blockIdx.x * WN;
    int tok0 = blockIdx.y * WM;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2];
    wmma::fill_fragment(acc[0], 0.0f);
    wmma::fill_fragment(acc[1], 0.0f);
    for (int k0 = 0; k0 < cols; k0 += WK) {
        for (int i = threadIdx.x; i < WM * WK; i += blockDim.x) {
            int m = i / WK;
            int kk = i % WK;
            int c = k0 + kk;
            int tok = tok0 + m;
            xs[m * WLD + kk] = (tok < n && c < cols) ? to_bits(x[(size_t) tok * cols + c], (T*) 0) : (unsigned short) 0;
        }
        for (int i = threadIdx.x; i < WN * WK; i += blockDim.x) {
            int r = i / WK;
            int kk = i % WK;
            int c = k0 + kk;
            int row = row0 + r;
            ws[r * WLD + kk] = (row < rows && c < cols) ? w[(size_t) row * cols + c] : (unsigned short) 0;
        }
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < WK; ks += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
            wmma::load_matrix_sync(a, (const T*) (xs + warp * 16 * WLD + ks), WLD);
#pragma unroll
            for (int f = 0; f < 2; f++) {
                // B is K x N; stored as [row][k], i.e. column-major K x N.
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(b, (const T*) (ws + f * 16 * WLD + ks), WLD);
                wmma::mma_sync(acc[f], a, b, acc[f]);
            }
        }
        __syncthreads();
    }
    wmma::store_matrix_sync(cs + warp * 16 * CLD, acc[0], CLD, wmma::mem_row_major);
    wmma::store_matrix_sync(cs + warp * 16 * CLD + 16, acc[1], CLD, wmma::mem_row_major);
    __syncthreads();
    for (int i = threadIdx.x; i < WM * WN; i += blockDim.x) {
        int m = i / WN;
        int r = i % WN;
        int tok = tok0 + m;
        int row = row0 + r;
        if (tok < n && row < rows) {
            y[(size_t) tok * rows + row] = cs[m * CLD + r];
        }
    }
}

extern "C" __global__ void matmul_wmma_f16(const unsigned short* w, const float* x, float* y, int n, int rows, int cols) { matmul_wmma<__half>(w, x, y, n, rows, cols); }
extern "C" __global__ void matmul_wmma_bf16(const unsigned short* w, const float* x, float* y, int n, int rows, int cols) { matmul_wmma<__nv_bfloat16>(w, x, y, n, rows, cols); }

// ---- Skinny products for decode (n <= 64 tokens, rows and cols multiples of 16, BF16/F16 weights) ----
// Bandwidth first: each warp streams the weights of 16 rows over one K range straight from global memory
// into tensor-core fragments (no shared memory, no block barriers) against the (L2-resident) activations,
// which were rounded once to the weight type and zero-padded to whole 16-token tiles. Rows x K ranges
// (split-K) give enough warps to keep HBM busy; partial sums go to a workspace and a second kernel adds
// them in a fixed order, so results are deterministic.

// xh [npad, cols] = x [n, cols] rounded to T, rows n..npad-1 zero. Grid-stride.
template <typename T>
__device__ void to_half_padded(const float* x, unsigned short* xh, int n, int npad, int cols) {
    size_t total = (size_t) npad * cols;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        int t = (int) (i / cols);
        xh[i] = t < n ? to_bits(x[i], (T*) 0) : (unsigned short) 0;
    }
}

extern "C" __global__ void to_half_padded_f16(const float* x, unsigned short* xh, int n, int npad, int cols) { to_half_padded<__half>(x, xh, n, npad, cols); }
extern "C" __global__ void to_half_padded_bf16(const float* x, unsigned short* xh, int n, int npad, int cols) { to_half_padded<__nv_bfloat16>(x, xh, n, npad, cols); }

// part [splits, npad, rows]: part[s][t][r] = sum over k in split s of W[r, k] * xh[t, k].
// grid (ceil(rows / 16 / 4), splits), block 128: warp w of block b owns rows (4b + w) * 16 .. +16.
template <typename T>
__device__ void matmul_skinny(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows,
                              int cols, int kChunk) {
    using namespace nvcuda;
    int rowTile = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (rowTile * 16 >= rows) {
        return; // whole warp
    }
    int split = blockIdx.y;
    int k0 = split * kChunk;
    int k1 = min(cols, k0 + kChunk);
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
#pragma unroll
    for (int t = 0; t < 4; t++) {
        wmma::fill_fragment(acc[t], 0.0f);
    }
    const T* wp = (const T*) w + (size_t) rowTile * 16 * cols;
    const T* xp = (const T*) xh;
#pragma unroll 2
    for (int k = k0; k < k1; k += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
        wmma::load_matrix_sync(a, wp + k, cols);
#pragma unroll
        for (int t = 0; t < 4; t++) {
            if (t < tiles) {
                // B (k, token) = xh[token * cols + k]: column-major K x 16 tokens
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                wmma::load_matrix_sync(b, xp + (size_t) t * 16 * cols + k, cols);
                wmma::mma_sync(acc[t], a, b, acc[t]);
            }
        }
    }
    int npad = tiles * 16;
#pragma unroll
    for (int t = 0; t < 4; t++) {
        if (t < tiles) {
            // C (row, token) stored column-major with ld = rows: part[s][token][row]
            float* dst = part + ((size_t) split * npad + (size_t) t * 16) * rows + (size_t) rowTile * 16;
            wmma::store_matrix_sync(dst, acc[t], rows, wmma::mem_col_major);
        }
    }
}

extern "C" __global__ void matmul_skinny_f16(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows, int cols, int kChunk) { matmul_skinny<__half>(w, xh, part, tiles, rows, cols, kChunk); }
extern "C" __global__ void matmul_skinny_bf16(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows, int cols, int kChunk) { matmul_skinny<__nv_bfloat16>(w, xh, part, tiles, rows, cols, kChunk); }

// The same product with the activations staged through shared memory: the 4 warps of a block (64 rows) share
// one copy of each 64-wide K tile of xh (one L2 read instead of four), and each warp issues the weight
// fragments of a whole K tile before its tensor-core steps (4 loads in flight). Same grid, block, workspace
// and partial-sum layout as matmul_skinny; kChunk must be a multiple of 16 (it is: SkinnyScratch.kChunk).
#define SK_KT 64
#define SK_LD (SK_KT + 8) // smem row stride (16-bit elements): a multiple of 8, rows 16-byte aligned

template <typename T>
__device__ void matmul_skinny_smem(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows,
                                   int cols, int kChunk) {
    using namespace nvcuda;
    __shared__ __align__(32) unsigned short xs[64 * SK_LD]; // [token][k] of one K tile
    int rowTile = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    bool active = rowTile * 16 < rows; // warp-uniform; inactive warps still take part in the barriers
    int split = blockIdx.y;
    int k0 = split * kChunk;
    int k1 = min(cols, k0 + kChunk);
    int npad = tiles * 16;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
#pragma unroll
    for (int t = 0; t < 4; t++) {
        wmma::fill_fragment(acc[t], 0.0f);
    }
    const T* wp = (const T*) w + (size_t) (active ? rowTile : 0) * 16 * cols;
    for (int k = k0; k < k1; k += SK_KT) {
        int width = min(SK_KT, k1 - k); // a multiple of 16
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a[SK_KT / 16];
        if (active) {
#pragma unroll
            for (int f = 0; f < SK_KT / 16; f++) {
                if (f * 16 < width) {
                    wmma::load_matrix_sync(a[f], wp + k + f * 16, cols);
                }
            }
        }
        int vecs = width >> 3; // 8 elements (16 bytes) per copy
        for (int i = threadIdx.x; i < npad * vecs; i += blockDim.x) {
            int r = i / vecs;
            int c = (i % vecs) << 3;
            *(uint4*) (xs + r * SK_LD + c) = *(const uint4*) (xh + (size_t) r * cols + k + c);
        }
        __syncthreads();
        if (active) {
#pragma unroll
            for (int f = 0; f < SK_KT / 16; f++) {
                if (f * 16 < width) {
#pragma unroll
                    for (int t = 0; t < 4; t++) {
                        if (t < tiles) {
                            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                            wmma::load_matrix_sync(b, (const T*) (xs + t * 16 * SK_LD + f * 16), SK_LD);
                            wmma::mma_sync(acc[t], a[f], b, acc[t]);
                        }
                    }
                }
            }
        }
        __syncthreads(); // the tile is consumed before the next one overwrites it
    }
    if (active) {
#pragma unroll
        for (int t = 0; t < 4; t++) {
            if (t < tiles) {
                float* dst = part + ((size_t) split * npad + (size_t) t * 16) * rows + (size_t) rowTile * 16;
                wmma::store_matrix_sync(dst, acc[t], rows, wmma::mem_col_major);
            }
        }
    }
}

extern "C" __global__ void matmul_skinny_smem_f16(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows, int cols, int kChunk) { matmul_skinny_smem<__half>(w, xh, part, tiles, rows, cols, kChunk); }
extern "C" __global__ void matmul_skinny_smem_bf16(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows, int cols, int kChunk) { matmul_skinny_smem<__nv_bfloat16>(w, xh, part, tiles, rows, cols, kChunk); }

// y [n, rows] = sum over s of part [s, t, rows] (fixed order). Grid-stride.
extern "C" __global__ void splitk_reduce(const float* part, float* y, int n, int npad, int rows, int splits) {
    pdl_enter();
    size_t total = (size_t) n * rows;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        size_t t = i / rows;
        size_t r = i % rows;
        float s = 0.0f;
        for (int sp = 0; sp < splits; sp++) {
            s += part[((size_t) sp * npad + t) * rows + r];
        }
        y[i] = s;
    }
}

// ---- The skinny product with a cp.async pipeline (same grid, block, workspace and result as matmul_skinny) ----
// Each block (4 warps, 64 weight rows) streams its weight tile and the matching activation tile of every
// 32-wide K step into shared memory with 16-byte cp.async copies, SP_STAGES steps ahead of the tensor cores,
// so that ~12 KB of weights per block are in flight instead of one fragment per warp. The tensor-core steps,
// their order over K (16 at a time, ascending, per accumulator) and the split-K ranges are those of
// matmul_skinny, so the partial sums are bit for bit the same; the model adopts it only after checking that.
#define SP_KT 32
#define SP_LD (SP_KT + 8)   // smem row stride (16-bit elements): 80 bytes, conflict-free ldmatrix rows
#define SP_STAGES 4         // 4 x (64 + 64) rows x 80 bytes = 40 KB static shared memory

#ifdef INFERSTREAM_EMULATE
// On the host (emulate/cuda_shim.h, the emulated driver): a copy completes at once
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
    emu::check_read(gmem, 16, "cp.async source");
    std::memcpy(smem, gmem, 16);
}
__device__ __forceinline__ void cp_async_commit() {}
template <int N>
__device__ __forceinline__ void cp_async_wait() {}
#else
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
    unsigned int s = (unsigned int) __cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
#endif

// Issues the copies of K step kt (k = k0 + kt * SP_KT, width a multiple of 16) into stage buffers ws, xs.
__device__ __forceinline__ void skinny_pipe_load(const unsigned short* w, const unsigned short* xh, unsigned short* ws,
                                                 unsigned short* xs, int row0, int rows, int cols, int npad, int k,
                                                 int width) {
    int vecs = width >> 3; // 16-byte copies per row: 2 or 4
    for (int i = threadIdx.x; i < 64 * vecs; i += blockDim.x) {
        int r = i / vecs;
        int c = (i % vecs) << 3;
        if (row0 + r < rows) {
            cp_async16(ws + r * SP_LD + c, w + (size_t) (row0 + r) * cols + k + c);
        }
    }
    for (int i = threadIdx.x; i < npad * vecs; i += blockDim.x) {
        int r = i / vecs;
        int c = (i % vecs) << 3;
        cp_async16(xs + r * SP_LD + c, xh + (size_t) r * cols + k + c);
    }
}

// Block (rows blockRow * 64 .. +64, K range `split`) of the product; the whole block returns when the matrix
// has fewer splits (a grouped launch sizes grid.y for the matrix with the most).
template <typename T>
__device__ void matmul_skinny_pipe_block(const unsigned short* w, const unsigned short* xh, float* part, int tiles,
                                         int rows, int cols, int kChunk, int blockRow, int split) {
    using namespace nvcuda;
    __shared__ __align__(128) unsigned short ws[SP_STAGES][64 * SP_LD]; // [row][k] of one K step
    __shared__ __align__(128) unsigned short xs[SP_STAGES][64 * SP_LD]; // [token][k] of one K step
    if (split * kChunk >= cols) {
        return; // block-uniform, before any barrier
    }
    int warp = threadIdx.x >> 5;
    int row0 = blockRow * 64;
    int rowTile = blockRow * 4 + warp;
    bool active = rowTile * 16 < rows; // warp-uniform; inactive warps still copy and take part in the barriers
    int k0 = split * kChunk;
    int k1 = min(cols, k0 + kChunk);
    int npad = tiles * 16;
    int steps = k1 > k0 ? (k1 - k0 + SP_KT - 1) / SP_KT : 0;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
#pragma unroll
    for (int t = 0; t < 4; t++) {
        wmma::fill_fragment(acc[t], 0.0f);
    }
#pragma unroll
    for (int s = 0; s < SP_STAGES - 1; s++) {
        if (s < steps) {
            int k = k0 + s * SP_KT;
            skinny_pipe_load(w, xh, ws[s], xs[s], row0, rows, cols, npad, k, min(SP_KT, k1 - k));
        }
        cp_async_commit(); // empty groups keep the group count uniform
    }
    for (int it = 0; it < steps; it++) {
        cp_async_wait<SP_STAGES - 2>(); // this thread's copies of step it have landed
        __syncthreads();                // everyone's have; and step it - 1 is consumed, so its buffer is free
        int next = it + SP_STAGES - 1;
        if (next < steps) {
            int k = k0 + next * SP_KT;
            skinny_pipe_load(w, xh, ws[next % SP_STAGES], xs[next % SP_STAGES], row0, rows, cols, npad, k,
                             min(SP_KT, k1 - k));
        }
        cp_async_commit();
        if (active) {
            int stage = it % SP_STAGES;
            int width = min(SP_KT, k1 - (k0 + it * SP_KT));
#pragma unroll
            for (int f = 0; f < SP_KT / 16; f++) {
                if (f * 16 < width) {
                    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> a;
                    wmma::load_matrix_sync(a, (const T*) (ws[stage] + warp * 16 * SP_LD + f * 16), SP_LD);
#pragma unroll
                    for (int t = 0; t < 4; t++) {
                        if (t < tiles) {
                            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> b;
                            wmma::load_matrix_sync(b, (const T*) (xs[stage] + t * 16 * SP_LD + f * 16), SP_LD);
                            wmma::mma_sync(acc[t], a, b, acc[t]);
                        }
                    }
                }
            }
        }
    }
    cp_async_wait<0>();
    if (active) {
#pragma unroll
        for (int t = 0; t < 4; t++) {
            if (t < tiles) {
                float* dst = part + ((size_t) split * npad + (size_t) t * 16) * rows + (size_t) rowTile * 16;
                wmma::store_matrix_sync(dst, acc[t], rows, wmma::mem_col_major);
            }
        }
    }
}

// grid (ceil(rows / 64), splits), block 128: the same grid as matmul_skinny.
extern "C" __global__ void matmul_skinny_pipe_f16(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows, int cols, int kChunk) {
    matmul_skinny_pipe_block<__half>(w, xh, part, tiles, rows, cols, kChunk, blockIdx.x, blockIdx.y);
}
extern "C" __global__ void matmul_skinny_pipe_bf16(const unsigned short* w, const unsigned short* xh, float* part, int tiles, int rows, int cols, int kChunk) {
    matmul_skinny_pipe_block<__nv_bfloat16>(w, xh, part, tiles, rows, cols, kChunk, blockIdx.x, blockIdx.y);
}

// Up to three products of the same activations in one launch (Wq, Wk, Wv; or gate and up with rows2 = 0):
// blocks 0..b0-1 of grid.x serve w0, the next b1 w1, the next b2 w2 (b = ceil(rows / 64)); grid.y is the
// largest split count. Each matrix keeps its own kChunk and its own partial sums [splits_m, npad, rows_m],
// stored one after the other in part, so every partial sum is bit for bit that of a matmul_skinny_pipe launch.
template <typename T>
__device__ void matmul_skinny_group(const unsigned short* w0, const unsigned short* w1, const unsigned short* w2,
                                    const unsigned short* xh, float* part, int tiles, int cols, int rows0, int rows1,
                                    int rows2, int chunk0, int chunk1, int chunk2) {
    int npad = tiles * 16;
    int b0 = (rows0 + 63) / 64;
    int b1 = (rows1 + 63) / 64;
    int b = blockIdx.x;
    if (b < b0) {
        matmul_skinny_pipe_block<T>(w0, xh, part, tiles, rows0, cols, chunk0, b, blockIdx.y);
        return;
    }
    part += (size_t) ((cols + chunk0 - 1) / chunk0) * npad * rows0;
    b -= b0;
    if (b < b1) {
        matmul_skinny_pipe_block<T>(w1, xh, part, tiles, rows1, cols, chunk1, b, blockIdx.y);
        return;
    }
    part += (size_t) ((cols + chunk1 - 1) / chunk1) * npad * rows1;
    matmul_skinny_pipe_block<T>(w2, xh, part, tiles, rows2, cols, chunk2, b - b1, blockIdx.y);
}

extern "C" __global__ void matmul_skinny_group_f16(const unsigned short* w0, const unsigned short* w1, const unsigned short* w2,
                                                   const unsigned short* xh, float* part, int tiles, int cols, int rows0,
                                                   int rows1, int rows2, int chunk0, int chunk1, int chunk2) {
    matmul_skinny_group<__half>(w0, w1, w2, xh, part, tiles, cols, rows0, rows1, rows2, chunk0, chunk1, chunk2);
}
extern "C" __global__ void matmul_skinny_group_bf16(const unsigned short* w0, const unsigned short* w1, const unsigned short* w2,
                                                    const unsigned short* xh, float* part, int tiles, int cols, int rows0,
                                                    int rows1, int rows2, int chunk0, int chunk1, int chunk2) {
    matmul_skinny_group<__nv_bfloat16>(w0, w1, w2, xh, part, tiles, cols, rows0, rows1, rows2, chunk0, chunk1, chunk2);
}

// y_m [n, rows_m] from the grouped partial sums of matmul_skinny_group (rows2 may be 0). Grid-stride over
// n * (rows0 + rows1 + rows2).
extern "C" __global__ void splitk_reduce_group(const float* part, float* y0, float* y1, float* y2, int n, int npad,
                                               int rows0, int rows1, int rows2, int splits0, int splits1, int splits2) {
    pdl_enter();
    size_t n0 = (size_t) n * rows0;
    size_t n1 = (size_t) n * rows1;
    size_t total = n0 + n1 + (size_t) n * rows2;
    const float* p1 = part + (size_t) splits0 * npad * rows0;
    const float* p2 = p1 + (size_t) splits1 * npad * rows1;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        if (i < n0) {
            y0[i] = splitk_sum(part, npad, rows0, splits0, i / rows0, i % rows0);
        } else if (i - n0 < n1) {
            size_t j = i - n0;
            y1[j] = splitk_sum(p1, npad, rows1, splits1, j / rows1, j % rows1);
        } else {
            size_t j = i - n0 - n1;
            y2[j] = splitk_sum(p2, npad, rows2, splits2, j / rows2, j % rows2);
        }
    }
}

// y [n, rows] = silu(gate) * up from the grouped partial sums of gate (matrix 0) and up (matrix 1), both
// [n, rows]: the sums of splitk_reduce and the formula of swiglu (elementwise.cu), in one pass. Grid-stride.
extern "C" __global__ void splitk_reduce_swiglu(const float* part, float* y, int n, int npad, int rows, int splits0,
                                                int splits1) {
    pdl_enter();
    size_t total = (size_t) n * rows;
    const float* p1 = part + (size_t) splits0 * npad * rows;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        size_t t = i / rows;
        size_t r = i % rows;
        float g = splitk_sum(part, npad, rows, splits0, t, r);
        float u = splitk_sum(p1, npad, rows, splits1, t, r);
        y[i] = swiglu_value(g, u);
    }
}

// splitk_reduce_swiglu that also writes yh [npad, rows] = y rounded to T with rows n..npad-1 zero, the input of the
// down product: bit for bit splitk_reduce_swiglu followed by to_half_padded, one launch instead of two. Grid-stride
// over npad * rows.
template <typename T>
__device__ __forceinline__ void splitk_reduce_swiglu_h(const float* part, float* y, unsigned short* yh, int n, int npad,
                                                       int rows, int splits0, int splits1) {
    size_t total = (size_t) npad * rows;
    size_t real = (size_t) n * rows;
    const float* p1 = part + (size_t) splits0 * npad * rows;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        if (i >= real) {
            yh[i] = 0; // a padding token
            continue;
        }
        size_t t = i / rows;
        size_t r = i % rows;
        float g = splitk_sum(part, npad, rows, splits0, t, r);
        float u = splitk_sum(p1, npad, rows, splits1, t, r);
        float v = swiglu_value(g, u);
        y[i] = v;
        yh[i] = to_bits(v, (T*) 0);
    }
}

extern "C" __global__ void splitk_reduce_swiglu_h_bf16(const float* part, float* y, unsigned short* yh, int n, int npad,
                                                       int rows, int splits0, int splits1) {
    pdl_enter();
    splitk_reduce_swiglu_h<__nv_bfloat16>(part, y, yh, n, npad, rows, splits0, splits1);
}
extern "C" __global__ void splitk_reduce_swiglu_h_f16(const float* part, float* y, unsigned short* yh, int n, int npad,
                                                      int rows, int splits0, int splits1) {
    pdl_enter();
    splitk_reduce_swiglu_h<__half>(part, y, yh, n, npad, rows, splits0, splits1);
}
