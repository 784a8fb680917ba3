// The weight-streaming skinny product for decode: y [n, rows] = x [n, cols] . W^T, W [rows, cols] row-major BF16
// or F16, n <= 64 tokens, activations already rounded to the weight type and padded to whole 8-token tiles
// (to_half_padded in matmul.cu, npad = tiles8 * 8).
//
// Why another skinny kernel: at 64 tokens the matmul_skinny* kernels stream the weights at ~1 TB/s on an H200
// (~20% of HBM). They read as many activation bytes as weight bytes per block (64 tokens against 64 rows), push
// the weights through shared memory and wmma fragments, and keep only a few KB per block in flight. Here:
//  - weights never touch shared memory: each lane loads 16-byte pieces of its own two rows (g and g + 8 of its
//    warp's 16) straight into registers, in exactly the places the m16n8k16 tensor-core A fragment wants them.
//    That works because the k order inside a dot product is free: a lane's 8 consecutive k (one 16-byte load)
//    are taken as the logical k {2q, 2q+1, 2q+8, 2q+9} of two mma steps, and the activations (B fragments) are
//    read with the same permutation, so every product still pairs W[r, k] with x[t, k];
//  - each warp keeps ST_DEPTH chunks of 64 k in flight in registers (4 x 2 KB per warp, 64 KB per 8-warp block,
//    128 KB per SM at 2 blocks per SM: ~3x what Little's law asks of 4.8 TB/s at ~1 us latency);
//  - 128 rows per block (256 for the 16-warp _wide kernels) share one copy of the activations (a ring of ST_STAGES
//    64-k chunks in shared memory, filled by cp.async), so activation traffic is npad / 128 of the weight traffic
//    (1/2 at 64 tokens; 1/4 for _wide);
//  - split-K over cols gives enough blocks for every matrix shape (SkinnyScratch.streamChunk), partial sums
//    [split, npad, rows] are added by splitk_reduce (matmul.cu) in a fixed order, so results are deterministic;
//    with one split the block writes y directly.
// Bounds: any rows (rows past the end load zeros and store nothing); cols % 8 == 0 (16-byte aligned rows and
// whole 16-byte pieces: the host checks); kChunk % 64 == 0; pieces past the split's end load zeros.
// stream_check.py (beside this file) emulates the fragment layouts and index math on the host.
//
// Compiled three times: for compute_80 (stream.ptx, mma.sync), with -DST_WGMMA for sm_90a (stream_wgmma.ptx: the
// kernels on packed weights only, on Hopper's warpgroup MMAs with their own packing; wgmma.cuh says how), and with
// -DST_PDL for compute_90 (stream_sm90.ptx: stream.ptx's kernels, the 16-bit products ready for programmatic launch).
//
// Packed weights (the _packed kernels; CudaLlamaModel.choosePackedStream adopts them at load when faster): the same
// products from a copy of W that pack_stream_weights rearranged once, Marlin-style, into the order the lanes read it.
// Row-major, one load instruction of a warp reads 64 bytes from each of 8 rows 4 KB or more apart, and the warp's 16
// rows are 16 concurrent streams; packed, each 16-row group's 64-k chunk is one 2 KB tile, a load instruction reads
// 512 contiguous bytes and a warp's whole K range is one contiguous stream. Tiles are padded with zeros to whole
// 16-row groups (rounded up to 16 groups: any block's warps stay inside) and whole 64-k chunks, so the weight loads
// need no bounds. The lanes get the same values in the same registers as from row-major W, so the results are bit
// for bit those of the row-major kernels. On packed weights the _tall kernels give each warp 32 rows (MT = 2, see
// matmul_stream_block), and the _slices kernels serve steps of more than 64 tokens as 64-token slices of one launch.
#include "common.cuh"

// Blocks of WARPS = 8 warps (128 rows, 2 blocks per SM: matmul_stream_*) or 16 warps (256 rows, 1 block per SM:
// matmul_stream_wide_*, half the activation traffic per weight byte, one barrier domain per SM); chosen at load.
#define ST_KC 64                // k per chunk: 128 bytes of each row
#define ST_DEPTH 4              // chunks of weights in flight per warp (registers)
#define ST_STAGES (ST_DEPTH + 1) // activation chunks in shared memory: the DEPTH in flight plus the one in use
#define ST_MAX_TILES 8          // 8-token tiles: 64 tokens

#include "mma.cuh"
#include "reduce.cuh"
#ifdef ST_WGMMA
#include "wgmma.cuh"
#endif
// ST_PDL (the modules for compute capability 9.x: stream_wgmma, stream_sm90): the products may be launched
// programmatically (common.cuh's pdl_wait): they trigger their successor at once, load their first weight chunks, and
// wait for their predecessor before the activations.
#if defined(ST_WGMMA) && !defined(ST_PDL)
#define ST_PDL
#endif

#ifdef INFERSTREAM_EMULATE
__device__ __forceinline__ uint4 st_load_weights(const void* p, bool valid) {
    uint4 v = {0, 0, 0, 0};
    if (valid) {
        emu::check_read(p, 16, "weights");
        std::memcpy(&v, p, 16);
    }
    return v;
}
#else
// 16 bytes of weights, read once: not kept in L1, and L2 asked to fetch the 256-byte neighbourhood (the same
// row's next pieces, which this warp reads next). Zero when !valid (nothing read).
__device__ __forceinline__ uint4 st_load_weights(const void* p, bool valid) {
    uint4 v;
    asm volatile(
        "{\n"
        " .reg .pred p;\n"
        " setp.ne.b32 p, %5, 0;\n"
        " mov.b32 %0, 0;\n"
        " mov.b32 %1, 0;\n"
        " mov.b32 %2, 0;\n"
        " mov.b32 %3, 0;\n"
        " @p ld.global.nc.L1::no_allocate.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4];\n"
        "}\n"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(p), "r"((int) valid));
    return v;
}
#endif

// Weights of chunk c for this lane: rows r and r + 8, pieces k + 8q and k + 32 + 8q (k = k0 + 64c).
// dst: {row r lo, row r hi, row r+8 lo, row r+8 hi}.
__device__ __forceinline__ void st_load_chunk(uint4* dst, const unsigned short* w0, const unsigned short* w1, bool in0,
                                              bool in1, int k, int k1, int q) {
    int lo = k + 8 * q;
    int hi = lo + 32;
    dst[0] = st_load_weights(w0 + lo, in0 && lo < k1);
    dst[1] = st_load_weights(w0 + hi, in0 && hi < k1);
    dst[2] = st_load_weights(w1 + lo, in1 && lo < k1);
    dst[3] = st_load_weights(w1 + hi, in1 && hi < k1);
}

// Packed: a lane's four pieces of one chunk's tile, at (j * 32 + lane) * 8 (tile and lane offset already in p).
__device__ __forceinline__ void st_load_packed(uint4* dst, const unsigned short* p) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
        dst[j] = st_load_weights(p + j * 256, true);
    }
}

// Activations of chunk at k into one stage [token][64 k]: 8 pieces of 16 bytes per token; on odd tokens the two
// 64-byte halves are swapped so that a quarter-warp's B reads (tokens 2i, 2i+1, same half) hit all 32 banks. In the
// sm_90a module the pieces follow wgmma's 128-byte swizzle instead (piece p of token t at p ^ (t % 8): wgmma.cuh).
#ifdef ST_WGMMA
#define ST_X_PIECE(p, t) ((p) ^ ((t) & 7))
#else
#define ST_X_PIECE(p, t) ((p) ^ (((t) & 1) << 2))
#endif
template <int WARPS>
__device__ __forceinline__ void st_load_x(unsigned short* stage, const unsigned short* xh, int npad, int cols, int k,
                                          int k1) {
    for (int i = threadIdx.x; i < npad * 8; i += WARPS * 32) {
        int t = i >> 3;
        int p = i & 7;
        int c = k + 8 * p;
        cp_async16(stage + t * ST_KC + (ST_X_PIECE(p, t) << 3), xh + (size_t) t * cols + (c < k1 ? c : 0), c < k1);
    }
}

// A warp's 16-row tile of results into o [nOut, rows]: this lane's acc[t] = {row ra token 8t+2q, token 8t+2q+1, row
// ra+8 the same tokens}; rows past the matrix and tokens past nOut are not stored.
__device__ __forceinline__ void st_store(float* o, const float (&acc)[ST_MAX_TILES][4], int tiles8, int nOut, int rows,
                                         int ra, int q) {
    bool inA = ra < rows;
    bool inB = ra + 8 < rows;
#pragma unroll
    for (int t = 0; t < ST_MAX_TILES; t++) {
        if (t < tiles8) {
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int tok = 8 * t + 2 * q + j;
                if (tok < nOut) {
                    if (inA) {
                        o[(size_t) tok * rows + ra] = acc[t][j];
                    }
                    if (inB) {
                        o[(size_t) tok * rows + ra + 8] = acc[t][2 + j];
                    }
                }
            }
        }
    }
}

// Block (rows blockRow * WARPS * 16 * MT .. + WARPS * 16 * MT, K range `split`) of the product. out: partial sums
// [splits, nOut, rows] (nOut = npad), or y [n, rows] itself when there is one split (nOut = n). Returns at once (whole
// block) when the matrix has fewer splits (a grouped launch sizes grid.y for the matrix with the most).
// MT: 16-row m-tiles per warp. With MT = 2 (the _tall kernels, packed weights only) a warp serves 32 rows and reads
// each activation fragment from shared memory once for both tiles: half the shared-memory reads per weight byte (at
// 64 tokens a warp's B reads are 4x its weight bytes with one tile); the register budget of 1 block per SM holds the
// second tile's accumulators and weights. Every output sums the same k in the same order, so the bits are MT = 1's.
template <typename T, int WARPS, bool PACKED, int MT = 1>
__device__ __forceinline__ void matmul_stream_block(const unsigned short* w, const unsigned short* xh, float* out,
                                                    int tiles8, int nOut, int rows, int cols, int kChunk, int blockRow,
                                                    int split) {
    static_assert(MT == 1 || PACKED, "32-row warps read packed weights only");
#ifdef ST_WGMMA
    static_assert(PACKED, "warpgroup MMAs read weights packed by pack_stream_weights_wg");
    __shared__ __align__(1024) unsigned short xs[ST_STAGES][ST_MAX_TILES * 8 * ST_KC]; // 5 x 8 KB, swizzle atoms aligned
#else
    __shared__ __align__(128) unsigned short xs[ST_STAGES][ST_MAX_TILES * 8 * ST_KC]; // 5 x 8 KB
#endif
#ifdef ST_PDL
    pdl_trigger(); // the next product's blocks may take SMs as this launch's free up: they wait for its end
#endif
    int k0 = split * kChunk;
    if (k0 >= cols) {
#ifdef ST_PDL
        pdl_wait(); // every block waits, so that this launch's end implies its predecessor's
#endif
        return; // block-uniform, before any barrier
    }
    int k1 = min(cols, k0 + kChunk);
    int chunks = (k1 - k0 + ST_KC - 1) / ST_KC;
    int npad = tiles8 * 8;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int g = lane >> 2;
    int q = lane & 3;
    int r0 = blockRow * WARPS * 16 * MT + warp * 16 * MT + g; // this lane's rows: r0 + 16 i and r0 + 16 i + 8 of tile i
    bool in0 = r0 < rows;
    bool in1 = r0 + 8 < rows;
    const unsigned short* w0 = w + (size_t) (in0 ? r0 : 0) * cols;
    const unsigned short* w1 = w + (size_t) (in1 ? r0 + 8 : 0) * cols;
    // packed: this lane's place in the warp's first tile of the split (row group (blockRow * WARPS + warp) * MT); the
    // warp's tile i is i row groups further
    size_t groupStride = (size_t) ((cols + ST_KC - 1) / ST_KC) * (16 * ST_KC);
    const unsigned short* wp = w + (size_t) (blockRow * WARPS + warp) * MT * groupStride + (size_t) (k0 / ST_KC) * (16 * ST_KC)
            + lane * 8;

    float acc[MT][ST_MAX_TILES][4];
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int t = 0; t < ST_MAX_TILES; t++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                acc[i][t][j] = 0.0f;
            }
        }
    }
    uint4 wr[ST_DEPTH][4 * MT];
#ifdef ST_WGMMA
    st_zero_pad_wg<WARPS>(&xs[0][0], npad);
#endif
#pragma unroll
    for (int d = 0; d < ST_DEPTH; d++) {
        if (d < chunks) {
            if (PACKED) {
#pragma unroll
                for (int i = 0; i < MT; i++) {
                    st_load_packed(&wr[d][4 * i], wp + i * groupStride + d * (16 * ST_KC));
                }
            } else {
                st_load_chunk(wr[d], w0, w1, in0, in1, k0 + d * ST_KC, k1, q);
            }
#ifndef ST_PDL
            st_load_x<WARPS>(xs[d], xh, npad, cols, k0 + d * ST_KC, k1);
#endif
        }
#ifndef ST_PDL
        cp_async_commit(); // one group per chunk (empty past the end): the wait below counts on it
#endif
    }
#ifdef ST_PDL
    // The first ST_DEPTH chunks of weights (constant: no predecessor writes them) are on their way; under a
    // programmatic launch they overlap the end of the kernel before. Everything else waits for it.
    pdl_wait();
#pragma unroll
    for (int d = 0; d < ST_DEPTH; d++) {
        if (d < chunks) {
            st_load_x<WARPS>(xs[d], xh, npad, cols, k0 + d * ST_KC, k1);
        }
        cp_async_commit();
    }
#endif
    // B reads: token 8t + g, half h at piece 4h + q, halves swapped on odd tokens (g odd).
#ifndef ST_WGMMA
    int bLo = g * ST_KC + ((0 ^ (g & 1)) * 4 + q) * 8;
    int bHi = g * ST_KC + ((1 ^ (g & 1)) * 4 + q) * 8;
#endif
    for (int c0 = 0; c0 < chunks; c0 += ST_DEPTH) {
#pragma unroll
        for (int d = 0; d < ST_DEPTH; d++) {
            int c = c0 + d;
            if (c < chunks) { // block-uniform
                cp_async_wait<ST_DEPTH - 1>(); // this thread's copies of chunk c have landed
#ifdef ST_WGMMA
                wg_fence_proxy(); // and are visible to the tensor cores' reads of shared memory
#endif
                __syncthreads(); // everyone's have; chunk c - 1 is consumed, its stage is free
                int next = c + ST_DEPTH;
                if (next < chunks) {
                    st_load_x<WARPS>(xs[next % ST_STAGES], xh, npad, cols, k0 + next * ST_KC, k1);
                }
                cp_async_commit();
                const unsigned short* xc = xs[c % ST_STAGES];
#ifdef ST_WGMMA
                // the chunk's four k16 steps, each a warpgroup MMA over all 64 tokens: piece j is step j's A
                wg_fence();
#pragma unroll
                for (int i = 0; i < MT; i++) {
#pragma unroll
                    for (int j = 0; j < 4; j++) {
                        wg_mma_n64(acc[i], wr[d][4 * i + j], xc, j, (T*) 0);
                    }
                }
                wg_commit_wait(); // before the weight registers are refilled and the stage is reused
#else
#pragma unroll
                for (int t = 0; t < ST_MAX_TILES; t++) {
                    if (t < tiles8) {
                        uint4 lo = *(const uint4*) (xc + t * 8 * ST_KC + bLo);
                        uint4 hi = *(const uint4*) (xc + t * 8 * ST_KC + bHi);
                        // the four k16 steps of the chunk: pieces lo (k + 8q ..) then hi (k + 32 + 8q ..), 4 k each
#pragma unroll
                        for (int i = 0; i < MT; i++) {
                            const uint4* a = &wr[d][4 * i];
                            mma_m16n8k16(acc[i][t], a[0].x, a[2].x, a[0].y, a[2].y, lo.x, lo.y, (T*) 0);
                            mma_m16n8k16(acc[i][t], a[0].z, a[2].z, a[0].w, a[2].w, lo.z, lo.w, (T*) 0);
                            mma_m16n8k16(acc[i][t], a[1].x, a[3].x, a[1].y, a[3].y, hi.x, hi.y, (T*) 0);
                            mma_m16n8k16(acc[i][t], a[1].z, a[3].z, a[1].w, a[3].w, hi.z, hi.w, (T*) 0);
                        }
                    }
                }
#endif
                if (next < chunks) {
                    if (PACKED) {
#pragma unroll
                        for (int i = 0; i < MT; i++) {
                            st_load_packed(&wr[d][4 * i], wp + i * groupStride + (size_t) next * (16 * ST_KC));
                        }
                    } else {
                        st_load_chunk(wr[d], w0, w1, in0, in1, k0 + next * ST_KC, k1, q);
                    }
                }
            }
        }
    }
    cp_async_wait<0>();
    // acc[i][t]: {row r0 + 16i token 8t+2q, same row token 8t+2q+1, row r0 + 16i + 8 token 8t+2q, same row 8t+2q+1}
    float* o = out + (size_t) split * nOut * rows;
#pragma unroll
    for (int i = 0; i < MT; i++) {
        st_store(o, acc[i], tiles8, nOut, rows, r0 + 16 * i, q);
    }
}

// grid (ceil(rows / 128), splits), block 256; the wide ones: grid (ceil(rows / 256), splits), block 512. The _packed
// ones read w as pack_stream_weights wrote it.
#define ST_ARGS const unsigned short* w, const unsigned short* xh, float* out, int tiles8, int nOut, int rows, int cols, \
    int kChunk
#define ST_PASS w, xh, out, tiles8, nOut, rows, cols, kChunk, blockIdx.x, blockIdx.y
#define ST_KERNELS(name, warps, minBlocks, packed, mt) \
    extern "C" __global__ void __launch_bounds__(warps * 32, minBlocks) name##_bf16(ST_ARGS) { \
        matmul_stream_block<__nv_bfloat16, warps, packed, mt>(ST_PASS); \
    } \
    extern "C" __global__ void __launch_bounds__(warps * 32, minBlocks) name##_f16(ST_ARGS) { \
        matmul_stream_block<__half, warps, packed, mt>(ST_PASS); \
    }
#ifndef ST_WGMMA // the sm_90a module: packed weights only
ST_KERNELS(matmul_stream, 8, 2, false, 1)
ST_KERNELS(matmul_stream_wide, 16, 1, false, 1)
#endif
ST_KERNELS(matmul_stream_packed, 8, 2, true, 1)
ST_KERNELS(matmul_stream_wide_packed, 16, 1, true, 1)
// 8 warps of 32 rows: grid (ceil(rows / 256), splits), block 256, packed weights
ST_KERNELS(matmul_stream_tall_packed, 8, 1, true, 2)

// Prefill and mixed steps (more than 64 tokens) as 64-token slices of one launch: grid (ceil(rows / 128), slices),
// block 256; slice z reads xh rows 64z.. (the activations of all n tokens rounded and padded to whole 8-token tiles
// by to_half_padded) and writes y rows 64z.. (at most 64, fewer in the last slice) with one K range over all cols.
// Every weight is read once per slice, as the tiled WMMA kernel reads it once per 64-token block column, but
// in 16-byte pieces straight into tensor-core fragments. Bit for bit matmul_stream of each slice with one split.
// The _tall_ ones: 32-row warps on packed weights (256-row blocks, grid (ceil(rows / 256), slices)), the same bits.
#define ST_SLICE_ARGS const unsigned short* w, const unsigned short* xh, float* y, int n, int rows, int cols
#define ST_SLICE_KERNEL(name, T, packed, mt, minBlocks) \
    extern "C" __global__ void __launch_bounds__(256, minBlocks) name(ST_SLICE_ARGS) { \
        int t0 = blockIdx.y * 64; \
        int nOut = min(64, n - t0); \
        matmul_stream_block<T, 8, packed, mt>(w, xh + (size_t) t0 * cols, y + (size_t) t0 * rows, (nOut + 7) / 8, nOut, \
                                              rows, cols, cols, blockIdx.x, 0); \
    }
#ifndef ST_WGMMA
ST_SLICE_KERNEL(matmul_stream_slices_bf16, __nv_bfloat16, false, 1, 2)
ST_SLICE_KERNEL(matmul_stream_slices_f16, __half, false, 1, 2)
#endif
ST_SLICE_KERNEL(matmul_stream_packed_slices_bf16, __nv_bfloat16, true, 1, 2)
ST_SLICE_KERNEL(matmul_stream_packed_slices_f16, __half, true, 1, 2)
ST_SLICE_KERNEL(matmul_stream_tall_packed_slices_bf16, __nv_bfloat16, true, 2, 1)
ST_SLICE_KERNEL(matmul_stream_tall_packed_slices_f16, __half, true, 2, 1)

// Where 16-byte piece i of a packed copy goes: tile (row group rg, chunk kc) of ceil(cols / 64) = cpr per group, the
// j-th piece of lane `lane`.
__device__ __forceinline__ void pack_piece(size_t i, int cpr, int& lane, int& j, int& kc, int& rg) {
    lane = (int) (i & 31);
    j = (int) ((i >> 5) & 3);
    size_t tile = i >> 7;
    kc = (int) (tile % cpr);
    rg = (int) (tile / cpr);
}

#ifndef ST_WGMMA // (the sm_90a module has its own packing, below)
// W [rows, cols] row-major rearranged for the _packed kernels: p holds `groups` (a multiple of 16, >= rows / 16) row
// groups of ceil(cols / 64) tiles of 2 KB; in tile (group rg, chunk kc), the 16-byte piece j * 32 + lane is what that
// lane of the warp serving rows rg * 16 .. + 16 loads as its j-th piece of the chunk (st_load_chunk's order: row
// rg * 16 + lane / 4, then the row 8 below it; k pieces kc * 64 + 8 * (lane % 4), then 32 further). Zeros outside W.
extern "C" __global__ void pack_stream_weights(const unsigned short* w, unsigned short* p, int rows, int cols, int groups) {
    int cpr = (cols + ST_KC - 1) / ST_KC;
    size_t total = (size_t) groups * cpr * 128;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        int lane, j, kc, rg;
        pack_piece(i, cpr, lane, j, kc, rg);
        int r = rg * 16 + (lane >> 2) + (j >= 2 ? 8 : 0);
        int c = kc * ST_KC + (lane & 3) * 8 + (j & 1) * 32;
        uint4 v = {0, 0, 0, 0};
        if (r < rows && c < cols) {
            v = *(const uint4*) (w + (size_t) r * cols + c);
        }
        ((uint4*) p)[i] = v;
    }
}
#else
// W [rows, cols] row-major rearranged for the sm_90a module's kernels, in the tiles of pack_stream_weights (groups of 16
// rows, chunks of 64 k, 2 KB, the 16-byte piece j * 32 + lane loaded by that lane as its j-th piece), but each piece
// is the lane's A fragment of k16 step j: rows r = 16 rg + lane / 4 and r + 8, k = 64 kc + 16 j + 2 (lane % 4):
// {W[r][k], W[r][k+1], W[r+8][k], W[r+8][k+1], W[r][k+8], W[r][k+9], W[r+8][k+8], W[r+8][k+9]}. Zeros outside W.
extern "C" __global__ void pack_stream_weights_wg(const unsigned short* w, unsigned short* p, int rows, int cols,
                                                  int groups) {
    int cpr = (cols + ST_KC - 1) / ST_KC;
    size_t total = (size_t) groups * cpr * 128;
    for (size_t i = (size_t) blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        int lane, j, kc, rg;
        pack_piece(i, cpr, lane, j, kc, rg);
        int r = rg * 16 + (lane >> 2);
        int k = kc * ST_KC + 16 * j + 2 * (lane & 3);
        unsigned short v[8];
#pragma unroll
        for (int e = 0; e < 8; e++) {
            int rr = r + 8 * ((e >> 1) & 1);
            int kk = k + (e & 1) + 8 * (e >> 2);
            v[e] = rr < rows && kk < cols ? w[(size_t) rr * cols + kk] : 0;
        }
        ((uint4*) p)[i] = make_uint4(v[0] | ((unsigned) v[1] << 16), v[2] | ((unsigned) v[3] << 16),
                                     v[4] | ((unsigned) v[5] << 16), v[6] | ((unsigned) v[7] << 16));
    }
}
#endif

// Up to three products of the same activations in one launch (Wq, Wk, Wv; or gate and up with rows2 = 0), like
// matmul_skinny_group: blocks 0..b0-1 of grid.x serve w0, the next b1 w1, the next b2 w2 (b = ceil(rows / rows
// per block)); grid.y is the largest split count; matrix m's partial sums [splits_m, npad, rows_m] follow those of
// m - 1 in part, as splitk_reduce_group and splitk_reduce_swiglu (matmul.cu) read them. Bit for bit the partial
// sums of separate matmul_stream launches with the same chunks.
//
// With epi != EPI_NONE the product also reduces its own partial sums: the block that stores the last of a tile's sums
// does that tile's split-K reduction and what followed it in a separate launch, so there is no reduction kernel, and
// each tile is reduced as soon as its sums are in, beside other tiles' products, instead of after the whole grid. A
// tile's blocks count their arrivals in counters[tile] (last_arrival: zero before the launch, reset by the last one);
// the last reads the others' sums from L2 and applies, per output, the separate kernel's arithmetic (reduce.cuh): the
// same bits.
//  - EPI_SWIGLU (gate, up; rows2 = 0): the tile is row block b of gate and of up, counter b, splits0 + splits1
//    arrivals; y0 [n, rows] = silu(gate) * up (splitk_reduce_swiglu) and, when yh is set, yh [npad, rows] its 16-bit
//    copy with padding tokens zero (splitk_reduce_swiglu_h).
//  - EPI_ROPE_KV (Wq, Wk, Wv): the tile is one row block of one matrix, counter bx (its index in the launch); its heads
//    (rows per block a multiple of headDim: the host checks) get bias, RoPE and the KV write of splitk_reduce_rope_kv,
//    into y0 = q, y1 = k, y2 = v and cache rows slots[t] (keys, values: F16 when f16Kv, else F32).
//  - EPI_RESIDUAL (one matrix: Wo or down; rows1 = rows2 = 0): the tile is one row block, counter bx; the residual
//    stream y0 = x [n, rows] gets the sums added, x += sum (splitk_reduce, then the add of add_rmsnorm_vec or
//    add_inplace), so the next norm reads x alone.
// n: the real tokens (npad = tiles8 * 8). With EPI_NONE the arguments after epi are not read.
#define EPI_NONE 0
#define EPI_SWIGLU 1
#define EPI_ROPE_KV 2
#define EPI_RESIDUAL 3
#define EPI_BATCH 4 // outputs a thread of the reducing block sums at once (their loads in flight together)

__device__ __forceinline__ void add4(float4& a, float4 b) {
    a.x += b.x;
    a.y += b.y;
    a.z += b.z;
    a.w += b.w;
}

// This block's place in a grouped launch: bx, its row block in the launch (blocks 0..b0-1 matrix 0, ...), and its
// split. Partial sums only: grid (row blocks, splits). With a reduction the host launches grid (splits, row blocks),
// so that a tile's blocks are dispatched back to back (blocks go out in blockIdx order, x first): a row block's splits,
// for SwiGLU those of gate's row block b (grid.y 2b) and then of up's (2b + 1; b0 == b1). Tiles then finish one after
// another through the launch and each one's reduction overlaps the products of those still running, where the
// split-major order would finish them all in the last wave. (The split stays a block index the compiler can read
// again: a computed one held in a register through the product made the 128-register kernels spill.)
__device__ __forceinline__ int2 group_block(int epi, int b0) {
    if (epi == EPI_NONE) {
        return make_int2(blockIdx.x, blockIdx.y);
    }
    int y = blockIdx.y;
    return make_int2(epi == EPI_SWIGLU ? (y >> 1) + (y & 1) * b0 : y, blockIdx.x);
}

// The reduction of matmul_stream_group's epi (below): one copy in the module, called by every grouped kernel after
// its product (the reduction reads and writes memory; a call costs nothing next to that). It works out the block's
// matrix, row block and split again from the launch's arguments, so that nothing of it stays live in registers through
// the product. wt: the 16-bit type of yh (WT_BF16 or WT_F16).
__device__ __noinline__ void group_epilogue(int epi, int rowsPerBlock, int tiles8, int cols, int rows0, int rows1,
                                            int rows2, int chunk0, int chunk1, int chunk2, const float* part, int n,
                                            int* counters, float* y0, float* y1, float* y2, unsigned short* yh, int wt,
                                            const float* bias0, const float* bias1, const float* bias2,
                                            const int* positions, const float* invFreq, const int* slots, void* keys,
                                            void* values, int f16Kv, int headDim, int neox) {
    int npad = tiles8 * 8;
    int b0 = (rows0 + rowsPerBlock - 1) / rowsPerBlock;
    int b1 = (rows1 + rowsPerBlock - 1) / rowsPerBlock;
    int2 at = group_block(epi, b0);
    int bx = at.x;
    int m = bx < b0 ? 0 : bx < b0 + b1 ? 1 : 2;
    int b = bx - (m == 0 ? 0 : m == 1 ? b0 : b0 + b1);
    int rows = m == 0 ? rows0 : m == 1 ? rows1 : rows2;
    int chunk = m == 0 ? chunk0 : m == 1 ? chunk1 : chunk2;
    if (at.y * chunk >= cols) {
        return; // a split this matrix does not have: no sums, not counted (block-uniform)
    }
    int splits0 = (cols + chunk0 - 1) / chunk0;
    int splits1 = (cols + chunk1 - 1) / chunk1;
    int splits2 = (cols + chunk2 - 1) / chunk2;
    const float* part1 = part + (size_t) splits0 * npad * rows0;
    const float* p = m == 0 ? part : m == 1 ? part1 : part1 + (size_t) splits1 * npad * rows1;
    int r0 = b * rowsPerBlock;
    int r1 = min(rows, r0 + rowsPerBlock);
    if (epi == EPI_SWIGLU) { // gate and up have the same rows
        if (!last_arrival(counters + b, splits0 + splits1)) {
            return;
        }
        // items of 4 rows (rows % 16 == 0) of one token: 16-byte loads of the partial sums, split by split for
        // EPI_BATCH items at once, so that each thread has that many loads in flight; every sum adds its splits in
        // order from 0, as splitk_sum does
        int quads = (r1 - r0) / 4;
        int tokens = yh ? npad : n;
        int items = tokens * quads;
        int most = max(splits0, splits1);
        for (int base = threadIdx.x; base < items; base += EPI_BATCH * blockDim.x) {
            size_t off[EPI_BATCH];
            int tok[EPI_BATCH];
            float4 g[EPI_BATCH];
            float4 u[EPI_BATCH];
#pragma unroll
            for (int j = 0; j < EPI_BATCH; j++) {
                int idx = base + j * blockDim.x;
                tok[j] = idx < items ? idx / quads : npad; // npad: no item
                off[j] = idx < items ? (size_t) tok[j] * rows + r0 + 4 * (idx % quads) : 0;
                g[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                u[j] = g[j];
            }
            for (int sp = 0; sp < most; sp++) {
#pragma unroll
                for (int j = 0; j < EPI_BATCH; j++) {
                    if (tok[j] < n) {
                        if (sp < splits0) {
                            add4(g[j], load4_l2(part + (size_t) sp * npad * rows + off[j]));
                        }
                        if (sp < splits1) {
                            add4(u[j], load4_l2(part1 + (size_t) sp * npad * rows + off[j]));
                        }
                    }
                }
            }
#pragma unroll
            for (int j = 0; j < EPI_BATCH; j++) {
                if (tok[j] >= tokens) {
                    continue; // no item
                }
                unsigned short h[4] = {0, 0, 0, 0}; // a padding token's copy is zero
                if (tok[j] < n) {
                    float4 v = make_float4(swiglu_value(g[j].x, u[j].x), swiglu_value(g[j].y, u[j].y),
                                           swiglu_value(g[j].z, u[j].z), swiglu_value(g[j].w, u[j].w));
                    *(float4*) (y0 + off[j]) = v;
                    float vs[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        h[e] = wt == WT_BF16 ? to_bits(vs[e], (__nv_bfloat16*) 0) : to_bits(vs[e], (__half*) 0);
                    }
                }
                if (yh) {
                    *(ushort4*) (yh + off[j]) = make_ushort4(h[0], h[1], h[2], h[3]);
                }
            }
        }
        return;
    }
    int splits = m == 0 ? splits0 : m == 1 ? splits1 : splits2;
    if (!last_arrival(counters + bx, splits)) {
        return;
    }
    if (epi == EPI_RESIDUAL) { // rows % 16 == 0 (the host checks): items of 4 rows of one token, as for SwiGLU
        int quads = (r1 - r0) / 4;
        int items = n * quads;
        for (int base = threadIdx.x; base < items; base += EPI_BATCH * blockDim.x) {
            size_t off[EPI_BATCH];
            float4 sum[EPI_BATCH];
#pragma unroll
            for (int j = 0; j < EPI_BATCH; j++) {
                int idx = base + j * blockDim.x;
                off[j] = idx < items ? (size_t) (idx / quads) * rows + r0 + 4 * (idx % quads) : 0;
                sum[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            }
            for (int sp = 0; sp < splits; sp++) {
#pragma unroll
                for (int j = 0; j < EPI_BATCH; j++) {
                    if (base + j * blockDim.x < items) {
                        add4(sum[j], load4_l2(p + (size_t) sp * npad * rows + off[j]));
                    }
                }
            }
#pragma unroll
            for (int j = 0; j < EPI_BATCH; j++) {
                if (base + j * blockDim.x < items) {
                    float4 x = *(const float4*) (y0 + off[j]);
                    add4(x, sum[j]); // x + sum, as the norm adds them
                    *(float4*) (y0 + off[j]) = x;
                }
            }
        }
        return;
    }
    // items: one RoPE pair of one token, EPI_BATCH at a time as above (whole heads: rowsPerBlock % headDim == 0)
    int half = headDim / 2;
    int pairs = (r1 - r0) / 2;
    int items = n * pairs;
    float* y = m == 0 ? y0 : m == 1 ? y1 : y2;
    const float* bias = m == 0 ? bias0 : m == 1 ? bias1 : bias2;
    void* cache = m == 1 ? keys : m == 2 ? values : nullptr;
    for (int base = threadIdx.x; base < items; base += EPI_BATCH * blockDim.x) {
        int tok[EPI_BATCH];
        int fi[EPI_BATCH];
        int2 pr[EPI_BATCH];
        float x0[EPI_BATCH];
        float x1[EPI_BATCH];
#pragma unroll
        for (int j = 0; j < EPI_BATCH; j++) {
            int idx = base + j * blockDim.x;
            int pj = idx % pairs;
            tok[j] = idx < items ? idx / pairs : n; // n: no item
            fi[j] = pj % half;
            pr[j] = rope_pair_rows(r0 / headDim + pj / half, fi[j], headDim, neox);
            x0[j] = 0.0f;
            x1[j] = 0.0f;
        }
        for (int sp = 0; sp < splits; sp++) {
#pragma unroll
            for (int j = 0; j < EPI_BATCH; j++) {
                if (tok[j] < n) {
                    const float* row = p + ((size_t) sp * npad + tok[j]) * rows;
                    x0[j] += load_l2(row + pr[j].x);
                    x1[j] += load_l2(row + pr[j].y);
                }
            }
        }
#pragma unroll
        for (int j = 0; j < EPI_BATCH; j++) {
            if (tok[j] >= n) {
                continue;
            }
            if (f16Kv) {
                rope_kv_finish<unsigned short>(x0[j], x1[j], pr[j].x, pr[j].y, fi[j], tok[j], rows, bias, y,
                                               (unsigned short*) cache, m, positions, invFreq, slots);
            } else {
                rope_kv_finish<float>(x0[j], x1[j], pr[j].x, pr[j].y, fi[j], tok[j], rows, bias, y, (float*) cache, m,
                                      positions, invFreq, slots);
            }
        }
    }
}

__device__ __forceinline__ int weight_type_of(__nv_bfloat16*) { return WT_BF16; }
__device__ __forceinline__ int weight_type_of(__half*) { return WT_F16; }

template <typename T, int WARPS, bool PACKED, int MT = 1>
__device__ __forceinline__ void matmul_stream_group(
        const unsigned short* w0, const unsigned short* w1, const unsigned short* w2, const unsigned short* xh,
        float* part, int tiles8, int cols, int rows0, int rows1, int rows2, int chunk0, int chunk1, int chunk2, int epi,
        int n, int* counters, float* y0, float* y1, float* y2, unsigned short* yh, const float* bias0,
        const float* bias1, const float* bias2, const int* positions, const float* invFreq, const int* slots,
        void* keys, void* values, int f16Kv, int headDim, int neox) {
    // pick the matrix first, then one copy of the block code (three inlined copies would spill registers)
    const int rowsPerBlock = WARPS * 16 * MT;
    int npad = tiles8 * 8;
    int b0 = (rows0 + rowsPerBlock - 1) / rowsPerBlock;
    int b1 = (rows1 + rowsPerBlock - 1) / rowsPerBlock;
    int splits0 = (cols + chunk0 - 1) / chunk0;
    int splits1 = (cols + chunk1 - 1) / chunk1;
    float* part1 = part + (size_t) splits0 * npad * rows0;
    float* part2 = part1 + (size_t) splits1 * npad * rows1;
    int2 at = group_block(epi, b0);
    int bx = at.x;
    int m = bx < b0 ? 0 : bx < b0 + b1 ? 1 : 2;
    int b = bx - (m == 0 ? 0 : m == 1 ? b0 : b0 + b1);
    const unsigned short* w = m == 0 ? w0 : m == 1 ? w1 : w2;
    float* p = m == 0 ? part : m == 1 ? part1 : part2;
    int rows = m == 0 ? rows0 : m == 1 ? rows1 : rows2;
    int chunk = m == 0 ? chunk0 : m == 1 ? chunk1 : chunk2;
    matmul_stream_block<T, WARPS, PACKED, MT>(w, xh, p, tiles8, npad, rows, cols, chunk, b, at.y);
    if (epi != EPI_NONE) {
        group_epilogue(epi, rowsPerBlock, tiles8, cols, rows0, rows1, rows2, chunk0, chunk1, chunk2, part, n, counters, y0,
                       y1, y2, yh, weight_type_of((T*) 0), bias0, bias1, bias2, positions, invFreq, slots, keys, values,
                       f16Kv, headDim, neox);
    }
}

#define ST_GROUP_ARGS const unsigned short* w0, const unsigned short* w1, const unsigned short* w2, \
    const unsigned short* xh, float* part, int tiles8, int cols, int rows0, int rows1, int rows2, int chunk0, int chunk1, \
    int chunk2, int epi, int n, int* counters, float* y0, float* y1, float* y2, unsigned short* yh, const float* bias0, \
    const float* bias1, const float* bias2, const int* positions, const float* invFreq, const int* slots, void* keys, \
    void* values, int f16Kv, int headDim, int neox
#define ST_GROUP_PASS w0, w1, w2, xh, part, tiles8, cols, rows0, rows1, rows2, chunk0, chunk1, chunk2, epi, n, counters, \
    y0, y1, y2, yh, bias0, bias1, bias2, positions, invFreq, slots, keys, values, f16Kv, headDim, neox
#define ST_GROUP_KERNELS(name, warps, minBlocks, packed, mt) \
    extern "C" __global__ void __launch_bounds__(warps * 32, minBlocks) name##_bf16(ST_GROUP_ARGS) { \
        matmul_stream_group<__nv_bfloat16, warps, packed, mt>(ST_GROUP_PASS); \
    } \
    extern "C" __global__ void __launch_bounds__(warps * 32, minBlocks) name##_f16(ST_GROUP_ARGS) { \
        matmul_stream_group<__half, warps, packed, mt>(ST_GROUP_PASS); \
    }
#ifndef ST_WGMMA
ST_GROUP_KERNELS(matmul_stream_group, 8, 2, false, 1)
ST_GROUP_KERNELS(matmul_stream_wide_group, 16, 1, false, 1)
#endif
ST_GROUP_KERNELS(matmul_stream_packed_group, 8, 2, true, 1)
ST_GROUP_KERNELS(matmul_stream_wide_packed_group, 16, 1, true, 1)
ST_GROUP_KERNELS(matmul_stream_tall_packed_group, 8, 1, true, 2)

#ifndef ST_WGMMA // the sm_90a module holds the 16-bit products only
// ---- Q8_0 and Q4_K weights on tensor cores ----
// The same streaming product for quantized weights as the device holds them (DeviceMatrix), with F16 activations
// (to_half_padded_f16). Q8_0: int8 quants [rows, cols] and a float scale per 32 [rows, cols / 32]. Q4_K (the CPU's
// planes, tensor.QuantPlanes): nibbles [rows, cols / 2] in ggml's order, each 64-value chunk 32 bytes whose low nibbles
// are its values 0..31 and high nibbles 32..63, and per 32 values a float (scale, min) pair: w = scale q - min.
// A lane loads 8 bytes per row and chunk where the 16-bit kernels load 32 (Q8_0: its lo and hi pieces, 1.06 bytes a
// weight; Q4_K: one 8-byte run whose low nibbles are the lo piece and high nibbles the hi piece, 0.56 bytes a weight),
// widens the quants to F16 (exact: small integers) into the same A-fragment places, and the mma sums q x over each
// 32-wide block in float: a 64-k chunk's first two k16 steps are its first block (pieces k + 8q), the last two its
// second (k + 32 + 8q), so each block's sum is scaled once, in float, before it joins the accumulator. Q4_K subtracts
// min times the block's sum of the F16 activations, which half_block_sums computes beforehand (xsum, chunk-major
// [cols / 64][sumStride][2], staged into shared memory with each chunk). Only the activations' F16 rounding (and the
// order of the sums) separates the result from the CPU's product. Needs cols % 32 == 0 (Q8_0) or % 64 == 0 (Q4_K);
// any rows; kChunk % 64 == 0.
#ifdef INFERSTREAM_EMULATE
__device__ __forceinline__ uint2 st_load_q8(const void* p, bool valid) {
    uint2 v = {0, 0};
    if (valid) {
        emu::check_read(p, 8, "weights");
        std::memcpy(&v, p, 8);
    }
    return v;
}
#else
// 8 bytes of quants, read once (as st_load_weights). Zero when !valid (nothing read).
__device__ __forceinline__ uint2 st_load_q8(const void* p, bool valid) {
    uint2 v;
    asm volatile(
        "{\n"
        " .reg .pred p;\n"
        " setp.ne.b32 p, %3, 0;\n"
        " mov.b32 %0, 0;\n"
        " mov.b32 %1, 0;\n"
        " @p ld.global.nc.L1::no_allocate.L2::256B.v2.u32 {%0, %1}, [%2];\n"
        "}\n"
        : "=r"(v.x), "=r"(v.y)
        : "l"(p), "r"((int) valid));
    return v;
}
#endif

__device__ __forceinline__ unsigned f16x2_of(int a, int b) {
    return (unsigned) to_bits((float) a, (__half*) 0) | ((unsigned) to_bits((float) b, (__half*) 0) << 16);
}

// Quantized formats of matmul_stream_quant_block.
#define QF_Q8_0 0
#define QF_Q4_K 1
#define QF_Q6_K 2

// The four int8 of w (bytes 0..3) as two F16 pairs: {b0, b1} and {b2, b3}, low half first. Exact.
__device__ __forceinline__ void q8_to_f16x2(unsigned w, unsigned& a, unsigned& b) {
    a = f16x2_of((signed char) (w & 0xffu), (signed char) ((w >> 8) & 0xffu));
    b = f16x2_of((signed char) ((w >> 16) & 0xffu), (signed char) (w >> 24));
}

// Q6_K: the four int8 of w times their group's scale, each product rounded to F16 (the one rounding of the weights,
// as when Q6_K is decoded to F16 at upload): {b0, b1} and {b2, b3}.
__device__ __forceinline__ void q6_to_f16x2(unsigned w, float scale, unsigned& a, unsigned& b) {
    a = (unsigned) to_bits(scale * (float) (signed char) (w & 0xffu), (__half*) 0)
        | ((unsigned) to_bits(scale * (float) (signed char) ((w >> 8) & 0xffu), (__half*) 0) << 16);
    b = (unsigned) to_bits(scale * (float) (signed char) ((w >> 16) & 0xffu), (__half*) 0)
        | ((unsigned) to_bits(scale * (float) (signed char) (w >> 24), (__half*) 0) << 16);
}

// The eight nibbles of w's four bytes: low nibbles as F16 pairs lo {b0, b1}, {b2, b3}; high nibbles likewise. Exact.
__device__ __forceinline__ void q4_to_f16x2(unsigned w, unsigned& lo0, unsigned& lo1, unsigned& hi0, unsigned& hi1) {
    lo0 = f16x2_of(w & 15u, (w >> 8) & 15u);
    lo1 = f16x2_of((w >> 16) & 15u, (w >> 24) & 15u);
    hi0 = f16x2_of((w >> 4) & 15u, (w >> 12) & 15u);
    hi1 = f16x2_of((w >> 20) & 15u, w >> 28);
}

// Quants and scales of the chunk at k for this lane. Q8_0 and Q6_K: dst {row r lo, row r hi, row r+8 lo, row r+8 hi}
// (pieces k + 8q and k + 32 + 8q); Q4_K: dst {row r, -, row r+8, -} (the 8 bytes holding both pieces). sc: {r lo scale,
// r hi scale, r+8 lo, r+8 hi} (Q6_K: the scale of the piece's 16-value group) then, for Q4_K, the four mins in that
// order (0 where nothing was loaded).
template <int FMT>
__device__ __forceinline__ void st_load_quant_chunk(uint2* dst, float* sc, const unsigned char* w0, const unsigned char* w1,
                                                    const float* s0, const float* s1, bool in0, bool in1, int k, int k1,
                                                    int q) {
    int lo = k + 8 * q;
    int hi = lo + 32;
    bool vlo = lo < k1;
    bool vhi = hi < k1;
    int b = k >> 5;
    if (FMT == QF_Q4_K) {
        int at = (k >> 1) + 8 * q; // the chunk's 32 bytes start at k / 2
        dst[0] = st_load_q8(w0 + at, in0 && vlo);
        dst[2] = st_load_q8(w1 + at, in1 && vlo);
        dst[1] = dst[3] = make_uint2(0, 0);
        sc[0] = in0 && vlo ? s0[2 * b] : 0.0f;
        sc[1] = in0 && vhi ? s0[2 * b + 2] : 0.0f;
        sc[2] = in1 && vlo ? s1[2 * b] : 0.0f;
        sc[3] = in1 && vhi ? s1[2 * b + 2] : 0.0f;
        sc[4] = in0 && vlo ? s0[2 * b + 1] : 0.0f;
        sc[5] = in0 && vhi ? s0[2 * b + 3] : 0.0f;
        sc[6] = in1 && vlo ? s1[2 * b + 1] : 0.0f;
        sc[7] = in1 && vhi ? s1[2 * b + 3] : 0.0f;
    } else {
        dst[0] = st_load_q8(w0 + lo, in0 && vlo);
        dst[1] = st_load_q8(w0 + hi, in0 && vhi);
        dst[2] = st_load_q8(w1 + lo, in1 && vlo);
        dst[3] = st_load_q8(w1 + hi, in1 && vhi);
        int glo = FMT == QF_Q6_K ? lo >> 4 : b; // Q6_K: a scale per 16, one per piece
        int ghi = FMT == QF_Q6_K ? hi >> 4 : b + 1;
        sc[0] = in0 && vlo ? s0[glo] : 0.0f;
        sc[1] = in0 && vhi ? s0[ghi] : 0.0f;
        sc[2] = in1 && vlo ? s1[glo] : 0.0f;
        sc[3] = in1 && vhi ? s1[ghi] : 0.0f;
    }
}

// Q4_K: the activations' block sums of the chunk at k for all npad tokens into one stage [npad][2] (16 bytes = 2 tokens).
__device__ __forceinline__ void st_load_sums(float* stage, const float* xsum, int npad, int sumStride, int k, int k1) {
    const float* src = xsum + (size_t) (k >> 6) * sumStride * 2;
    for (int i = threadIdx.x; i < npad / 2; i += blockDim.x) {
        cp_async16(stage + 4 * i, src + 4 * i, k < k1);
    }
}

// As matmul_stream_block (8 warps of 16 rows, ST_DEPTH chunks of weights in flight, the activation ring in shared
// memory), for Q8_0, Q4_K or Q6_K weights (FMT).
template <int FMT>
__device__ __forceinline__ void matmul_stream_quant_block(const unsigned char* wq, const float* ws, const unsigned short* xh,
                                                          const float* xsum, int sumStride, float* out, int tiles8,
                                                          int nOut, int rows, int cols, int kChunk, int blockRow,
                                                          int split) {
    constexpr int WARPS = 8;
    constexpr bool Q4 = FMT == QF_Q4_K;
    constexpr bool Q6 = FMT == QF_Q6_K;
    __shared__ __align__(128) unsigned short xs[ST_STAGES][ST_MAX_TILES * 8 * ST_KC];
    __shared__ __align__(16) float ss[Q4 ? ST_STAGES : 1][Q4 ? ST_MAX_TILES * 8 * 2 : 4];
#ifdef ST_PDL
    pdl_enter(); // (its weight loads are interleaved with the activations' below: it waits before any of them)
#endif
    int k0 = split * kChunk;
    if (k0 >= cols) {
        return; // block-uniform, before any barrier
    }
    int k1 = min(cols, k0 + kChunk);
    int chunks = (k1 - k0 + ST_KC - 1) / ST_KC;
    int npad = tiles8 * 8;
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int g = lane >> 2;
    int q = lane & 3;
    int r0 = blockRow * WARPS * 16 + warp * 16 + g;
    bool in0 = r0 < rows;
    bool in1 = r0 + 8 < rows;
    size_t rowBytes = Q4 ? (size_t) cols / 2 : (size_t) cols;
    size_t rowScales = Q4 ? (size_t) (cols >> 5) * 2 : Q6 ? (size_t) (cols >> 4) : (size_t) (cols >> 5);
    const unsigned char* w0 = wq + (in0 ? r0 : 0) * rowBytes;
    const unsigned char* w1 = wq + (in1 ? r0 + 8 : 0) * rowBytes;
    const float* s0 = ws + (in0 ? r0 : 0) * rowScales;
    const float* s1 = ws + (in1 ? r0 + 8 : 0) * rowScales;

    float acc[ST_MAX_TILES][4];
#pragma unroll
    for (int t = 0; t < ST_MAX_TILES; t++) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            acc[t][j] = 0.0f;
        }
    }
    uint2 wr[ST_DEPTH][4];
    float sc[ST_DEPTH][8];
#pragma unroll
    for (int d = 0; d < ST_DEPTH; d++) {
        if (d < chunks) {
            st_load_quant_chunk<FMT>(wr[d], sc[d], w0, w1, s0, s1, in0, in1, k0 + d * ST_KC, k1, q);
            st_load_x<WARPS>(xs[d], xh, npad, cols, k0 + d * ST_KC, k1);
            if (Q4) {
                st_load_sums(ss[d], xsum, npad, sumStride, k0 + d * ST_KC, k1);
            }
        }
        cp_async_commit();
    }
    int bLo = g * ST_KC + ((0 ^ (g & 1)) * 4 + q) * 8;
    int bHi = g * ST_KC + ((1 ^ (g & 1)) * 4 + q) * 8;
    for (int c0 = 0; c0 < chunks; c0 += ST_DEPTH) {
#pragma unroll
        for (int d = 0; d < ST_DEPTH; d++) {
            int c = c0 + d;
            if (c < chunks) { // block-uniform
                cp_async_wait<ST_DEPTH - 1>();
                __syncthreads();
                int next = c + ST_DEPTH;
                if (next < chunks) {
                    st_load_x<WARPS>(xs[next % ST_STAGES], xh, npad, cols, k0 + next * ST_KC, k1);
                    if (Q4) {
                        st_load_sums(ss[next % ST_STAGES], xsum, npad, sumStride, k0 + next * ST_KC, k1);
                    }
                }
                cp_async_commit();
                // this chunk's quants as F16 pairs, in the places st_load_chunk's halves would have
                unsigned a0lo[4], a0hi[4], a8lo[4], a8hi[4];
                if (Q4) {
                    q4_to_f16x2(wr[d][0].x, a0lo[0], a0lo[1], a0hi[0], a0hi[1]);
                    q4_to_f16x2(wr[d][0].y, a0lo[2], a0lo[3], a0hi[2], a0hi[3]);
                    q4_to_f16x2(wr[d][2].x, a8lo[0], a8lo[1], a8hi[0], a8hi[1]);
                    q4_to_f16x2(wr[d][2].y, a8lo[2], a8lo[3], a8hi[2], a8hi[3]);
                } else if (Q6) { // the scales go into the weights: the products need none after the mma
                    q6_to_f16x2(wr[d][0].x, sc[d][0], a0lo[0], a0lo[1]);
                    q6_to_f16x2(wr[d][0].y, sc[d][0], a0lo[2], a0lo[3]);
                    q6_to_f16x2(wr[d][1].x, sc[d][1], a0hi[0], a0hi[1]);
                    q6_to_f16x2(wr[d][1].y, sc[d][1], a0hi[2], a0hi[3]);
                    q6_to_f16x2(wr[d][2].x, sc[d][2], a8lo[0], a8lo[1]);
                    q6_to_f16x2(wr[d][2].y, sc[d][2], a8lo[2], a8lo[3]);
                    q6_to_f16x2(wr[d][3].x, sc[d][3], a8hi[0], a8hi[1]);
                    q6_to_f16x2(wr[d][3].y, sc[d][3], a8hi[2], a8hi[3]);
                } else {
                    q8_to_f16x2(wr[d][0].x, a0lo[0], a0lo[1]);
                    q8_to_f16x2(wr[d][0].y, a0lo[2], a0lo[3]);
                    q8_to_f16x2(wr[d][1].x, a0hi[0], a0hi[1]);
                    q8_to_f16x2(wr[d][1].y, a0hi[2], a0hi[3]);
                    q8_to_f16x2(wr[d][2].x, a8lo[0], a8lo[1]);
                    q8_to_f16x2(wr[d][2].y, a8lo[2], a8lo[3]);
                    q8_to_f16x2(wr[d][3].x, a8hi[0], a8hi[1]);
                    q8_to_f16x2(wr[d][3].y, a8hi[2], a8hi[3]);
                }
                float sa0 = sc[d][0], sa1 = sc[d][1], sb0 = sc[d][2], sb1 = sc[d][3];
                float ma0 = sc[d][4], ma1 = sc[d][5], mb0 = sc[d][6], mb1 = sc[d][7];
                if (next < chunks) {
                    st_load_quant_chunk<FMT>(wr[d], sc[d], w0, w1, s0, s1, in0, in1, k0 + next * ST_KC, k1, q);
                }
                const unsigned short* xc = xs[c % ST_STAGES];
                const float* sums = ss[Q4 ? c % ST_STAGES : 0];
#pragma unroll
                for (int t = 0; t < ST_MAX_TILES; t++) {
                    if (t < tiles8) {
                        uint4 lo = *(const uint4*) (xc + t * 8 * ST_KC + bLo);
                        uint4 hi = *(const uint4*) (xc + t * 8 * ST_KC + bHi);
                        float p0[4] = {0.0f, 0.0f, 0.0f, 0.0f}; // the chunk's first 32-value block
                        float p1[4] = {0.0f, 0.0f, 0.0f, 0.0f}; // its second
                        mma_m16n8k16(p0, a0lo[0], a8lo[0], a0lo[1], a8lo[1], lo.x, lo.y, (__half*) 0);
                        mma_m16n8k16(p0, a0lo[2], a8lo[2], a0lo[3], a8lo[3], lo.z, lo.w, (__half*) 0);
                        mma_m16n8k16(p1, a0hi[0], a8hi[0], a0hi[1], a8hi[1], hi.x, hi.y, (__half*) 0);
                        mma_m16n8k16(p1, a0hi[2], a8hi[2], a0hi[3], a8hi[3], hi.z, hi.w, (__half*) 0);
                        if (Q4) { // minus min times the block's activation sum, tokens 8t + 2q and + 1
                            float4 xsm = *(const float4*) (sums + (8 * t + 2 * q) * 2); // {tok lo, tok hi, tok+1 lo, tok+1 hi}
                            acc[t][0] += sa0 * p0[0] - ma0 * xsm.x + sa1 * p1[0] - ma1 * xsm.y;
                            acc[t][1] += sa0 * p0[1] - ma0 * xsm.z + sa1 * p1[1] - ma1 * xsm.w;
                            acc[t][2] += sb0 * p0[2] - mb0 * xsm.x + sb1 * p1[2] - mb1 * xsm.y;
                            acc[t][3] += sb0 * p0[3] - mb0 * xsm.z + sb1 * p1[3] - mb1 * xsm.w;
                        } else if (Q6) {
                            acc[t][0] += p0[0] + p1[0];
                            acc[t][1] += p0[1] + p1[1];
                            acc[t][2] += p0[2] + p1[2];
                            acc[t][3] += p0[3] + p1[3];
                        } else {
                            acc[t][0] += sa0 * p0[0] + sa1 * p1[0]; // row r0, tokens 8t + 2q, + 1
                            acc[t][1] += sa0 * p0[1] + sa1 * p1[1];
                            acc[t][2] += sb0 * p0[2] + sb1 * p1[2]; // row r0 + 8
                            acc[t][3] += sb0 * p0[3] + sb1 * p1[3];
                        }
                    }
                }
            }
        }
    }
    cp_async_wait<0>();
    st_store(out + (size_t) split * nOut * rows, acc, tiles8, nOut, rows, r0, q);
}

// Decode steps (1..64 tokens): grid (ceil(rows / 128), splits), block 256; out as matmul_stream's (partial sums
// [splits, npad, rows], reduced by splitk_reduce, or y itself with one split). One block per SM: the widened quants
// and per-block scales take 150-170 registers a thread (at 128, for two blocks, they spill).
// Prefill and mixed steps: NAME_slices, 64-token slices of one launch (as matmul_stream_slices), grid
// (ceil(rows / 128), slices). Q8_0 and Q6_K (below); Q4_K, which also reads the activations' block sums, after them.
#define QUANT_KERNELS(NAME, FMT)                                                                                     \
    extern "C" __global__ void __launch_bounds__(256, 1) NAME(const unsigned char* wq, const float* ws,             \
                                                            const unsigned short* xh, float* out, int tiles8,       \
                                                            int nOut, int rows, int cols, int kChunk) {             \
        matmul_stream_quant_block<FMT>(wq, ws, xh, nullptr, 0, out, tiles8, nOut, rows, cols, kChunk, blockIdx.x,   \
                                       blockIdx.y);                                                                  \
    }                                                                                                               \
    extern "C" __global__ void __launch_bounds__(256, 1) NAME##_slices(const unsigned char* wq, const float* ws,    \
                                                                     const unsigned short* xh, float* y, int n,     \
                                                                     int rows, int cols) {                          \
        int t0 = blockIdx.y * 64;                                                                                   \
        int nOut = min(64, n - t0);                                                                                 \
        matmul_stream_quant_block<FMT>(wq, ws, xh + (size_t) t0 * cols, nullptr, 0, y + (size_t) t0 * rows,         \
                                       (nOut + 7) / 8, nOut, rows, cols, cols, blockIdx.x, 0);                      \
    }
QUANT_KERNELS(matmul_stream_q8, QF_Q8_0)
// Q6_K (the device's planes: q - 32 as int8 [rows, cols], a float scale per 16 [rows, cols / 16]): each 16-value
// group's scale does not line up with the k16 steps of the fragment order, so the weights are scaled before the mma
// and rounded to F16 (as decoding Q6_K to F16 at upload does), and summed without a scale after.
QUANT_KERNELS(matmul_stream_q6_k, QF_Q6_K)

// Q4_K, as matmul_stream_q8; xsum from half_block_sums over the same xh (npad tokens: its sumStride).
extern "C" __global__ void __launch_bounds__(256, 1) matmul_stream_q4_k(const unsigned char* wq, const float* ws,
                                                                       const unsigned short* xh, const float* xsum,
                                                                       float* out, int tiles8, int nOut, int rows, int cols,
                                                                       int kChunk) {
    matmul_stream_quant_block<QF_Q4_K>(wq, ws, xh, xsum, tiles8 * 8, out, tiles8, nOut, rows, cols, kChunk, blockIdx.x,
                                    blockIdx.y);
}

// Q4_K, as matmul_stream_q8_slices; xsum over all npad = n rounded to 8 tokens.
extern "C" __global__ void __launch_bounds__(256, 1) matmul_stream_q4_k_slices(const unsigned char* wq, const float* ws,
                                                                              const unsigned short* xh, const float* xsum,
                                                                              float* y, int n, int rows, int cols) {
    int t0 = blockIdx.y * 64;
    int nOut = min(64, n - t0);
    matmul_stream_quant_block<QF_Q4_K>(wq, ws, xh + (size_t) t0 * cols, xsum + (size_t) t0 * 2, (n + 7) / 8 * 8,
                                    y + (size_t) t0 * rows, (nOut + 7) / 8, nOut, rows, cols, cols, blockIdx.x, 0);
}

// xsum [cols / 64][npad][2]: the sums of each token's two 32-value blocks of every 64-value chunk of xh [npad, cols]
// (F16), in order, in float: what matmul_stream_q4_k multiplies the mins by. Grid-stride over (chunk, token, block).
extern "C" __global__ void half_block_sums(const unsigned short* xh, float* xsum, int npad, int cols) {
    size_t total = (size_t) (cols / 64) * npad * 2;
    for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total; i += (size_t) gridDim.x * blockDim.x) {
        int half = (int) (i & 1);
        int t = (int) ((i >> 1) % npad);
        int c = (int) ((i >> 1) / npad);
        const unsigned short* p = xh + (size_t) t * cols + c * 64 + half * 32;
        float s = 0.0f;
        for (int j = 0; j < 32; j++) {
            s += f16_bits_to_f32(p[j]);
        }
        xsum[i] = s;
    }
}
#endif // ST_WGMMA
