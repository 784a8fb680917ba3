// Runs, on the host (cuda_shim.h), matmul_stream (one split, several, deep, one token, 16-warp blocks, grouped) against
// a double product, and the fused kernels of the tenth pass next to the separate kernels they replace, checking that
// they write the same bits: the _h norms against norm + to_half_padded, splitk_reduce_swiglu_h against
// splitk_reduce_swiglu + to_half_padded, splitk_reduce_rope_kv against splitk_reduce_group + add_bias + rope_kv_store,
// and the split attention's 16-bit copy (one split, and through attention_split_combine) against to_half_padded of its
// output; padding rows must come out zero from buffers that start as 0xFFFF. Built and run by emulate.sh.
#include "cuda_shim.h"

#include <random>
#include <type_traits>
#include <string>

// The grouped streaming products' reduction arguments (stream.cu, ST_GROUP_ARGS after chunk2), and what a launch that
// only leaves partial sums passes for them.
#define GROUP_EPI_PARAMS int, int, int*, float*, float*, float*, unsigned short*, const float*, const float*, const float*, \
    const int*, const float*, const int*, void*, void*, int, int, int
#define NO_EPI 0, 0, (int*) nullptr, (float*) nullptr, (float*) nullptr, (float*) nullptr, (unsigned short*) nullptr, \
    (const float*) nullptr, (const float*) nullptr, (const float*) nullptr, (const int*) nullptr, (const float*) nullptr, \
    (const int*) nullptr, (void*) nullptr, (void*) nullptr, 0, 0, 0

extern "C" {
void rmsnorm_vec(const float*, const int*, const float*, float*, int, float);
void add_rmsnorm_vec(float*, const float*, const float*, float*, int, float);
void add_rmsnorm_splitk_vec(float*, const float*, int, int, const float*, float*, int, float);
void rmsnorm_vec_h_bf16(const float*, const int*, const float*, float*, unsigned short*, int, int, float);
void rmsnorm_vec_h_f16(const float*, const int*, const float*, float*, unsigned short*, int, int, float);
void add_rmsnorm_vec_h_bf16(float*, const float*, const float*, float*, unsigned short*, int, int, float);
void add_rmsnorm_vec_h_f16(float*, const float*, const float*, float*, unsigned short*, int, int, float);
void add_rmsnorm_splitk_vec_h_bf16(float*, const float*, int, int, const float*, float*, unsigned short*, int, int, float);
void add_rmsnorm_splitk_vec_h_f16(float*, const float*, int, int, const float*, float*, unsigned short*, int, int, float);
void to_half_padded_bf16(const float*, unsigned short*, int, int, int);
void to_half_padded_f16(const float*, unsigned short*, int, int, int);
void splitk_reduce_swiglu(const float*, float*, int, int, int, int, int);
void splitk_reduce_swiglu_h_bf16(const float*, float*, unsigned short*, int, int, int, int, int);
void splitk_reduce_swiglu_h_f16(const float*, float*, unsigned short*, int, int, int, int, int);
void splitk_reduce_group(const float*, float*, float*, float*, int, int, int, int, int, int, int, int);
void add_bias(float*, const float*, int, int);
void rope_kv_store_f32(float*, float*, const float*, const int*, const float*, int, int, int, int, const int*, float*, float*);
void rope_kv_store_f16(float*, float*, const float*, const int*, const float*, int, int, int, int, const int*,
                       unsigned short*, unsigned short*);
void splitk_reduce_rope_kv_f32(const float*, float*, float*, float*, const float*, const float*, const float*, const int*,
                               const float*, const int*, float*, float*, int, int, int, int, int, int, int, int);
void splitk_reduce_rope_kv_f16(const float*, float*, float*, float*, const float*, const float*, const float*, const int*,
                               const float*, const int*, unsigned short*, unsigned short*, int, int, int, int, int, int,
                               int, int);
void attention_split_f16_g4(const float*, const unsigned short*, const unsigned short*, const int*, const int*, const int*,
                            int, int, float*, float*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_split_f16_g2(const float*, const unsigned short*, const unsigned short*, const int*, const int*, const int*,
                            int, int, float*, float*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_tiled_f16_d64(const float*, const unsigned short*, const unsigned short*, const int*, const int*, const int*,
                             int, int, const int*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_tiled_f16_d128(const float*, const unsigned short*, const unsigned short*, const int*, const int*, const int*,
                              int, int, const int*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_tiled_f32_d64(const float*, const float*, const float*, const int*, const int*, const int*, int, int,
                             const int*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_tiled_f32_d128(const float*, const float*, const float*, const int*, const int*, const int*, int, int,
                              const int*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_split_f32_g4(const float*, const float*, const float*, const int*, const int*, const int*, int, int, float*,
                            float*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_split_f32_g2(const float*, const float*, const float*, const int*, const int*, const int*, int, int, float*,
                            float*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void attention_split_combine(const int*, const float*, const float*, float*, int, int, int, unsigned short*, int, int, int);
void attention_split_pf_f16_g4(const float*, const unsigned short*, const unsigned short*, const int*, const int*,
                               const int*, int, int, float*, float*, float*, int, int, int, float, unsigned short*, int,
                               int, int, float);
void attention_split_pf_f32_g4(const float*, const float*, const float*, const int*, const int*, const int*, int, int,
                               float*, float*, float*, int, int, int, float, unsigned short*, int, int, int, float);
void splitk_reduce(const float*, float*, int, int, int, int);
void add_inplace(float*, const float*, int);
void topk_chunks(const float*, int, int, float*, int*, float*);
void topk_merge(const float*, const int*, const float*, int, int, int, float*, int*, float*);
void top1_chunks(const float*, int, unsigned long long*, float*);
void top1_merge(const float*, const unsigned long long*, const float*, int, int, float*, int*, float*);
void matmul_stream_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_group_bf16(const unsigned short*, const unsigned short*, const unsigned short*, const unsigned short*,
                              float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
void matmul_stream_group_f16(const unsigned short*, const unsigned short*, const unsigned short*, const unsigned short*,
                             float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
void matmul_stream_packed_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_packed_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_packed_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_packed_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_group_bf16(const unsigned short*, const unsigned short*, const unsigned short*,
                                   const unsigned short*, float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
void matmul_stream_wide_group_f16(const unsigned short*, const unsigned short*, const unsigned short*,
                                  const unsigned short*, float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
void matmul_stream_packed_group_bf16(const unsigned short*, const unsigned short*, const unsigned short*,
                                     const unsigned short*, float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
void matmul_stream_packed_group_f16(const unsigned short*, const unsigned short*, const unsigned short*,
                                    const unsigned short*, float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
void pack_stream_weights(const unsigned short*, unsigned short*, int, int, int);
void matmul_stream_slices_bf16(const unsigned short*, const unsigned short*, float*, int, int, int);
void matmul_stream_slices_f16(const unsigned short*, const unsigned short*, float*, int, int, int);
void matmul_stream_packed_slices_bf16(const unsigned short*, const unsigned short*, float*, int, int, int);
void matmul_stream_packed_slices_f16(const unsigned short*, const unsigned short*, float*, int, int, int);
void matmul_stream_tall_packed_slices_bf16(const unsigned short*, const unsigned short*, float*, int, int, int);
void matmul_stream_tall_packed_slices_f16(const unsigned short*, const unsigned short*, float*, int, int, int);
void matmul_stream_tall_packed_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_tall_packed_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_tall_packed_group_bf16(const unsigned short*, const unsigned short*, const unsigned short*,
                                          const unsigned short*, float*, int, int, int, int, int, int, int, int,
                                          GROUP_EPI_PARAMS);
void matmul_stream_tall_packed_group_f16(const unsigned short*, const unsigned short*, const unsigned short*,
                                         const unsigned short*, float*, int, int, int, int, int, int, int, int,
                                         GROUP_EPI_PARAMS);
void matmul_stream_q8(const unsigned char*, const float*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_q8_slices(const unsigned char*, const float*, const unsigned short*, float*, int, int, int);
void matmul_stream_q4_k(const unsigned char*, const float*, const unsigned short*, const float*, float*, int, int, int, int,
                        int);
void matmul_stream_q4_k_slices(const unsigned char*, const float*, const unsigned short*, const float*, float*, int, int,
                               int);
void half_block_sums(const unsigned short*, float*, int, int);
void matmul_stream_q6_k(const unsigned char*, const float*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_q6_k_slices(const unsigned char*, const float*, const unsigned short*, float*, int, int, int);
void matvec_q4_k(const void*, const float*, const float*, float*, int, int, int);
void matvec_q6_k(const void*, const float*, const float*, float*, int, int, int);
void matmul_tiled_q4_k(const void*, const float*, const float*, float*, int, int, int);
void matmul_tiled_q6_k(const void*, const float*, const float*, float*, int, int, int);
void embed_q4_k(const void*, const float*, const int*, float*, int);
void embed_q6_k(const void*, const float*, const int*, float*, int);
void moe_group(const int*, int, int, int*, int*);
void moe_mma_gate_up_bf16(const unsigned short*, const unsigned short*, const float*, const int*, const int*, int, int, int, int, float*);
void moe_mma_gate_up_f16(const unsigned short*, const unsigned short*, const float*, const int*, const int*, int, int, int, int, float*);
void moe_mma_down_bf16(const unsigned short*, const float*, const int*, const int*, int, int, int, float*);
void moe_mma_down_f16(const unsigned short*, const float*, const int*, const int*, int, int, int, float*);
#define MOE_QUANT_MMA(name) \
void moe_quant_mma_gate_up_##name(const void*, const float*, const void*, const float*, const float*, const int*, const int*, \
                                  int, int, int, int, float*); \
void moe_quant_mma_down_##name(const void*, const float*, const float*, const int*, const int*, int, int, int, float*);
MOE_QUANT_MMA(q8_0)
MOE_QUANT_MMA(q6_k)
MOE_QUANT_MMA(q4_k)
#undef MOE_QUANT_MMA
}

// The same products from the sm_90a module (stream.cu with -DST_WGMMA, compiled by emulate.sh into namespace wg):
// warpgroup MMAs on weights packed by pack_stream_weights_wg, the activations read through a matrix descriptor.
namespace wg {
void pack_stream_weights_wg(const unsigned short*, unsigned short*, int, int, int);
#define WG_STREAM(name) void name(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
WG_STREAM(matmul_stream_packed_bf16)
WG_STREAM(matmul_stream_packed_f16)
WG_STREAM(matmul_stream_wide_packed_bf16)
WG_STREAM(matmul_stream_wide_packed_f16)
WG_STREAM(matmul_stream_tall_packed_bf16)
WG_STREAM(matmul_stream_tall_packed_f16)
#undef WG_STREAM
#define WG_SLICES(name) void name(const unsigned short*, const unsigned short*, float*, int, int, int);
WG_SLICES(matmul_stream_packed_slices_bf16)
WG_SLICES(matmul_stream_packed_slices_f16)
WG_SLICES(matmul_stream_tall_packed_slices_bf16)
WG_SLICES(matmul_stream_tall_packed_slices_f16)
#undef WG_SLICES
#define WG_GROUP(name) void name(const unsigned short*, const unsigned short*, const unsigned short*, const unsigned short*, \
                                 float*, int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
WG_GROUP(matmul_stream_packed_group_bf16)
WG_GROUP(matmul_stream_packed_group_f16)
WG_GROUP(matmul_stream_wide_packed_group_bf16)
WG_GROUP(matmul_stream_wide_packed_group_f16)
WG_GROUP(matmul_stream_tall_packed_group_bf16)
WG_GROUP(matmul_stream_tall_packed_group_f16)
#undef WG_GROUP
} // namespace wg

// stream_sm90 (stream.cu with -DST_PDL, namespace pdl): the mma.sync products that wait for their predecessor after
// their first weight loads; the same arithmetic, so the same bits.
namespace pdl {
void matmul_stream_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_wide_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_tall_packed_bf16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_tall_packed_f16(const unsigned short*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_q8(const unsigned char*, const float*, const unsigned short*, float*, int, int, int, int, int);
void matmul_stream_q8_slices(const unsigned char*, const float*, const unsigned short*, float*, int, int, int);
} // namespace pdl

static int failures = 0;
static std::mt19937_64 rng(7);

static std::vector<float> randoms(size_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = (float) d(rng);
    return v;
}

template <typename T>
static void same(const std::vector<T>& a, const std::vector<T>& b, size_t n, const std::string& what,
                 bool nanInputs = false) {
    // from finite inputs, a NaN output is a read of memory nobody wrote (shared memory starts as NaN): both kernels
    // may read it alike, so equal bits alone would not show it
    size_t nan = n;
    if constexpr (std::is_same_v<T, float>) {
        if (!nanInputs) {
            nan = 0;
            while (nan < n && !std::isnan(a[nan])) nan++;
        }
    }
    if (nan < n) {
        std::printf("FAIL %s: NaN at %zu\n", what.c_str(), nan);
        failures++;
        return;
    }
    if (std::memcmp(a.data(), b.data(), n * sizeof(T)) != 0) {
        size_t i = 0;
        while (std::memcmp(&a[i], &b[i], sizeof(T)) == 0) i++;
        std::printf("FAIL %s: first difference at %zu\n", what.c_str(), i);
        failures++;
    } else {
        std::printf("ok   %s\n", what.c_str());
    }
}

static dim3 grid(unsigned x, unsigned y = 1) { return dim3 {x, y, 1}; }
static dim3 threads(unsigned x) { return dim3 {x, 1, 1}; }
static unsigned blocksFor(size_t n) { return (unsigned) std::min<size_t>(65535, (n + 255) / 256); }

static void norms(bool bf16, int dim, int n, int npad, int splits, bool indexed) {
    std::string tag = std::string(bf16 ? "bf16" : "f16") + " dim " + std::to_string(dim) + " n " + std::to_string(n) + "/"
            + std::to_string(npad) + " splits " + std::to_string(splits) + (indexed ? " indexed" : "");
    int src = n + 2;
    auto x = randoms((size_t) src * dim, -3, 3), y = randoms((size_t) npad * dim, -3, 3), w = randoms(dim, 0.5, 1.5);
    auto part = randoms((size_t) splits * npad * dim, -1, 1);
    std::vector<int> rows(n);
    for (int r = 0; r < n; r++) rows[r] = indexed ? (r * 5 + 1) % src : r;
    float eps = 1e-5f;
    auto toHalf = bf16 ? to_half_padded_bf16 : to_half_padded_f16;
    for (int kind = 0; kind < 3; kind++) {
        std::vector<float> x1 = x, x2 = x, y1 = y, y2 = y;
        std::vector<unsigned short> h1((size_t) npad * dim), h2((size_t) npad * dim, 0xFFFF);
        const char* name = kind == 0 ? "rmsnorm_vec" : kind == 1 ? "add_rmsnorm_vec" : "add_rmsnorm_splitk_vec";
        if (kind == 0) {
            emu::launch(rmsnorm_vec, grid(n), threads(256), 0, x1.data(), indexed ? rows.data() : nullptr, w.data(), y1.data(), dim, eps);
            emu::launch(bf16 ? rmsnorm_vec_h_bf16 : rmsnorm_vec_h_f16, grid(npad), threads(256), 0, x2.data(),
                        indexed ? rows.data() : nullptr, w.data(), y2.data(), h2.data(), n, dim, eps);
        } else if (kind == 1) {
            emu::launch(add_rmsnorm_vec, grid(n), threads(256), 0, x1.data(), y1.data(), w.data(), y1.data(), dim, eps);
            emu::launch(bf16 ? add_rmsnorm_vec_h_bf16 : add_rmsnorm_vec_h_f16, grid(npad), threads(256), 0, x2.data(),
                        y2.data(), w.data(), y2.data(), h2.data(), n, dim, eps);
        } else {
            emu::launch(add_rmsnorm_splitk_vec, grid(n), threads(256), 0, x1.data(), part.data(), splits, npad, w.data(),
                        y1.data(), dim, eps);
            emu::launch(bf16 ? add_rmsnorm_splitk_vec_h_bf16 : add_rmsnorm_splitk_vec_h_f16, grid(npad), threads(256), 0,
                        x2.data(), part.data(), splits, npad, w.data(), y2.data(), h2.data(), n, dim, eps);
        }
        emu::launch(toHalf, grid(blocksFor((size_t) npad * dim)), threads(256), 0, y1.data(), h1.data(), n, npad, dim);
        same(x1, x2, x.size(), std::string(name) + " residual, " + tag);
        same(y1, y2, (size_t) n * dim, std::string(name) + " output, " + tag);
        same(h1, h2, h1.size(), std::string(name) + " 16-bit copy, " + tag);
        if (kind == 2) { // bit for bit splitk_reduce + add_rmsnorm_vec, the two launches it replaces
            std::vector<float> x3 = x, y3((size_t) npad * dim, 0);
            emu::launch(splitk_reduce, grid(blocksFor((size_t) n * dim)), threads(256), 0, (const float*) part.data(),
                        y3.data(), n, npad, dim, splits);
            emu::launch(add_rmsnorm_vec, grid(n), threads(256), 0, x3.data(), (const float*) y3.data(), w.data(), y3.data(),
                        dim, eps);
            same(x3, x1, x.size(), std::string(name) + " residual = splitk_reduce + add_rmsnorm_vec, " + tag);
            same(y3, y1, (size_t) n * dim, std::string(name) + " output = splitk_reduce + add_rmsnorm_vec, " + tag);
        }
        if (kind == 1) { // the residual added first (a product reducing into x: EPI_RESIDUAL), then the plain norm
            std::vector<float> x4 = x, y4((size_t) npad * dim, NAN);
            std::vector<unsigned short> h4((size_t) npad * dim, 0xFFFF);
            emu::launch(add_inplace, grid(blocksFor((size_t) n * dim)), threads(256), 0, x4.data(), (const float*) y.data(), n * dim);
            emu::launch(bf16 ? rmsnorm_vec_h_bf16 : rmsnorm_vec_h_f16, grid(npad), threads(256), 0, (const float*) x4.data(),
                        (const int*) nullptr, w.data(), y4.data(), h4.data(), n, dim, eps);
            same(x4, x2, x.size(), std::string(name) + " residual = add_inplace, " + tag);
            same(y4, y2, (size_t) n * dim, std::string(name) + " output = add_inplace + rmsnorm_vec_h, " + tag);
            same(h4, h2, h2.size(), std::string(name) + " 16-bit copy = add_inplace + rmsnorm_vec_h, " + tag);
        }
        if (kind == 2) { // and the residual against a double sum of the splits
            double worst = 0;
            for (int r = 0; r < n; r++) {
                for (int i = 0; i < dim; i++) {
                    double s = x[(size_t) r * dim + i];
                    for (int sp = 0; sp < splits; sp++) s += part[((size_t) sp * npad + r) * dim + i];
                    worst = std::max(worst, std::fabs(s - x2[(size_t) r * dim + i]));
                }
            }
            if (worst > 1e-5) { std::printf("FAIL split residual off by %g, %s\n", worst, tag.c_str()); failures++; }
        }
    }
}

static void swiglu(bool bf16, int rows, int n, int npad, int s0, int s1) {
    std::string tag = std::string(bf16 ? "bf16" : "f16") + " rows " + std::to_string(rows) + " n " + std::to_string(n) + "/"
            + std::to_string(npad);
    auto part = randoms((size_t) (s0 + s1) * npad * rows, -2, 2);
    std::vector<float> y1((size_t) n * rows), y2((size_t) n * rows);
    std::vector<unsigned short> h1((size_t) npad * rows), h2((size_t) npad * rows, 0xFFFF);
    emu::launch(splitk_reduce_swiglu, grid(blocksFor((size_t) n * rows)), threads(256), 0, part.data(), y1.data(), n, npad,
                rows, s0, s1);
    emu::launch(bf16 ? to_half_padded_bf16 : to_half_padded_f16, grid(blocksFor((size_t) npad * rows)), threads(256), 0,
                y1.data(), h1.data(), n, npad, rows);
    emu::launch(bf16 ? splitk_reduce_swiglu_h_bf16 : splitk_reduce_swiglu_h_f16, grid(blocksFor((size_t) npad * rows)),
                threads(256), 0, part.data(), y2.data(), h2.data(), n, npad, rows, s0, s1);
    same(y1, y2, y1.size(), "splitk_reduce_swiglu_h output, " + tag);
    same(h1, h2, h1.size(), "splitk_reduce_swiglu_h 16-bit copy, " + tag);
}

// The RoPE inputs of n tokens: a head of headDim's table of (inverse frequency, magnitude) per pair (base 10000 over
// the first `rotated` dimensions, frequency 0 and magnitude 1 past them), positions (0 first: angle 0, then random below
// 8192) and the cache slot of each token ((7t + 3) mod n: not in token order).
static void ropeInputs(int headDim, int rotated, float magnitude, int n, std::vector<float>& invFreq,
                       std::vector<int>& positions, std::vector<int>& slots) {
    invFreq.assign(headDim, 0.0f);
    for (int i = 0; i < headDim / 2; i++) {
        invFreq[2 * i] = i < rotated / 2 ? (float) std::pow(10000.0, -2.0 * i / rotated) : 0.0f;
        invFreq[2 * i + 1] = i < rotated / 2 ? magnitude : 1.0f;
    }
    positions.assign(n, 0);
    slots.assign(n, 0);
    for (int t = 0; t < n; t++) {
        positions[t] = t == 0 ? 0 : (int) (rng() % 8192);
        slots[t] = (t * 7 + 3) % n;
    }
}

// rotated: the dimensions RoPE turns (0: all); magnitude: on cos and sin (LongRoPE's attention factor)
static void ropeKv(bool f16, int headDim, int nHeads, int nKv, int n, int npad, int s0, int s1, int s2, bool neox,
                   bool biases, int rotated = 0, float magnitude = 1.0f) {
    if (rotated == 0) rotated = headDim;
    int neoxArg = neox ? rotated / 2 : 0;
    std::string tag = std::string(f16 ? "F16" : "F32") + " KV, head " + std::to_string(headDim) + ", " + std::to_string(nHeads)
            + "/" + std::to_string(nKv) + ", n " + std::to_string(n) + (neox ? ", NeoX" : "") + (biases ? ", biases" : "")
            + ", " + std::to_string(rotated) + " rotated, magnitude " + std::to_string(magnitude);
    int qDim = nHeads * headDim, kvDim = nKv * headDim;
    auto part = randoms((size_t) (s0 * qDim + (s1 + s2) * kvDim) * npad, -2, 2);
    auto bq = randoms(qDim, -1, 1), bk = randoms(kvDim, -1, 1), bv = randoms(kvDim, -1, 1);
    std::vector<float> invFreq;
    std::vector<int> positions, slots;
    ropeInputs(headDim, rotated, magnitude, n, invFreq, positions, slots);
    std::vector<float> q[2], k[2], v[2];
    for (int i = 0; i < 2; i++) {
        q[i].assign((size_t) n * qDim, 0);
        k[i].assign((size_t) n * kvDim, 0);
        v[i].assign((size_t) n * kvDim, 0);
    }
    size_t cache = (size_t) n * kvDim;
    std::vector<float> keys32[2], values32[2];
    std::vector<unsigned short> keys16[2], values16[2];
    for (int i = 0; i < 2; i++) {
        keys32[i].assign(cache, 0); values32[i].assign(cache, 0);
        keys16[i].assign(cache, 0); values16[i].assign(cache, 0);
    }
    int outs = n * (qDim + 2 * kvDim);
    emu::launch(splitk_reduce_group, grid(blocksFor(outs)), threads(256), 0, part.data(), q[0].data(), k[0].data(), v[0].data(),
                n, npad, qDim, kvDim, kvDim, s0, s1, s2);
    if (biases) {
        emu::launch(add_bias, grid(blocksFor((size_t) n * qDim)), threads(256), 0, q[0].data(), bq.data(), n, qDim);
        emu::launch(add_bias, grid(blocksFor((size_t) n * kvDim)), threads(256), 0, k[0].data(), bk.data(), n, kvDim);
        emu::launch(add_bias, grid(blocksFor((size_t) n * kvDim)), threads(256), 0, v[0].data(), bv.data(), n, kvDim);
    }
    int pairs = (nHeads + 2 * nKv) * headDim / 2;
    if (f16) {
        emu::launch(rope_kv_store_f16, grid(n), threads(256), 0, q[0].data(), k[0].data(), (const float*) v[0].data(),
                    (const int*) positions.data(), (const float*) invFreq.data(), nHeads, nKv, headDim, neoxArg,
                    (const int*) slots.data(), keys16[0].data(), values16[0].data());
        emu::launch(splitk_reduce_rope_kv_f16, grid(n, (pairs + 255) / 256), threads(256), 0, (const float*) part.data(),
                    q[1].data(), k[1].data(), v[1].data(), biases ? (const float*) bq.data() : nullptr,
                    biases ? (const float*) bk.data() : nullptr, biases ? (const float*) bv.data() : nullptr,
                    (const int*) positions.data(), (const float*) invFreq.data(), (const int*) slots.data(),
                    keys16[1].data(), values16[1].data(), npad, nHeads, nKv, headDim, neoxArg, s0, s1, s2);
        same(keys16[0], keys16[1], cache, "splitk_reduce_rope_kv cached keys, " + tag);
        same(values16[0], values16[1], cache, "splitk_reduce_rope_kv cached values, " + tag);
    } else {
        emu::launch(rope_kv_store_f32, grid(n), threads(256), 0, q[0].data(), k[0].data(), (const float*) v[0].data(),
                    (const int*) positions.data(), (const float*) invFreq.data(), nHeads, nKv, headDim, neoxArg,
                    (const int*) slots.data(), keys32[0].data(), values32[0].data());
        emu::launch(splitk_reduce_rope_kv_f32, grid(n, (pairs + 255) / 256), threads(256), 0, (const float*) part.data(),
                    q[1].data(), k[1].data(), v[1].data(), biases ? (const float*) bq.data() : nullptr,
                    biases ? (const float*) bk.data() : nullptr, biases ? (const float*) bv.data() : nullptr,
                    (const int*) positions.data(), (const float*) invFreq.data(), (const int*) slots.data(),
                    keys32[1].data(), values32[1].data(), npad, nHeads, nKv, headDim, neoxArg, s0, s1, s2);
        same(keys32[0], keys32[1], cache, "splitk_reduce_rope_kv cached keys, " + tag);
        same(values32[0], values32[1], cache, "splitk_reduce_rope_kv cached values, " + tag);
    }
    same(q[0], q[1], q[0].size(), "splitk_reduce_rope_kv q, " + tag);
    same(k[0], k[1], k[0].size(), "splitk_reduce_rope_kv k, " + tag);
    same(v[0], v[1], v[0].size(), "splitk_reduce_rope_kv v, " + tag);
    // q of the last token against a double rotation of its sum
    int t = n - 1;
    double worst = 0;
    for (int h = 0; h < nHeads; h++) {
        for (int i = 0; i < headDim / 2; i++) {
            bool turns = i < rotated / 2;
            int a = h * headDim + (neox && turns ? i : 2 * i), b = h * headDim + (neox && turns ? i + rotated / 2 : 2 * i + 1);
            double x0 = biases ? bq[a] : 0, x1 = biases ? bq[b] : 0;
            for (int sp = 0; sp < s0; sp++) {
                x0 += part[((size_t) sp * npad + t) * qDim + a];
                x1 += part[((size_t) sp * npad + t) * qDim + b];
            }
            double angle = (double) ((float) positions[t] * invFreq[2 * i]);
            double m = invFreq[2 * i + 1];
            worst = std::max(worst, std::fabs(m * (x0 * std::cos(angle) - x1 * std::sin(angle)) - q[1][(size_t) t * qDim + a]));
            worst = std::max(worst, std::fabs(m * (x0 * std::sin(angle) + x1 * std::cos(angle)) - q[1][(size_t) t * qDim + b]));
        }
    }
    if (worst > 1e-4) { std::printf("FAIL rotated q off by %g, %s\n", worst, tag.c_str()); failures++; }
}

// The split attention of a decode step (group of 4, head 64, F16 cache) with and without the 16-bit copy of its output.
static void attention(int n, int splits, int window = 0, float softcap = 0.0f) {
    const int headDim = 64, nKv = 2, nHeads = 8, G = 4, W = 4, bs = 16, maxBlocks = 12;
    std::string tag = std::to_string(n) + " tokens, " + std::to_string(splits) + " splits"
            + (window > 0 ? ", window " + std::to_string(window) : "") + (softcap > 0 ? ", soft cap" : "");
    int kvDim = nKv * headDim, qDim = nHeads * headDim;
    int slotsN = n * maxBlocks * bs;
    auto q = randoms((size_t) n * qDim, -2, 2);
    std::vector<unsigned short> keys((size_t) slotsN * kvDim), values((size_t) slotsN * kvDim);
    auto kf = randoms(keys.size(), -1, 1), vf = randoms(values.size(), -1, 1);
    for (size_t i = 0; i < keys.size(); i++) {
        keys[i] = __float2half_rn(kf[i]).x;
        values[i] = __float2half_rn(vf[i]).x;
    }
    std::vector<int> positions(n), seq(n), tables((size_t) n * maxBlocks);
    int edge[] = {0, 15, 16, 17, maxBlocks * bs - 1};
    for (int t = 0; t < n; t++) {
        positions[t] = t < 5 ? edge[t] : (int) (rng() % (maxBlocks * bs));
        seq[t] = t;
        for (int b = 0; b < maxBlocks; b++) tables[(size_t) t * maxBlocks + b] = b * n + (n - 1 - t);
    }
    int npad = (n + 7) / 8 * 8 + 8;
    int smem = 4 * (G * headDim + 2 * W * G + W * G * headDim);
    std::vector<float> out1((size_t) n * qDim), out2((size_t) n * qDim);
    std::vector<float> pacc((size_t) n * nHeads * splits * headDim), pml((size_t) n * nHeads * splits * 2);
    std::vector<unsigned short> h1((size_t) npad * qDim), h2((size_t) npad * qDim, 0xFFFF);
    float scale = 1.0f / 8.0f;
    for (int v = 0; v < 2; v++) {
        std::vector<float>& out = v == 0 ? out1 : out2;
        unsigned short* outH = v == 0 ? nullptr : h2.data();
        emu::launch(attention_split_f16_g4, grid(n * nKv, splits), threads(32 * W), smem, (const float*) q.data(),
                    (const unsigned short*) keys.data(), (const unsigned short*) values.data(), (const int*) positions.data(),
                    (const int*) seq.data(), (const int*) tables.data(), maxBlocks, bs, out.data(), pacc.data(), pml.data(),
                    nHeads, nKv, headDim, scale, splits == 1 ? outH : nullptr, outH ? 2 : 0, npad, window, softcap);
        if (splits > 1) {
            emu::launch(attention_split_combine, grid(n * nHeads), threads(64), 0, (const int*) positions.data(),
                        (const float*) pacc.data(), (const float*) pml.data(), out.data(), nHeads, headDim, splits, outH,
                        outH ? 2 : 0, npad, window);
        }
    }
    emu::launch(to_half_padded_bf16, grid(blocksFor((size_t) npad * qDim)), threads(256), 0, (const float*) out1.data(),
                h1.data(), n, npad, qDim);
    same(out1, out2, out1.size(), "attention_split output with the 16-bit copy, " + tag);
    same(h1, h2, h1.size(), "attention_split 16-bit copy (BF16), " + tag);
    // and one token against a double reference: token 4 (context 192), head 5
    int t = 4, h = 5, kh = h / G;
    int ctx = positions[t] + 1;
    int lo = window > 0 ? std::max(0, ctx - window) : 0;
    std::vector<double> s(ctx);
    double mx = -1e300;
    for (int p = lo; p < ctx; p++) {
        int slot = tables[(size_t) t * maxBlocks + p / bs] * bs + p % bs;
        double dot = 0;
        for (int d = 0; d < headDim; d++) {
            dot += (double) q[(size_t) (t * nHeads + h) * headDim + d]
                    * __half2float(__half {keys[(size_t) slot * kvDim + kh * headDim + d]});
        }
        s[p] = dot * scale;
        if (softcap > 0) s[p] = softcap * std::tanh(s[p] / softcap);
        mx = std::max(mx, s[p]);
    }
    double worst = 0, sum = 0;
    for (int p = lo; p < ctx; p++) sum += std::exp(s[p] - mx);
    for (int d = 0; d < headDim; d++) {
        double o = 0;
        for (int p = lo; p < ctx; p++) {
            int slot = tables[(size_t) t * maxBlocks + p / bs] * bs + p % bs;
            o += std::exp(s[p] - mx) / sum * __half2float(__half {values[(size_t) slot * kvDim + kh * headDim + d]});
        }
        worst = std::max(worst, std::fabs(o - out2[(size_t) (t * nHeads + h) * headDim + d]));
    }
    if (worst > 1e-4) { std::printf("FAIL attention off the double reference by %g, %s\n", worst, tag.c_str()); failures++; }
    // the prefetching kernels (rows loaded a round ahead): the same bits, with the copy, over F16 and F32 caches
    for (int f32 = 0; f32 < 2; f32++) {
        std::vector<float> keys32(keys.size()), values32(values.size());
        for (size_t i = 0; i < keys.size(); i++) {
            keys32[i] = kf[i];
            values32[i] = vf[i];
        }
        std::vector<float> ref((size_t) n * qDim), got((size_t) n * qDim);
        std::vector<unsigned short> hr((size_t) npad * qDim, 0xFFFF), hg((size_t) npad * qDim, 0xFFFF);
        for (int v = 0; v < 2; v++) {
            std::vector<float>& out = v == 0 ? ref : got;
            unsigned short* outH = v == 0 ? hr.data() : hg.data();
            std::fill(pacc.begin(), pacc.end(), NAN);
            if (f32) {
                emu::launch(v == 0 ? attention_split_f32_g4 : attention_split_pf_f32_g4, grid(n * nKv, splits),
                            threads(32 * W), smem, (const float*) q.data(), (const float*) keys32.data(),
                            (const float*) values32.data(), (const int*) positions.data(), (const int*) seq.data(),
                            (const int*) tables.data(), maxBlocks, bs, out.data(), pacc.data(), pml.data(), nHeads, nKv,
                            headDim, scale, splits == 1 ? outH : nullptr, 2, npad, window, softcap);
            } else {
                emu::launch(v == 0 ? attention_split_f16_g4 : attention_split_pf_f16_g4, grid(n * nKv, splits),
                            threads(32 * W), smem, (const float*) q.data(), (const unsigned short*) keys.data(),
                            (const unsigned short*) values.data(), (const int*) positions.data(), (const int*) seq.data(),
                            (const int*) tables.data(), maxBlocks, bs, out.data(), pacc.data(), pml.data(), nHeads, nKv,
                            headDim, scale, splits == 1 ? outH : nullptr, 2, npad, window, softcap);
            }
            if (splits > 1) {
                emu::launch(attention_split_combine, grid(n * nHeads), threads(64), 0, (const int*) positions.data(),
                            (const float*) pacc.data(), (const float*) pml.data(), out.data(), nHeads, headDim, splits, outH,
                            2, npad, window);
            }
        }
        std::string what = std::string("attention_split_pf (rows a round ahead) ") + (f32 ? "F32" : "F16") + " cache, " + tag;
        same(ref, got, ref.size(), what + ": output");
        same(hr, hg, hr.size(), what + ": 16-bit copy");
    }
}

// The tiled prefill attention (attention_tiled_f16/_f32_d64 / _d128) on a step of several sequences, each a run of
// consecutive positions (a prefill chunk, or one decode token), cut into items as TiledAttention.plan does: every
// (token, head) within 3e-3 of a double softmax over the same keys and values (Q and P, and F32 caches' K and V, are
// rounded to F16 on the way to the tensor cores) and of the split kernel; its 16-bit copy bit for bit to_half_padded of its output, padding
// rows zero; every key/value read inside the cache.
static void tiled(int headDim, int nHeads, int nKv, const std::vector<std::pair<int, int>>& runs, bool f32 = false,
                  int window = 0, float softcap = 0.0f) {
    const int bs = 16, W = 4;
    int G = nHeads / nKv, kt = (headDim == 64 ? 64 : 32) / (f32 ? 2 : 1);
    int kvDim = nKv * headDim, qDim = nHeads * headDim;
    std::vector<int> positions, seq;
    int maxPos = 0;
    for (size_t r = 0; r < runs.size(); r++) {
        for (int j = 0; j < runs[r].second; j++) {
            positions.push_back(runs[r].first + j);
            seq.push_back((int) r);
            maxPos = std::max(maxPos, runs[r].first + j);
        }
    }
    int n = (int) positions.size(), seqs = (int) runs.size();
    std::string tag = std::string("attention_tiled ") + (f32 ? "f32" : "f16") + " d" + std::to_string(headDim) + " G "
            + std::to_string(G) + ", " + std::to_string(n)
            + " tokens of " + std::to_string(seqs) + " sequences" + (window > 0 ? ", window " + std::to_string(window) : "")
            + (softcap > 0 ? ", soft cap" : "");
    int maxBlocks = maxPos / bs + 1;
    int slotsN = seqs * maxBlocks * bs;
    std::vector<int> tables((size_t) seqs * maxBlocks);
    for (int q = 0; q < seqs; q++) {
        for (int b = 0; b < maxBlocks; b++) tables[(size_t) q * maxBlocks + b] = b * seqs + (seqs - 1 - q); // interleaved
    }
    // items: runs of one sequence's consecutive positions, at most 64 / G tokens each
    std::vector<int> items;
    for (int t = 0; t < n; t++) {
        if (t == 0 || seq[t] != seq[t - 1] || positions[t] != positions[t - 1] + 1 || items.back() == 4 * 16 / G) {
            // (64 / G rounded down: G 3 gives items of 21 tokens)
            items.push_back(t);
            items.push_back(1);
        } else {
            items.back()++;
        }
    }
    int nItems = (int) items.size() / 2;
    auto q = randoms((size_t) n * qDim, -2, 2);
    std::vector<unsigned short> keys((size_t) slotsN * kvDim), values((size_t) slotsN * kvDim);
    auto kf = randoms(keys.size(), -1, 1), vf = randoms(values.size(), -1, 1);
    for (size_t i = 0; i < keys.size(); i++) {
        keys[i] = __float2half_rn(kf[i]).x;
        values[i] = __float2half_rn(vf[i]).x;
    }
    // the cache as the kernel reads it: F16, or the F32 values themselves (not F16-representable)
    auto keyAt = [&](size_t i) { return f32 ? (double) kf[i] : (double) __half2float(__half {keys[i]}); };
    auto valueAt = [&](size_t i) { return f32 ? (double) vf[i] : (double) __half2float(__half {values[i]}); };
    int npad = (n + 7) / 8 * 8 + 8;
    float scale = 1.0f / std::sqrt((float) headDim);
    std::vector<float> out((size_t) n * qDim, NAN), out2((size_t) n * qDim, NAN), split((size_t) n * qDim, NAN);
    std::vector<unsigned short> h1((size_t) npad * qDim), h2((size_t) npad * qDim, 0xFFFF);
    int smem = 2 * 2 * kt * (headDim * (f32 ? 4 : 2) + 16);
    emu::forget();
    emu::allow(keys.data(), keys.size() * 2);
    emu::allow(values.data(), values.size() * 2);
    emu::allow(kf.data(), kf.size() * 4);
    emu::allow(vf.data(), vf.size() * 4);
    long stray = emu::stray_reads();
    for (int v = 0; v < 2; v++) {
        float* o = v == 0 ? out.data() : out2.data();
        unsigned short* oh = v == 0 ? nullptr : h2.data();
        if (f32) {
            emu::launch(headDim == 64 ? attention_tiled_f32_d64 : attention_tiled_f32_d128, grid(nItems, nKv), threads(32 * W),
                        smem, (const float*) q.data(), (const float*) kf.data(), (const float*) vf.data(),
                        (const int*) positions.data(), (const int*) seq.data(), (const int*) tables.data(), maxBlocks, bs,
                        (const int*) items.data(), o, n, nHeads, nKv, scale, oh, v == 0 ? 0 : 1, npad, window, softcap);
        } else {
            emu::launch(headDim == 64 ? attention_tiled_f16_d64 : attention_tiled_f16_d128, grid(nItems, nKv), threads(32 * W),
                        smem, (const float*) q.data(), (const unsigned short*) keys.data(), (const unsigned short*) values.data(),
                        (const int*) positions.data(), (const int*) seq.data(), (const int*) tables.data(), maxBlocks, bs,
                        (const int*) items.data(), o, n, nHeads, nKv, scale, oh, v == 0 ? 0 : 1, npad, window, softcap);
        }
    }
    long strays = emu::stray_reads() - stray;
    emu::forget();
    int gs = G <= 1 ? 1 : G <= 2 ? 2 : 4;
    int ssmem = 4 * (gs * headDim + 2 * W * gs + W * gs * headDim);
    std::vector<float> pacc(1), pml(1);
    if (f32) {
        emu::launch(gs == 4 ? attention_split_f32_g4 : attention_split_f32_g2, grid(n * nKv, 1), threads(32 * W), ssmem,
                    (const float*) q.data(), (const float*) kf.data(), (const float*) vf.data(), (const int*) positions.data(),
                    (const int*) seq.data(), (const int*) tables.data(), maxBlocks, bs, split.data(), pacc.data(), pml.data(),
                    nHeads, nKv, headDim, scale, (unsigned short*) nullptr, 0, npad, window, softcap);
    } else {
        emu::launch(gs == 4 ? attention_split_f16_g4 : attention_split_f16_g2, grid(n * nKv, 1), threads(32 * W), ssmem,
                    (const float*) q.data(), (const unsigned short*) keys.data(), (const unsigned short*) values.data(),
                    (const int*) positions.data(), (const int*) seq.data(), (const int*) tables.data(), maxBlocks, bs,
                    split.data(), pacc.data(), pml.data(), nHeads, nKv, headDim, scale, (unsigned short*) nullptr, 0, npad, window, softcap);
    }
    emu::launch(to_half_padded_f16, grid(blocksFor((size_t) npad * qDim)), threads(256), 0, (const float*) out.data(),
                h1.data(), n, npad, qDim);
    same(out, out2, out.size(), tag + ": the same output with the 16-bit copy");
    same(h1, h2, h1.size(), tag + ": 16-bit copy (F16) is to_half_padded of the output, padding rows zero");
    double worst = 0, worstSplit = 0, big = 0, worstHead = 0;
    for (int t = 0; t < n; t++) {
        int ctx = positions[t] + 1;
        int lo = window > 0 ? std::max(0, ctx - window) : 0;
        for (int h = 0; h < nHeads; h++) {
            int kh = h / G;
            double diff2 = 0, norm2 = 0;
            std::vector<double> s(ctx);
            double mx = -1e300, sum = 0;
            for (int p = lo; p < ctx; p++) {
                int slot = tables[(size_t) seq[t] * maxBlocks + p / bs] * bs + p % bs;
                double dot = 0;
                for (int d = 0; d < headDim; d++) {
                    dot += (double) q[(size_t) (t * nHeads + h) * headDim + d] * keyAt((size_t) slot * kvDim + kh * headDim + d);
                }
                s[p] = dot * scale;
                if (softcap > 0) s[p] = softcap * std::tanh(s[p] / softcap);
                mx = std::max(mx, s[p]);
            }
            for (int p = lo; p < ctx; p++) sum += std::exp(s[p] - mx);
            for (int d = 0; d < headDim; d++) {
                double o = 0;
                for (int p = lo; p < ctx; p++) {
                    int slot = tables[(size_t) seq[t] * maxBlocks + p / bs] * bs + p % bs;
                    o += std::exp(s[p] - mx) / sum * valueAt((size_t) slot * kvDim + kh * headDim + d);
                }
                size_t i = (size_t) (t * nHeads + h) * headDim + d;
                worst = std::max(worst, std::fabs(o - out[i]));
                diff2 += (o - out[i]) * (o - out[i]);
                norm2 += o * o;
                worstSplit = std::max(worstSplit, std::fabs((double) split[i] - out[i]));
                big = std::max(big, std::fabs(o));
            }
            worstHead = std::max(worstHead, std::sqrt(diff2 / norm2));
        }
    }
    // the GPU tests' bounds: 2e-3 per (token, head) in norm (TiledAttentionGpuTest), 3e-3 of the largest output at load
    bool ok = worst <= 3e-3 * big && worstSplit <= 3e-3 * big && worstHead <= 2e-3 && !std::isnan(worst)
            && !std::isnan(worstSplit) && !std::isnan(worstHead);
    std::printf("%s %s: %d items; max difference %.2e (double), %.2e (attention_split), of max %.2e; worst (token, head) "
                "%.2e in norm\n", ok ? "ok  " : "FAIL", tag.c_str(), nItems, worst, worstSplit, big, worstHead);
    if (!ok) failures++;
    if (strays != 0) {
        std::printf("FAIL %s: %ld key/value reads outside the cache\n", tag.c_str(), strays);
        failures++;
    }
}

static unsigned short halfBits(float f, bool bf16) {
    return bf16 ? __float2bfloat16_rn(f).x : __float2half_rn(f).x;
}
static float halfValue(unsigned short h, bool bf16) {
    return bf16 ? __bfloat162float(__nv_bfloat16 {h}) : __half2float(__half {h});
}

// y [n, rows] against a double product of the same 16-bit W and x; max |difference| / max |y| within 1e-5.
static void closeTo(const std::vector<float>& y, const std::vector<unsigned short>& w, const std::vector<unsigned short>& xh,
                    int n, int rows, int cols, bool bf16, const std::string& what) {
    double worst = 0, scale = 0;
    for (int t = 0; t < n; t++) {
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) {
                s += (double) halfValue(w[(size_t) r * cols + c], bf16) * halfValue(xh[(size_t) t * cols + c], bf16);
            }
            worst = std::max(worst, std::fabs(s - y[(size_t) t * rows + r]));
            scale = std::max(scale, std::fabs(s));
        }
    }
    if (!(worst <= 1e-5 * scale)) {
        std::printf("FAIL %s: max difference %g of %g\n", what.c_str(), worst, scale);
        failures++;
    } else {
        std::printf("ok   %s\n", what.c_str());
    }
}

// No load of the stream kernels since `stray` was read fell outside the buffers registered with emu::allow.
static void inBounds(long stray, const std::string& tag) {
    long n = emu::stray_reads() - stray;
    emu::forget();
    if (n != 0) {
        std::printf("FAIL %s: %ld loads outside the weights and activations\n", tag.c_str(), n);
        failures++;
    } else {
        std::printf("ok   %s: every load inside the weights and activations\n", tag.c_str());
    }
}

// W packed for the _packed kernels as CudaLlamaModel does it (DeviceMatrix.packForStream): row groups rounded up to 16,
// from a buffer that starts as 0xFFFF so that a padding piece left unwritten would show.
using Packer = void (*)(const unsigned short*, unsigned short*, int, int, int);
static std::vector<unsigned short> packedBy(Packer packer, const std::vector<unsigned short>& w, int rows, int cols) {
    int groups = (rows + 255) / 256 * 16;
    size_t pieces = (size_t) groups * ((cols + 63) / 64) * 128;
    std::vector<unsigned short> p(pieces * 8, 0xFFFF);
    emu::launch(packer, grid(blocksFor(pieces)), threads(256), 0, w.data(), p.data(), rows, cols, groups);
    return p;
}
static std::vector<unsigned short> packed(const std::vector<unsigned short>& w, int rows, int cols) {
    return packedBy(pack_stream_weights, w, rows, cols);
}

// The same tiles packed for the sm_90a kernels (pack_stream_weights_wg: each piece one k16 step's A fragment).
static std::vector<unsigned short> packedWg(const std::vector<unsigned short>& w, int rows, int cols) {
    return packedBy(wg::pack_stream_weights_wg, w, rows, cols);
}

// a within 1e-5 of b (max abs difference over b's max abs value): the same sums added in other groups.
static void near(const std::vector<float>& a, const std::vector<float>& b, size_t n, const std::string& what) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = std::max(worst, std::fabs((double) a[i] - b[i]));
        scale = std::max(scale, (double) std::fabs(b[i]));
    }
    if (!(worst <= 1e-5 * scale)) {
        std::printf("FAIL %s: max difference %g of %g\n", what.c_str(), worst, scale);
        failures++;
    } else {
        std::printf("ok   %s\n", what.c_str());
    }
}

// matmul_stream(_wide): x rounded and padded by to_half_padded, one split written directly, several reduced; then the
// same with the packed weights (_packed kernels) and with 32-row warps on them (_tall_packed, 256-row blocks), which
// must give the same bits.
static void stream(bool bf16, bool wide, int rows, int cols, int n, int chunk) {
    std::string tag = std::string(wide ? "matmul_stream_wide " : "matmul_stream ") + (bf16 ? "bf16" : "f16") + " " + std::to_string(rows)
            + " x " + std::to_string(cols) + ", n " + std::to_string(n) + ", chunk " + std::to_string(chunk);
    int tiles8 = (n + 7) / 8, npad = tiles8 * 8;
    int splits = (cols + chunk - 1) / chunk;
    auto wf = randoms((size_t) rows * cols, -1, 1);
    std::vector<unsigned short> w(wf.size());
    for (size_t i = 0; i < w.size(); i++) w[i] = halfBits(wf[i], bf16);
    auto x = randoms((size_t) n * cols, -2, 2);
    std::vector<unsigned short> xh((size_t) npad * cols, 0xFFFF);
    emu::launch(bf16 ? to_half_padded_bf16 : to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0,
                (const float*) x.data(), xh.data(), n, npad, cols);
    int rowsPerBlock = wide ? 256 : 128;
    auto plain = wide ? (bf16 ? matmul_stream_wide_bf16 : matmul_stream_wide_f16) : (bf16 ? matmul_stream_bf16 : matmul_stream_f16);
    auto pack = wide ? (bf16 ? matmul_stream_wide_packed_bf16 : matmul_stream_wide_packed_f16)
                     : (bf16 ? matmul_stream_packed_bf16 : matmul_stream_packed_f16);
    std::vector<unsigned short> wp = packed(w, rows, cols);
    auto tall = bf16 ? matmul_stream_tall_packed_bf16 : matmul_stream_tall_packed_f16;
    // every weight and activation load must fall inside W, its packed copy or the padded activations
    emu::forget();
    emu::allow(w.data(), w.size() * 2);
    emu::allow(wp.data(), wp.size() * 2);
    emu::allow(xh.data(), xh.size() * 2);
    long stray = emu::stray_reads();
    // the sm_90a module's kernels (v 3, 4): packed and 32-row warps on warpgroup MMAs, from their own packing
    auto wgPack = wide ? (bf16 ? wg::matmul_stream_wide_packed_bf16 : wg::matmul_stream_wide_packed_f16)
                       : (bf16 ? wg::matmul_stream_packed_bf16 : wg::matmul_stream_packed_f16);
    auto wgTall = bf16 ? wg::matmul_stream_tall_packed_bf16 : wg::matmul_stream_tall_packed_f16;
    std::vector<unsigned short> wpw = packedWg(w, rows, cols);
    emu::allow(wpw.data(), wpw.size() * 2);
    // stream_sm90's (v 5, 6): row-major and 32-row warps on the mma.sync packing, waiting after their first weights
    auto pdlPlain = wide ? (bf16 ? pdl::matmul_stream_wide_bf16 : pdl::matmul_stream_wide_f16)
                         : (bf16 ? pdl::matmul_stream_bf16 : pdl::matmul_stream_f16);
    auto pdlTall = bf16 ? pdl::matmul_stream_tall_packed_bf16 : pdl::matmul_stream_tall_packed_f16;
    std::vector<float> y[7];
    for (int v = 0; v < 7; v++) {
        auto kernel = v == 0 ? plain : v == 1 ? pack : v == 2 ? tall : v == 3 ? wgPack : v == 4 ? wgTall : v == 5 ? pdlPlain : pdlTall;
        const unsigned short* weights = v == 0 || v == 5 ? w.data() : v < 3 || v == 6 ? wp.data() : wpw.data();
        int blockRows = v == 2 || v == 4 || v == 6 ? 256 : rowsPerBlock;
        int blockThreads = v == 2 || v == 4 || v == 6 ? 256 : rowsPerBlock * 2;
        y[v].assign((size_t) n * rows, NAN);
        if (splits == 1) {
            emu::launch(kernel, grid((rows + blockRows - 1) / blockRows, 1), threads(blockThreads), 0, weights,
                        (const unsigned short*) xh.data(), y[v].data(), tiles8, n, rows, cols, chunk);
        } else {
            std::vector<float> part((size_t) splits * npad * rows, NAN);
            emu::launch(kernel, grid((rows + blockRows - 1) / blockRows, splits), threads(blockThreads), 0,
                        weights, (const unsigned short*) xh.data(), part.data(), tiles8, npad, rows, cols, chunk);
            emu::launch(splitk_reduce, grid(blocksFor(y[v].size())), threads(256), 0, (const float*) part.data(),
                        y[v].data(), n, npad, rows, splits);
        }
    }
    closeTo(y[0], w, xh, n, rows, cols, bf16, tag + " (" + std::to_string(splits) + " splits)");
    same(y[0], y[1], y[0].size(), tag + ": packed weights give the same bits");
    same(y[0], y[2], y[0].size(), tag + ": 32-row warps on packed weights give the same bits");
    closeTo(y[3], w, xh, n, rows, cols, bf16, tag + ": warpgroup MMAs (sm_90a) on their packing");
    closeTo(y[4], w, xh, n, rows, cols, bf16, tag + ": warpgroup MMAs with 32-row warps on their packing");
    same(y[0], y[5], y[0].size(), tag + ": stream_sm90 (programmatic launch) gives the same bits");
    same(y[0], y[6], y[0].size(), tag + ": stream_sm90's 32-row warps give the same bits");
    inBounds(stray, tag);
}

// y against a double reference of the same length: max |difference| within 1e-5 of the reference's largest |value|.
static void closeToRef(const std::vector<double>& ref, const std::vector<float>& y, double scale, const std::string& what) {
    double worst = 0;
    for (size_t i = 0; i < ref.size(); i++) worst = std::max(worst, std::fabs(ref[i] - y[i]));
    if (!(worst <= 1e-5 * scale)) {
        std::printf("FAIL %s: max difference %g of %g\n", what.c_str(), worst, scale);
        failures++;
    } else {
        std::printf("ok   %s\n", what.c_str());
    }
}

// Row r of the double reference of a quantized product: ref[t, r] = w (row r's weights as the kernel widens them) .
// the F16 activations of token t, for the n tokens; scale grows to the largest |ref|.
static void referenceRow(const std::vector<float>& w, const std::vector<unsigned short>& xh, int r, int n, int rows,
                         std::vector<double>& ref, double& scale) {
    size_t cols = w.size();
    for (int t = 0; t < n; t++) {
        double s = 0;
        for (size_t c = 0; c < cols; c++) {
            s += (double) w[c] * __half2float(__half {xh[(size_t) t * cols + c]});
        }
        ref[(size_t) t * rows + r] = s;
        scale = std::max(scale, std::fabs(s));
    }
}

// The Q8_0 / Q6_K tensor-core kernels (one signature) on quants wq, scales ws and F16 activations xh: up to 64 tokens
// with splits of `chunk` columns (one split writes y, several are reduced), more as 64-token slices, each result within
// 1e-5 of the double reference; the slices bit for bit the decode kernel on each slice; every quant load in bounds.
using QuantDecode = void (*)(const unsigned char*, const float*, const unsigned short*, float*, int, int, int, int, int);
using QuantSlices = void (*)(const unsigned char*, const float*, const unsigned short*, float*, int, int, int);
static void runQuantStream(QuantDecode decode, QuantSlices slicesKernel, const std::vector<unsigned char>& wq,
                           const std::vector<float>& ws, const std::vector<unsigned short>& xh, const std::vector<double>& ref,
                           double scale, int rows, int cols, int n, int chunk, const std::string& tag) {
    emu::forget();
    emu::allow(wq.data(), wq.size());
    emu::allow(xh.data(), xh.size() * 2);
    long stray = emu::stray_reads();
    std::vector<float> y((size_t) n * rows, NAN);
    if (n <= 64) {
        int npad = (n + 7) / 8 * 8;
        int splits = (cols + chunk - 1) / chunk;
        std::vector<float> part((size_t) splits * npad * rows, NAN);
        emu::launch(decode, grid((rows + 127) / 128, splits), threads(256), 0, wq.data(), ws.data(), xh.data(),
                    splits == 1 ? y.data() : part.data(), npad / 8, splits == 1 ? n : npad, rows, cols, chunk);
        if (splits > 1) {
            emu::launch(splitk_reduce, grid(blocksFor(y.size())), threads(256), 0, (const float*) part.data(), y.data(), n, npad,
                        rows, splits);
        }
        closeToRef(ref, y, scale, tag + " (" + std::to_string(splits) + " splits) within 1e-5 of the double product");
    } else {
        int slices = (n + 63) / 64;
        emu::launch(slicesKernel, grid((rows + 127) / 128, slices), threads(256), 0, wq.data(), ws.data(), xh.data(), y.data(),
                    n, rows, cols);
        closeToRef(ref, y, scale, tag + " as " + std::to_string(slices) + " slices within 1e-5 of the double product");
        std::vector<float> each((size_t) n * rows, NAN);
        for (int z = 0; z < slices; z++) {
            int t0 = z * 64, m = std::min(64, n - t0);
            emu::launch(decode, grid((rows + 127) / 128, 1), threads(256), 0, wq.data(), ws.data(), xh.data() + (size_t) t0 * cols,
                        each.data() + (size_t) t0 * rows, (m + 7) / 8, m, rows, cols, cols);
        }
        same(each, y, y.size(), tag + ": each slice the bits of the decode kernel with one split");
    }
    inBounds(stray, tag);
}

// matmul_stream_q8 (Q8_0 quants and per-32 scales, F16 activations): one split written directly, several reduced by
// splitk_reduce, against a double product of the same quants x scales and F16-rounded x (within 1e-5); the slices
// kernel (more than 64 tokens) bit for bit the decode kernel with one split on each 64-token slice; every quant load
// inside the quants.
static void q8stream(int rows, int cols, int n, int chunk) {
    std::string tag = "matmul_stream_q8 " + std::to_string(rows) + " x " + std::to_string(cols) + ", n " + std::to_string(n)
            + (n <= 64 ? ", chunk " + std::to_string(chunk) : "");
    int blocks = cols / 32;
    std::vector<unsigned char> wq((size_t) rows * cols); // int8 quants
    for (auto& v : wq) v = (unsigned char) (signed char) ((int) (rng() % 255) - 127);
    auto ws = randoms((size_t) rows * blocks, 1e-3, 2e-2);
    auto x = randoms((size_t) n * cols, -2, 2);
    int npadAll = (n + 7) / 8 * 8;
    std::vector<unsigned short> xh((size_t) npadAll * cols, 0xFFFF);
    emu::launch(to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0, (const float*) x.data(), xh.data(), n,
                npadAll, cols);
    // the double product of what the kernels multiply: q * scale against the F16 activations
    std::vector<double> ref((size_t) n * rows);
    double scale = 0;
    for (int t = 0; t < n; t++) {
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int c = 0; c < cols; c++) {
                s += (double) (signed char) wq[(size_t) r * cols + c] * ws[(size_t) r * blocks + c / 32]
                        * __half2float(__half {xh[(size_t) t * cols + c]});
            }
            ref[(size_t) t * rows + r] = s;
            scale = std::max(scale, std::fabs(s));
        }
    }
    runQuantStream(matmul_stream_q8, matmul_stream_q8_slices, wq, ws, xh, ref, scale, rows, cols, n, chunk, tag);
    // stream_sm90's (waiting for its predecessor first thing)
    runQuantStream(pdl::matmul_stream_q8, pdl::matmul_stream_q8_slices, wq, ws, xh, ref, scale, rows, cols, n, chunk,
                   "stream_sm90 " + tag);
}

// matmul_stream_q4_k (Q4_K planes: nibbles in ggml's 64-value chunk order, a (scale, min) pair per 32; F16 activations
// and their block sums from half_block_sums): one split, several reduced, and as 64-token slices, against a double
// product of the weights decoded by the CPU's rule (scale q - min, each rounding in float) and the F16 activations
// (within 1e-5); the slices bit for bit the decode kernel on each slice; every quant and sum load inside its buffer.
static void q4kstream(int rows, int cols, int n, int chunk) {
    std::string tag = "matmul_stream_q4_k " + std::to_string(rows) + " x " + std::to_string(cols) + ", n " + std::to_string(n)
            + (n <= 64 ? ", chunk " + std::to_string(chunk) : "");
    int groups = cols / 32;
    std::vector<unsigned char> wq((size_t) rows * cols / 2);
    for (auto& v : wq) v = (unsigned char) (rng() & 0xff);
    auto sc = randoms((size_t) rows * groups, 1e-3, 2e-2);
    auto mn = randoms((size_t) rows * groups, 0, 0.1);
    std::vector<float> ws((size_t) rows * groups * 2);
    for (size_t g = 0; g < sc.size(); g++) {
        ws[2 * g] = sc[g];
        ws[2 * g + 1] = mn[g];
    }
    auto x = randoms((size_t) n * cols, -2, 2);
    int npad = (n + 7) / 8 * 8;
    std::vector<unsigned short> xh((size_t) npad * cols, 0xFFFF);
    emu::launch(to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0, (const float*) x.data(), xh.data(), n, npad,
                cols);
    std::vector<float> xsum((size_t) (cols / 64) * npad * 2, NAN);
    emu::launch(half_block_sums, grid(blocksFor(xsum.size())), threads(256), 0, (const unsigned short*) xh.data(), xsum.data(),
                npad, cols);
    std::vector<double> ref((size_t) n * rows);
    double scale = 0;
    for (int r = 0; r < rows; r++) {
        std::vector<float> w(cols);
        for (int c = 0; c < cols; c++) {
            unsigned b = wq[(size_t) r * cols / 2 + (c / 64) * 32 + (c & 31)];
            unsigned qv = (c & 32) ? b >> 4 : b & 15u;
            size_t g = (size_t) r * groups + c / 32;
            float prod = ws[2 * g] * (float) qv; // -ffp-contract=off: the two roundings of the CPU's rule
            w[c] = prod - ws[2 * g + 1];
        }
        referenceRow(w, xh, r, n, rows, ref, scale);
    }
    emu::forget();
    emu::allow(wq.data(), wq.size());
    emu::allow(xh.data(), xh.size() * 2);
    emu::allow(xsum.data(), xsum.size() * 4);
    long stray = emu::stray_reads();
    std::vector<float> y((size_t) n * rows, NAN);
    if (n <= 64) {
        int splits = (cols + chunk - 1) / chunk;
        if (splits == 1) {
            emu::launch(matmul_stream_q4_k, grid((rows + 127) / 128, 1), threads(256), 0, (const unsigned char*) wq.data(),
                        (const float*) ws.data(), (const unsigned short*) xh.data(), (const float*) xsum.data(), y.data(),
                        npad / 8, n, rows, cols, chunk);
        } else {
            std::vector<float> part((size_t) splits * npad * rows, NAN);
            emu::launch(matmul_stream_q4_k, grid((rows + 127) / 128, splits), threads(256), 0, (const unsigned char*) wq.data(),
                        (const float*) ws.data(), (const unsigned short*) xh.data(), (const float*) xsum.data(), part.data(),
                        npad / 8, npad, rows, cols, chunk);
            emu::launch(splitk_reduce, grid(blocksFor(y.size())), threads(256), 0, (const float*) part.data(), y.data(), n, npad,
                        rows, splits);
        }
        closeToRef(ref, y, scale, tag + " (" + std::to_string(splits) + " splits) within 1e-5 of the double product");
    } else {
        int slices = (n + 63) / 64;
        emu::launch(matmul_stream_q4_k_slices, grid((rows + 127) / 128, slices), threads(256), 0,
                    (const unsigned char*) wq.data(), (const float*) ws.data(), (const unsigned short*) xh.data(),
                    (const float*) xsum.data(), y.data(), n, rows, cols);
        closeToRef(ref, y, scale, tag + " as " + std::to_string(slices) + " slices within 1e-5 of the double product");
        // each slice through the decode kernel with one split, its own block sums
        std::vector<float> each((size_t) n * rows, NAN);
        for (int z = 0; z < slices; z++) {
            int t0 = z * 64, m = std::min(64, n - t0), mp = (m + 7) / 8 * 8;
            std::vector<unsigned short> sh(xh.begin() + (size_t) t0 * cols, xh.begin() + (size_t) (t0 + mp) * cols);
            std::vector<float> ssum((size_t) (cols / 64) * mp * 2);
            emu::launch(half_block_sums, grid(blocksFor(ssum.size())), threads(256), 0, (const unsigned short*) sh.data(),
                        ssum.data(), mp, cols);
            emu::allow(sh.data(), sh.size() * 2);
            emu::allow(ssum.data(), ssum.size() * 4);
            emu::launch(matmul_stream_q4_k, grid((rows + 127) / 128, 1), threads(256), 0, (const unsigned char*) wq.data(),
                        (const float*) ws.data(), (const unsigned short*) sh.data(), (const float*) ssum.data(),
                        each.data() + (size_t) t0 * rows, mp / 8, m, rows, cols, cols);
        }
        same(each, y, y.size(), tag + ": each slice the bits of the decode kernel with one split");
    }
    inBounds(stray, tag);
}

// matmul_stream_q6_k (Q6_K planes: q - 32 as int8, a scale per 16; each weight scaled and rounded to F16 before the
// mma): one split, several reduced, and as 64-token slices, against a double product of those F16 weights and the F16
// activations (within 1e-5); the slices bit for bit the decode kernel on each slice; every quant load inside the quants.
static void q6kstream(int rows, int cols, int n, int chunk) {
    std::string tag = "matmul_stream_q6_k " + std::to_string(rows) + " x " + std::to_string(cols) + ", n " + std::to_string(n)
            + (n <= 64 ? ", chunk " + std::to_string(chunk) : "");
    std::vector<unsigned char> wq((size_t) rows * cols);
    for (auto& v : wq) v = (unsigned char) (signed char) ((int) (rng() % 64) - 32);
    auto ws = randoms((size_t) rows * cols / 16, 1e-3, 2e-2);
    auto x = randoms((size_t) n * cols, -2, 2);
    int npad = (n + 7) / 8 * 8;
    std::vector<unsigned short> xh((size_t) npad * cols, 0xFFFF);
    emu::launch(to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0, (const float*) x.data(), xh.data(), n, npad,
                cols);
    std::vector<double> ref((size_t) n * rows);
    double scale = 0;
    for (int r = 0; r < rows; r++) {
        std::vector<float> w(cols);
        for (int c = 0; c < cols; c++) {
            float prod = ws[((size_t) r * cols + c) / 16] * (float) (signed char) wq[(size_t) r * cols + c];
            w[c] = __half2float(__float2half_rn(prod));
        }
        referenceRow(w, xh, r, n, rows, ref, scale);
    }
    runQuantStream(matmul_stream_q6_k, matmul_stream_q6_k_slices, wq, ws, xh, ref, scale, rows, cols, n, chunk, tag);
}

// matmul_stream_slices (prefill: 64-token slices in one launch), row-major and packed: each slice bit for bit
// matmul_stream of those tokens with one split, and all within 1e-5 of the double product.
static void slices(bool bf16, int rows, int cols, int n) {
    std::string tag = std::string("matmul_stream_slices ") + (bf16 ? "bf16 " : "f16 ") + std::to_string(rows) + " x "
            + std::to_string(cols) + ", n " + std::to_string(n);
    int npad = (n + 7) / 8 * 8;
    int sliceCount = (n + 63) / 64;
    auto wf = randoms((size_t) rows * cols, -1, 1);
    std::vector<unsigned short> w(wf.size());
    for (size_t i = 0; i < w.size(); i++) w[i] = halfBits(wf[i], bf16);
    std::vector<unsigned short> wp = packed(w, rows, cols);
    auto x = randoms((size_t) n * cols, -2, 2);
    std::vector<unsigned short> xh((size_t) npad * cols, 0xFFFF);
    emu::launch(bf16 ? to_half_padded_bf16 : to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0,
                (const float*) x.data(), xh.data(), n, npad, cols);
    emu::forget();
    emu::allow(w.data(), w.size() * 2);
    emu::allow(wp.data(), wp.size() * 2);
    emu::allow(xh.data(), xh.size() * 2);
    long stray = emu::stray_reads();
    std::vector<unsigned short> wpw = packedWg(w, rows, cols);
    emu::allow(wpw.data(), wpw.size() * 2);
    std::vector<float> y[5];
    for (int v = 0; v < 5; v++) { // row-major, packed, packed with 32-row warps; the last two on warpgroup MMAs
        y[v].assign((size_t) n * rows, NAN);
        auto kernel = v == 0 ? (bf16 ? matmul_stream_slices_bf16 : matmul_stream_slices_f16)
                    : v == 1 ? (bf16 ? matmul_stream_packed_slices_bf16 : matmul_stream_packed_slices_f16)
                    : v == 2 ? (bf16 ? matmul_stream_tall_packed_slices_bf16 : matmul_stream_tall_packed_slices_f16)
                    : v == 3 ? (bf16 ? wg::matmul_stream_packed_slices_bf16 : wg::matmul_stream_packed_slices_f16)
                             : (bf16 ? wg::matmul_stream_tall_packed_slices_bf16 : wg::matmul_stream_tall_packed_slices_f16);
        int blockRows = v == 2 || v == 4 ? 256 : 128;
        emu::launch(kernel, grid((rows + blockRows - 1) / blockRows, sliceCount), threads(256), 0,
                    (const unsigned short*) (v == 0 ? w.data() : v < 3 ? wp.data() : wpw.data()),
                    (const unsigned short*) xh.data(), y[v].data(), n, rows, cols);
    }
    inBounds(stray, tag);
    // slice by slice through matmul_stream with one split (the decode kernel), from a copy of the slice's halves
    std::vector<float> ref((size_t) n * rows, NAN);
    int chunk = (cols + 63) / 64 * 64;
    for (int z = 0; z < sliceCount; z++) {
        int t0 = 64 * z, nOut = std::min(64, n - t0), tiles8 = (nOut + 7) / 8;
        std::vector<unsigned short> xs(xh.begin() + (size_t) t0 * cols, xh.begin() + (size_t) (t0 + tiles8 * 8) * cols);
        emu::launch(bf16 ? matmul_stream_bf16 : matmul_stream_f16, grid((rows + 127) / 128, 1), threads(256), 0,
                    (const unsigned short*) w.data(), (const unsigned short*) xs.data(), ref.data() + (size_t) t0 * rows,
                    tiles8, nOut, rows, cols, chunk);
    }
    closeTo(y[0], w, xh, n, rows, cols, bf16, tag);
    same(ref, y[0], ref.size(), tag + ": each slice the bits of matmul_stream with one split");
    same(ref, y[1], ref.size(), tag + ": packed weights give the same bits");
    same(ref, y[2], ref.size(), tag + ": 32-row warps on packed weights give the same bits");
    closeTo(y[3], w, xh, n, rows, cols, bf16, tag + ": warpgroup MMAs (sm_90a) on their packing");
    closeTo(y[4], w, xh, n, rows, cols, bf16, tag + ": warpgroup MMAs with 32-row warps on their packing");
}

// Random weights in [-1, 1) as a rows x cols matrix of 16-bit values (bf16 or f16).
static std::vector<unsigned short> halfMatrix(int rows, int cols, bool bf16) {
    auto wf = randoms((size_t) rows * cols, -1, 1);
    std::vector<unsigned short> w(wf.size());
    for (size_t i = 0; i < wf.size(); i++) w[i] = halfBits(wf[i], bf16);
    return w;
}

// matmul_stream_group_bf16 for Q/K/V-like matrices with their own chunks, reduced by splitk_reduce_group.
static void streamGroup(int rows0, int rows1, int rows2, int cols, int n, int c0, int c1, int c2) {
    std::string tag = "matmul_stream_group bf16 " + std::to_string(rows0) + "/" + std::to_string(rows1) + "/"
            + std::to_string(rows2) + " x " + std::to_string(cols) + ", n " + std::to_string(n);
    int tiles8 = (n + 7) / 8, npad = tiles8 * 8;
    int rows[3] = {rows0, rows1, rows2}, chunk[3] = {c0, c1, c2}, splits[3];
    std::vector<unsigned short> w[3];
    int blocks = 0, maxSplits = 1;
    size_t partial = 0;
    for (int m = 0; m < 3; m++) {
        w[m] = halfMatrix(rows[m], cols, true);
        splits[m] = (cols + chunk[m] - 1) / chunk[m];
        blocks += (rows[m] + 127) / 128;
        maxSplits = std::max(maxSplits, splits[m]);
        partial += (size_t) splits[m] * npad * rows[m];
    }
    auto x = randoms((size_t) n * cols, -2, 2);
    std::vector<unsigned short> xh((size_t) npad * cols);
    emu::launch(to_half_padded_bf16, grid(blocksFor(xh.size())), threads(256), 0, (const float*) x.data(), xh.data(), n, npad, cols);
    std::vector<float> part(partial, NAN), y[3];
    std::vector<unsigned short> wp[3] = {packed(w[0], rows0, cols), packed(w[1], rows1, cols), packed(w[2], rows2, cols)};
    emu::forget();
    for (int m = 0; m < 3; m++) {
        emu::allow(w[m].data(), w[m].size() * 2);
        emu::allow(wp[m].data(), wp[m].size() * 2);
    }
    emu::allow(xh.data(), xh.size() * 2);
    long stray = emu::stray_reads();
    for (int m = 0; m < 3; m++) y[m].assign((size_t) n * rows[m], NAN);
    emu::launch(matmul_stream_group_bf16, grid(blocks, maxSplits), threads(256), 0, (const unsigned short*) w[0].data(),
                (const unsigned short*) w[1].data(), (const unsigned short*) w[2].data(), (const unsigned short*) xh.data(),
                part.data(), tiles8, cols, rows0, rows1, rows2, c0, c1, c2, NO_EPI);
    emu::launch(splitk_reduce_group, grid(blocksFor((size_t) n * (rows0 + rows1 + rows2))), threads(256), 0,
                (const float*) part.data(), y[0].data(), y[1].data(), y[2].data(), n, npad, rows0, rows1, rows2, splits[0],
                splits[1], splits[2]);
    for (int m = 0; m < 3; m++) closeTo(y[m], w[m], xh, n, rows[m], cols, true, tag + ", matrix " + std::to_string(m));
    // the packed group: its partial sums bit for bit the row-major group's
    std::vector<float> part2(partial, NAN);
    emu::launch(matmul_stream_packed_group_bf16, grid(blocks, maxSplits), threads(256), 0, (const unsigned short*) wp[0].data(),
                (const unsigned short*) wp[1].data(), (const unsigned short*) wp[2].data(), (const unsigned short*) xh.data(),
                part2.data(), tiles8, cols, rows0, rows1, rows2, c0, c1, c2, NO_EPI);
    same(part, part2, partial, tag + ": packed weights give the same partial sums");
    int tallBlocks = (rows0 + 255) / 256 + (rows1 + 255) / 256 + (rows2 + 255) / 256;
    std::vector<float> part3(partial, NAN);
    emu::launch(matmul_stream_tall_packed_group_bf16, grid(tallBlocks, maxSplits), threads(256), 0,
                (const unsigned short*) wp[0].data(), (const unsigned short*) wp[1].data(), (const unsigned short*) wp[2].data(),
                (const unsigned short*) xh.data(), part3.data(), tiles8, cols, rows0, rows1, rows2, c0, c1, c2,
                NO_EPI);
    same(part, part3, partial, tag + ": 32-row warps on packed weights give the same partial sums");
    // the sm_90a module's grouped kernels (warpgroup MMAs) on their packing: packed and 32-row warps
    std::vector<unsigned short> wpw[3] = {packedWg(w[0], rows0, cols), packedWg(w[1], rows1, cols), packedWg(w[2], rows2, cols)};
    for (int m = 0; m < 3; m++) emu::allow(wpw[m].data(), wpw[m].size() * 2);
    std::vector<float> part4(partial, NAN);
    emu::launch(wg::matmul_stream_packed_group_bf16, grid(blocks, maxSplits), threads(256), 0,
                (const unsigned short*) wpw[0].data(), (const unsigned short*) wpw[1].data(), (const unsigned short*) wpw[2].data(),
                (const unsigned short*) xh.data(), part4.data(), tiles8, cols, rows0, rows1, rows2, c0, c1, c2, NO_EPI);
    near(part4, part, partial, tag + ": warpgroup MMAs (sm_90a) on their packing give the partial sums");
    std::vector<float> part5(partial, NAN);
    emu::launch(wg::matmul_stream_tall_packed_group_bf16, grid(tallBlocks, maxSplits), threads(256), 0,
                (const unsigned short*) wpw[0].data(), (const unsigned short*) wpw[1].data(), (const unsigned short*) wpw[2].data(),
                (const unsigned short*) xh.data(), part5.data(), tiles8, cols, rows0, rows1, rows2, c0, c1, c2, NO_EPI);
    near(part5, part, partial, tag + ": warpgroup MMAs with 32-row warps on their packing give the partial sums");
    inBounds(stray, tag);
}

// The grouped products that reduce their own partial sums (epi: 1 SwiGLU, 2 RoPE + KV write) against the same product
// leaving partial sums (NO_EPI) followed by the separate reduction kernel: the same bits, for the 128-row, packed and
// 256-row (tall) flavours, and the arrival counters back at zero after every launch (the next one starts from them).
// With a reduction the grid is (splits, row blocks), as DeviceMatrix launches it. 16-warp blocks: 512 threads.
using GroupKernel = void (*)(const unsigned short*, const unsigned short*, const unsigned short*, const unsigned short*, float*,
                             int, int, int, int, int, int, int, int, GROUP_EPI_PARAMS);
struct Flavour {
    const char* name;
    GroupKernel kernel;
    int rowsPerBlock;
    bool packed;
    unsigned threads;
};
static std::vector<Flavour> flavours(bool bf16) {
    return {{"128-row", bf16 ? matmul_stream_group_bf16 : matmul_stream_group_f16, 128, false, 256},
            {"16-warp", bf16 ? matmul_stream_wide_group_bf16 : matmul_stream_wide_group_f16, 256, false, 512},
            {"packed", bf16 ? matmul_stream_packed_group_bf16 : matmul_stream_packed_group_f16, 128, true, 256},
            {"tall", bf16 ? matmul_stream_tall_packed_group_bf16 : matmul_stream_tall_packed_group_f16, 256, true, 256}};
}

static void countersZero(const std::vector<int>& counters, const std::string& what) {
    for (size_t i = 0; i < counters.size(); i++) {
        if (counters[i] != 0) {
            std::printf("FAIL %s: arrival counter %zu left at %d\n", what.c_str(), i, counters[i]);
            failures++;
            return;
        }
    }
}

// gate and up [rows, cols] with their own chunks (c0 != c1: a split only up has), n tokens; halves: also yh.
static void groupSwiglu(bool bf16, int rows, int cols, int n, int c0, int c1, bool halves) {
    std::string tag = std::string("grouped product + SwiGLU ") + (bf16 ? "bf16 " : "f16 ") + std::to_string(rows) + " x "
            + std::to_string(cols) + ", n " + std::to_string(n) + (halves ? ", 16-bit copy" : "");
    int tiles8 = (n + 7) / 8, npad = tiles8 * 8;
    int s0 = (cols + c0 - 1) / c0, s1 = (cols + c1 - 1) / c1;
    auto gate = halfMatrix(rows, cols, bf16), up = halfMatrix(rows, cols, bf16);
    auto gp = packed(gate, rows, cols), upk = packed(up, rows, cols);
    auto x = randoms((size_t) n * cols, -2, 2);
    std::vector<unsigned short> xh((size_t) npad * cols);
    emu::launch(bf16 ? to_half_padded_bf16 : to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0,
                (const float*) x.data(), xh.data(), n, npad, cols);
    size_t partial = (size_t) (s0 + s1) * npad * rows;
    std::vector<int> counters(64, 0);
    for (const Flavour& f : flavours(bf16)) {
        const unsigned short* g = f.packed ? gp.data() : gate.data();
        const unsigned short* u = f.packed ? upk.data() : up.data();
        int blocks = 2 * ((rows + f.rowsPerBlock - 1) / f.rowsPerBlock);
        std::vector<float> part(partial, NAN), y1((size_t) n * rows, NAN), y2((size_t) n * rows, NAN);
        std::vector<unsigned short> h1((size_t) npad * rows, 0xFFFF), h2((size_t) npad * rows, 0xFFFF);
        emu::launch(f.kernel, grid(blocks, std::max(s0, s1)), threads(f.threads), 0, g, u, (const unsigned short*) nullptr,
                    (const unsigned short*) xh.data(), part.data(), tiles8, cols, rows, rows, 0, c0, c1, 64, NO_EPI);
        if (halves) {
            emu::launch(bf16 ? splitk_reduce_swiglu_h_bf16 : splitk_reduce_swiglu_h_f16, grid(blocksFor((size_t) npad * rows)),
                        threads(256), 0, (const float*) part.data(), y1.data(), h1.data(), n, npad, rows, s0, s1);
        } else {
            emu::launch(splitk_reduce_swiglu, grid(blocksFor((size_t) n * rows)), threads(256), 0, (const float*) part.data(),
                        y1.data(), n, npad, rows, s0, s1);
        }
        std::vector<float> part2(partial, NAN);
        emu::launch(f.kernel, grid(std::max(s0, s1), blocks), threads(f.threads), 0, g, u, (const unsigned short*) nullptr,
                    (const unsigned short*) xh.data(), part2.data(), tiles8, cols, rows, rows, 0, c0, c1, 64, 1, n,
                    counters.data(), y2.data(), (float*) nullptr, (float*) nullptr, halves ? h2.data() : nullptr,
                    (const float*) nullptr, (const float*) nullptr, (const float*) nullptr, (const int*) nullptr,
                    (const float*) nullptr, (const int*) nullptr, (void*) nullptr, (void*) nullptr, 0, 0, 0);
        std::string what = tag + ", " + f.name;
        same(y1, y2, y1.size(), what + ": y");
        if (halves) same(h1, h2, h1.size(), what + ": 16-bit copy, padding zero");
        countersZero(counters, what);
    }
}

// A single product (Wo, down: rows x cols, chunk c0, n tokens) reducing its own sums into the residual stream
// (EPI_RESIDUAL): x += the sum of its splits, bit for bit its partial sums, splitk_reduce and add_inplace; on the
// mma.sync kernels and on the sm_90a module's warpgroup MMAs (each against its own separate way).
static void groupResidual(bool bf16, int rows, int cols, int n, int c0) {
    std::string tag = std::string("product reducing into the residual ") + (bf16 ? "bf16 " : "f16 ") + std::to_string(rows)
            + " x " + std::to_string(cols) + ", n " + std::to_string(n) + ", chunk " + std::to_string(c0);
    int tiles8 = (n + 7) / 8, npad = tiles8 * 8;
    int s0 = (cols + c0 - 1) / c0;
    auto wm = halfMatrix(rows, cols, bf16);
    auto wp = packed(wm, rows, cols);
    auto wpw = packedWg(wm, rows, cols);
    auto x = randoms((size_t) n * cols, -2, 2);
    std::vector<unsigned short> xh((size_t) npad * cols);
    emu::launch(bf16 ? to_half_padded_bf16 : to_half_padded_f16, grid(blocksFor(xh.size())), threads(256), 0,
                (const float*) x.data(), xh.data(), n, npad, cols);
    auto resid = randoms((size_t) n * rows, -3, 3);
    std::vector<int> counters(64, 0);
    std::vector<Flavour> all = flavours(bf16);
    all.push_back({"wgmma packed", bf16 ? wg::matmul_stream_packed_group_bf16 : wg::matmul_stream_packed_group_f16, 128, true, 256});
    all.push_back({"wgmma tall", bf16 ? wg::matmul_stream_tall_packed_group_bf16 : wg::matmul_stream_tall_packed_group_f16, 256, true, 256});
    for (size_t fi = 0; fi < all.size(); fi++) {
        const Flavour& f = all[fi];
        const unsigned short* w = fi >= 4 ? wpw.data() : f.packed ? wp.data() : wm.data();
        int blocks = (rows + f.rowsPerBlock - 1) / f.rowsPerBlock;
        std::vector<float> part((size_t) s0 * npad * rows, NAN), y((size_t) n * rows, NAN), x1 = resid;
        emu::launch(f.kernel, grid(blocks, s0), threads(f.threads), 0, w, (const unsigned short*) nullptr,
                    (const unsigned short*) nullptr, (const unsigned short*) xh.data(), part.data(), tiles8, cols, rows, 0, 0,
                    c0, 64, 64, NO_EPI);
        emu::launch(splitk_reduce, grid(blocksFor(y.size())), threads(256), 0, (const float*) part.data(), y.data(), n, npad,
                    rows, s0);
        emu::launch(add_inplace, grid(blocksFor(y.size())), threads(256), 0, x1.data(), (const float*) y.data(), n * rows);
        std::vector<float> part2((size_t) s0 * npad * rows, NAN), x2 = resid;
        emu::launch(f.kernel, grid(s0, blocks), threads(f.threads), 0, w, (const unsigned short*) nullptr,
                    (const unsigned short*) nullptr, (const unsigned short*) xh.data(), part2.data(), tiles8, cols, rows, 0, 0,
                    c0, 64, 64, 3, n, counters.data(), x2.data(), (float*) nullptr, (float*) nullptr,
                    (unsigned short*) nullptr, (const float*) nullptr, (const float*) nullptr, (const float*) nullptr,
                    (const int*) nullptr, (const float*) nullptr, (const int*) nullptr, (void*) nullptr, (void*) nullptr, 0, 0, 0);
        std::string what = tag + ", " + f.name;
        same(x1, x2, x1.size(), what + ": x");
        countersZero(counters, what);
    }
}

// Wq, Wk, Wv of nHeads / nKv heads of headDim over cols, chunks c0..c2, n tokens into a cache of n slots.
static void groupRopeKv(bool f16Kv, int headDim, int nHeads, int nKv, int cols, int n, int c0, int c1, int c2, bool neox,
                        bool biases, int rotated = 0, float magnitude = 1.0f) {
    if (rotated == 0) rotated = headDim;
    int neoxArg = neox ? rotated / 2 : 0;
    std::string tag = std::string("grouped Q/K/V + RoPE + KV write, ") + (f16Kv ? "F16" : "F32") + " KV, head "
            + std::to_string(headDim) + ", " + std::to_string(nHeads) + "/" + std::to_string(nKv) + " x " + std::to_string(cols)
            + ", n " + std::to_string(n) + (neox ? ", NeoX" : "") + (biases ? ", biases" : "") + ", " + std::to_string(rotated)
            + " rotated";
    int qDim = nHeads * headDim, kvDim = nKv * headDim;
    int tiles8 = (n + 7) / 8, npad = tiles8 * 8;
    int s0 = (cols + c0 - 1) / c0, s1 = (cols + c1 - 1) / c1, s2 = (cols + c2 - 1) / c2;
    auto wq = halfMatrix(qDim, cols, true), wk = halfMatrix(kvDim, cols, true), wv = halfMatrix(kvDim, cols, true);
    auto pq = packed(wq, qDim, cols), pk = packed(wk, kvDim, cols), pv = packed(wv, kvDim, cols);
    auto bq = randoms(qDim, -1, 1), bk = randoms(kvDim, -1, 1), bv = randoms(kvDim, -1, 1);
    std::vector<float> invFreq;
    std::vector<int> positions, slots;
    ropeInputs(headDim, rotated, magnitude, n, invFreq, positions, slots);
    auto x = randoms((size_t) n * cols, -2, 2);
    std::vector<unsigned short> xh((size_t) npad * cols);
    emu::launch(to_half_padded_bf16, grid(blocksFor(xh.size())), threads(256), 0, (const float*) x.data(), xh.data(), n, npad,
                cols);
    size_t partial = (size_t) (s0 * qDim + (s1 + s2) * kvDim) * npad;
    size_t cacheWords = (size_t) n * kvDim;
    std::vector<int> counters(64, 0);
    int pairs = (nHeads + 2 * nKv) * headDim / 2;
    for (const Flavour& f : flavours(true)) {
        if (f.rowsPerBlock % headDim != 0) continue;
        const unsigned short* w0 = f.packed ? pq.data() : wq.data();
        const unsigned short* w1 = f.packed ? pk.data() : wk.data();
        const unsigned short* w2 = f.packed ? pv.data() : wv.data();
        int rb = f.rowsPerBlock;
        int blocks = (qDim + rb - 1) / rb + 2 * ((kvDim + rb - 1) / rb);
        int maxSplits = std::max(s0, std::max(s1, s2));
        std::vector<float> q[2], k[2], v[2], part(partial, NAN);
        std::vector<float> keys32[2], values32[2];
        std::vector<unsigned short> keys16[2], values16[2];
        for (int i = 0; i < 2; i++) {
            q[i].assign((size_t) n * qDim, NAN); k[i].assign((size_t) n * kvDim, NAN); v[i].assign((size_t) n * kvDim, NAN);
            keys32[i].assign(cacheWords, 0); values32[i].assign(cacheWords, 0);
            keys16[i].assign(cacheWords, 0); values16[i].assign(cacheWords, 0);
        }
        const float* b0 = biases ? bq.data() : nullptr;
        const float* b1 = biases ? bk.data() : nullptr;
        const float* b2 = biases ? bv.data() : nullptr;
        emu::launch(f.kernel, grid(blocks, maxSplits), threads(f.threads), 0, w0, w1, w2, (const unsigned short*) xh.data(),
                    part.data(), tiles8, cols, qDim, kvDim, kvDim, c0, c1, c2, NO_EPI);
        if (f16Kv) {
            emu::launch(splitk_reduce_rope_kv_f16, grid(n, (pairs + 255) / 256), threads(256), 0, (const float*) part.data(),
                        q[0].data(), k[0].data(), v[0].data(), b0, b1, b2, (const int*) positions.data(),
                        (const float*) invFreq.data(), (const int*) slots.data(), keys16[0].data(), values16[0].data(), npad,
                        nHeads, nKv, headDim, neoxArg, s0, s1, s2);
        } else {
            emu::launch(splitk_reduce_rope_kv_f32, grid(n, (pairs + 255) / 256), threads(256), 0, (const float*) part.data(),
                        q[0].data(), k[0].data(), v[0].data(), b0, b1, b2, (const int*) positions.data(),
                        (const float*) invFreq.data(), (const int*) slots.data(), keys32[0].data(), values32[0].data(), npad,
                        nHeads, nKv, headDim, neoxArg, s0, s1, s2);
        }
        std::vector<float> part2(partial, NAN);
        void* keys = f16Kv ? (void*) keys16[1].data() : (void*) keys32[1].data();
        void* values = f16Kv ? (void*) values16[1].data() : (void*) values32[1].data();
        emu::launch(f.kernel, grid(maxSplits, blocks), threads(f.threads), 0, w0, w1, w2, (const unsigned short*) xh.data(),
                    part2.data(), tiles8, cols, qDim, kvDim, kvDim, c0, c1, c2, 2, n, counters.data(), q[1].data(),
                    k[1].data(), v[1].data(), (unsigned short*) nullptr, b0, b1, b2, (const int*) positions.data(),
                    (const float*) invFreq.data(), (const int*) slots.data(), keys, values, f16Kv ? 1 : 0, headDim,
                    neoxArg);
        std::string what = tag + ", " + f.name;
        same(q[0], q[1], q[0].size(), what + ": q");
        same(k[0], k[1], k[0].size(), what + ": k");
        same(v[0], v[1], v[0].size(), what + ": v");
        if (f16Kv) {
            same(keys16[0], keys16[1], cacheWords, what + ": cached keys");
            same(values16[0], values16[1], cacheWords, what + ": cached values");
        } else {
            same(keys32[0], keys32[1], cacheWords, what + ": cached keys");
            same(values32[0], values32[1], cacheWords, what + ": cached values");
        }
        countersZero(counters, what);
    }
}

// top1_chunks + top1_merge (the engine's greedy steps on long rows) against topk_chunks + topk_merge at k = 1: the same
// id and logit, the same max, the sum of exponentials within float rounding; and the id against a host argmax (largest
// value, lowest id on ties) on the finite rows. Rows: random; the maximum tied across chunks; +0 and -0 only; -inf
// only; NaN only.
static void topOne(int vocab) {
    const int chunk = 4096, rows = 5;
    int chunks = (vocab + chunk - 1) / chunk;
    auto logits = randoms((size_t) rows * vocab, -8, 8);
    float* r1 = &logits[(size_t) 1 * vocab];
    r1[vocab - 3] = 9.5f; // the same maximum in the last chunk and, later in id order, nowhere earlier...
    r1[5] = 9.5f;         // ...and in the first: the lowest id wins
    float* r2 = &logits[(size_t) 2 * vocab];
    for (int i = 0; i < vocab; i++) r2[i] = (i % 3 == 0) ? -0.0f : 0.0f;
    float* r3 = &logits[(size_t) 3 * vocab];
    for (int i = 0; i < vocab; i++) r3[i] = -INFINITY;
    float* r4 = &logits[(size_t) 4 * vocab];
    for (int i = 0; i < vocab; i++) r4[i] = NAN;
    // stage one and two of each
    std::vector<float> candV((size_t) rows * chunks), stats1((size_t) rows * chunks * 2), stats2((size_t) rows * chunks * 2);
    std::vector<int> candI((size_t) rows * chunks);
    std::vector<unsigned long long> keys((size_t) rows * chunks);
    std::vector<float> outV[2], outS[2];
    std::vector<int> outI[2];
    for (int v = 0; v < 2; v++) {
        outV[v].assign(rows, 0);
        outS[v].assign(2 * rows, 0);
        outI[v].assign(rows, -1);
    }
    emu::launch(topk_chunks, grid(rows, chunks), threads(256), 0, (const float*) logits.data(), vocab, 1, candV.data(),
                candI.data(), stats1.data());
    emu::launch(topk_merge, grid(rows), threads(1024), 0, (const float*) candV.data(), (const int*) candI.data(),
                (const float*) stats1.data(), vocab, chunks, 1, outV[0].data(), outI[0].data(), outS[0].data());
    emu::launch(top1_chunks, grid(rows, chunks), threads(256), 0, (const float*) logits.data(), vocab, keys.data(),
                stats2.data());
    emu::launch(top1_merge, grid(rows), threads(32), 0, (const float*) logits.data(), (const unsigned long long*) keys.data(),
                (const float*) stats2.data(), vocab, chunks, outV[1].data(), outI[1].data(), outS[1].data());
    std::string tag = "vocab " + std::to_string(vocab) + " (" + std::to_string(chunks) + " chunks)";
    same(outI[0], outI[1], rows, "top1 ids as topk k = 1, " + tag);
    same(outV[0], outV[1], rows, "top1 logits as topk k = 1, " + tag, true); // rows of NaN only among them
    int bad = 0;
    for (int r = 0; r < rows; r++) {
        float a = outS[0][2 * r], b = outS[1][2 * r];
        double s0 = outS[0][2 * r + 1], s1 = outS[1][2 * r + 1];
        // equal values: fmaxf over +0 and -0 may return either zero (the host's and the GPU's rules differ), and the
        // log-sum-exp does not see the difference
        bool maxOk = a == b || (std::isnan(a) && std::isnan(b));
        bool sumOk = std::fabs(s0 - s1) <= 1e-6 * std::fabs(s0) || (std::isnan(s0) && std::isnan(s1));
        if (!maxOk || !sumOk) {
            std::printf("     row %d: topk (max %g, sum %g), top1 (max %g, sum %g); ids %d %d\n", r, a, s0, b, s1,
                        outI[0][r], outI[1][r]);
            bad++;
        }
    }
    for (int r : {0, 1, 2}) { // host argmax: largest value, lowest id
        const float* row = &logits[(size_t) r * vocab];
        int best = 0;
        for (int i = 1; i < vocab; i++) {
            if (row[i] > row[best]) best = i;
        }
        if (outI[1][r] != best && !(r == 2 && row[outI[1][r]] == 0.0f)) bad++;
    }
    if (outI[1][1] != 5) bad++;
    if (bad) {
        std::printf("FAIL top1 statistics or host argmax, %s: %d mismatches\n", tag.c_str(), bad);
        failures++;
    } else {
        std::printf("ok   top1 (max, sum) and host argmax, %s\n", tag.c_str());
    }
}

// The K-quant planes (tensor.QuantPlanes) read by weight_at: the weights decoded here the way the CPU's
// dequantizeRow decodes them (per 64-value chunk, bytes l = 0..31: low nibble value l, high nibble value 32 + l),
// the gather bit for bit, the products within float rounding of double sums of those weights.
static void kQuants(bool q4, int rows, int cols, int n) {
    size_t count = (size_t) rows * cols;
    std::uniform_int_distribution<int> byte(0, 255);
    std::vector<unsigned char> quants(q4 ? count / 2 : count);
    for (auto& b : quants) b = (unsigned char) (q4 ? byte(rng) : byte(rng) % 64); // Q6_K: q - 32 in -32..31
    if (!q4) for (auto& b : quants) b = (unsigned char) (signed char) ((int) b - 32);
    int group = q4 ? 32 : 16;
    std::vector<float> planes = randoms(q4 ? 2 * count / group : count / group, 0.001, 0.05); // Q4_K: (scale, min) pairs
    std::vector<float> wts(count);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t) r * cols + c;
            if (q4) {
                size_t chunk = i / 64 * 64;
                unsigned b = quants[chunk / 2 + (i - chunk) % 32];
                unsigned q = (i - chunk) < 32 ? (b & 15u) : (b >> 4);
                size_t g = i / 32;
                wts[i] = planes[2 * g] * (float) q - planes[2 * g + 1];
            } else {
                wts[i] = planes[i / 16] * (float) (signed char) quants[i];
            }
        }
    }
    std::string tag = std::string(q4 ? "Q4_K" : "Q6_K") + " " + std::to_string(rows) + " x " + std::to_string(cols);
    std::vector<int> tokens = {rows - 1, 0, rows / 2};
    std::vector<float> gathered(tokens.size() * cols), expected(tokens.size() * cols);
    for (size_t t = 0; t < tokens.size(); t++) {
        std::copy(&wts[(size_t) tokens[t] * cols], &wts[(size_t) tokens[t] * cols] + cols, &expected[t * cols]);
    }
    emu::allow(quants.data(), quants.size());
    emu::allow(planes.data(), planes.size() * sizeof(float));
    emu::launch(q4 ? embed_q4_k : embed_q6_k, grid((unsigned) tokens.size()), threads(256), 0, (const void*) quants.data(),
                (const float*) planes.data(), (const int*) tokens.data(), gathered.data(), cols);
    same(gathered, expected, gathered.size(), "embed " + tag + ": rows decoded as the CPU decodes them");
    std::vector<float> x = randoms((size_t) n * cols, -2, 2);
    emu::allow(x.data(), x.size() * sizeof(float));
    for (bool tiled : {false, true}) {
        int tokensNow = tiled ? n : std::min(n, 8);
        std::vector<float> y((size_t) tokensNow * rows, NAN);
        if (tiled) {
            emu::launch(q4 ? matmul_tiled_q4_k : matmul_tiled_q6_k, grid((rows + 63) / 64, (tokensNow + 63) / 64), threads(256), 0,
                        (const void*) quants.data(), (const float*) planes.data(), (const float*) x.data(), y.data(),
                        tokensNow, rows, cols);
        } else {
            emu::launch(q4 ? matvec_q4_k : matvec_q6_k, grid((rows + 7) / 8), threads(256), 0, (const void*) quants.data(),
                        (const float*) planes.data(), (const float*) x.data(), y.data(), tokensNow, rows, cols);
        }
        double worst = 0, scale = 0;
        for (int t = 0; t < tokensNow; t++) {
            for (int r = 0; r < rows; r++) {
                double e = 0;
                for (int c = 0; c < cols; c++) e += (double) wts[(size_t) r * cols + c] * x[(size_t) t * cols + c];
                double d = std::fabs(e - y[(size_t) t * rows + r]);
                worst = std::isnan(d) ? INFINITY : std::max(worst, d);
                scale = std::max(scale, std::fabs(e));
            }
        }
        std::string what = std::string(tiled ? "matmul_tiled " : "matvec ") + tag + ", " + std::to_string(tokensNow) + " tokens";
        if (!(worst <= 1e-5 * scale)) {
            std::printf("FAIL %s: max difference %g of %g\n", what.c_str(), worst, scale);
            failures++;
        } else {
            std::printf("ok   %s within 1e-5 of the double product\n", what.c_str());
        }
    }
    emu::forget();
}

// The emulator's own check: what its schedules must show. 64 threads read another warp's value after a barrier, then
// overwrite their own with no barrier between: on a GPU the other warp may already have overwritten what it reads.
// Forward (warps in lock-step) hides that; every other order runs one warp ahead to its end and shows it.
__global__ void emu_missing_barrier(float* out) {
    __shared__ float s[64];
    emu::poison_shared(&s, sizeof(s));
    int t = threadIdx.x;
    s[t] = (float) t;
    __syncthreads();
    float a = s[63 - t];
    a += __shfl_xor_sync(0xffffffffu, 0.0f, 1); // a warp synchronisation, as every reduction has
    s[t] = -1.0f;                               // the race: no __syncthreads() before this store
    out[t] = a;
}
// Shared memory read before any thread of the block wrote it: NaN in every order.
__global__ void emu_unwritten_shared(float* out) {
    __shared__ float s[32];
    emu::poison_shared(&s, sizeof(s));
    out[threadIdx.x] = s[threadIdx.x] * 0.0f;
}
// Blocks that hand their partial sums to the last block to arrive (reduce.cuh's last_arrival): the barrier before the
// arrival makes every warp's store happen before it. Without it (racy), the last block may sum a partial another block
// has not stored yet; that shows only with two blocks in flight, whose warps interleave (the orders other than forward).
__global__ void emu_last_arrival(float* partial, int* counter, float* out, int racy) {
    __shared__ int last;
    emu::poison_shared(&last, sizeof(last));
    int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    if ((threadIdx.x & 31) == 0) partial[blockIdx.x * warps + warp] = 1.0f;
    if (!racy) __syncthreads();
    if (threadIdx.x == 0) {
        last = atomicAdd(counter, 1) == (int) gridDim.x - 1;
    }
    __syncthreads();
    if (last && threadIdx.x == 0) {
        float sum = 0.0f;
        for (int i = 0; i < (int) gridDim.x * warps; i++) sum += partial[i];
        *out = sum;
    }
}
void schedules() {
    emu::Order saved = emu::order();
    for (auto kind : {emu::Order::FORWARD, emu::Order::REVERSE, emu::Order::SHUFFLE}) {
        emu::order().kind = kind;
        std::vector<float> out(64), unwritten(32);
        emu::launch(emu_missing_barrier, dim3 {1, 1, 1}, dim3 {64, 1, 1}, 0, out.data());
        emu::launch(emu_unwritten_shared, dim3 {3, 1, 1}, dim3 {32, 1, 1}, 0, unwritten.data());
        int overwritten = 0;
        for (int t = 0; t < 64; t++) overwritten += out[t] == -1.0f;
        bool nan = std::all_of(unwritten.begin(), unwritten.end(), [](float v) { return std::isnan(v); });
        const char* name = kind == emu::Order::FORWARD ? "forward" : kind == emu::Order::REVERSE ? "reverse" : "shuffle";
        bool ok = nan && (kind == emu::Order::FORWARD ? overwritten == 0 : overwritten == 32);
        std::printf("%s emulator, %s: a missing barrier gives %d overwritten reads of 64 (expected %d), unwritten "
                    "shared memory reads NaN: %s\n", ok ? "ok  " : "FAIL", name, overwritten,
                    kind == emu::Order::FORWARD ? 0 : 32, nan ? "yes" : "no");
        if (!ok) failures++;
        // the hand-over, 50 times each way (other permutations each time, from a fixed state): never wrong with the
        // barrier; without it, wrong at least once where warps of two blocks interleave at random, never forward
        emu::order().state = 0x9e3779b97f4a7c15ull;
        int wrong[2] = {0, 0};
        for (int racy = 0; racy < 2; racy++) {
            for (int run = 0; run < 50; run++) {
                std::vector<float> partial(4 * 8, -1000.0f), sum(1, 0.0f);
                int counter = 0;
                emu::launch(emu_last_arrival, dim3 {4, 1, 1}, dim3 {256, 1, 1}, 0, partial.data(), &counter, sum.data(), racy);
                wrong[racy] += sum[0] != 32.0f;
            }
        }
        bool handOk = wrong[0] == 0 && (kind == emu::Order::SHUFFLE ? wrong[1] > 0 : wrong[1] == 0);
        std::printf("%s emulator, %s: partial sums handed to the last block, wrong in %d of 50 launches with the barrier "
                    "before the arrival and %d of 50 without it\n", handOk ? "ok  " : "FAIL", name, wrong[0], wrong[1]);
        if (!handOk) failures++;
    }
    emu::order() = saved;
}

// y within 1e-5 of the double reference (max |difference| over the reference's largest |value|), and no NaN: every
// output the reference has was written (the outputs start as NaN).
static void closeToRefAll(const std::vector<double>& ref, const std::vector<float>& y, const std::string& what) {
    double worst = 0, scale = 0;
    size_t nan = ref.size();
    for (size_t i = 0; i < ref.size(); i++) {
        if (std::isnan(y[i]) && nan == ref.size()) nan = i;
        worst = std::max(worst, std::fabs(ref[i] - y[i]));
        scale = std::max(scale, std::fabs(ref[i]));
    }
    if (nan < ref.size()) {
        std::printf("FAIL %s: output %zu not written\n", what.c_str(), nan);
        failures++;
    } else if (!(worst <= 1e-5 * scale)) {
        std::printf("FAIL %s: max difference %g of %g\n", what.c_str(), worst, scale);
        failures++;
    } else {
        std::printf("ok   %s\n", what.c_str());
    }
}

// moe_group on a random routing (each token `used` distinct experts of `count`) against a stable counting sort on the
// host: the runs in expert order, each expert's slots in slot order, and where each run starts.
static void grouping(int count, int used, int n) {
    std::string tag = "moe_group: " + std::to_string(n) + " tokens, " + std::to_string(used) + " of " + std::to_string(count)
            + " experts";
    int slots = n * used;
    std::vector<int> chosen(slots);
    std::uniform_int_distribution<int> pick(0, count - 1);
    for (int t = 0; t < n; t++) {
        for (int j = 0; j < used; j++) {
            int e;
            bool taken;
            do {
                e = pick(rng);
                taken = false;
                for (int i = 0; i < j; i++) taken |= chosen[(size_t) t * used + i] == e;
            } while (taken);
            chosen[(size_t) t * used + j] = e;
        }
    }
    std::vector<int> order(slots, -1), first(count + 1, -1), want, wantFirst;
    emu::launch(moe_group, grid(1), threads(32), 0, chosen.data(), slots, count, order.data(), first.data());
    for (int e = 0; e < count; e++) {
        wantFirst.push_back((int) want.size());
        for (int s = 0; s < slots; s++) {
            if (chosen[s] == e) want.push_back(s);
        }
    }
    wantFirst.push_back(slots);
    same(want, order, want.size(), tag + ": the slots by expert");
    same(wantFirst, first, wantFirst.size(), tag + ": where each expert's run starts");
}

// The experts' tensor-core products (moe_mma_*, moe_quant_mma_*) over a routing moe_group sorted: token t chooses
// `used` distinct experts, expert 0 by every token (so it has several 64-slot tiles, the last one short) and expert
// count - 1 by none (its tiles must not exist). Each against a double product of the weights as the mma reads them
// (16-bit; quantized ones decoded, then rounded to F16) and the inputs rounded as the kernel rounds them:
// h = swiglu(gate . x, up . x) per slot, then out = down . h. type: F16, BF16, Q8_0, Q6_K or Q4_K (cols a multiple
// of 64 for its nibble order).
enum ExpertType { E_F16, E_BF16, E_Q8_0, E_Q6_K, E_Q4_K };
static void experts(ExpertType type, int count, int used, int n, int dim, int hidden) {
    static const char* names[] = {"f16", "bf16", "q8_0", "q6_k", "q4_k"};
    std::string tag = std::string(type >= E_Q8_0 ? "moe_quant_mma " : "moe_mma ") + names[type] + ", " + std::to_string(count)
            + " experts, " + std::to_string(used) + " used, " + std::to_string(n) + " tokens, " + std::to_string(hidden)
            + " x " + std::to_string(dim);
    bool bf16 = type == E_BF16; // the mma's type: BF16 for BF16 experts, else F16
    int slots = n * used;
    std::vector<int> chosen(slots);
    for (int t = 0; t < n; t++) {
        chosen[(size_t) t * used] = 0;
        for (int j = 1; j < used; j++) { // distinct experts among 1 .. count - 2
            chosen[(size_t) t * used + j] = 1 + (t + j * 5) % (count - 2);
        }
    }
    // a stack [count, rows, cols]: its bytes as the kernel reads them, its scales, and each weight as the mma sees it
    struct Stack { std::vector<unsigned short> halves; std::vector<signed char> quants; std::vector<float> scales, mma; };
    auto stack = [&](int rows, int cols) {
        Stack st;
        size_t size = (size_t) count * rows * cols;
        auto f = randoms(size, -1, 1);
        st.mma.resize(size);
        if (type <= E_BF16) {
            st.halves.resize(size);
            for (size_t i = 0; i < size; i++) {
                st.halves[i] = halfBits(f[i], bf16);
                st.mma[i] = halfValue(st.halves[i], bf16);
            }
        } else if (type == E_Q4_K) { // nibbles in ggml's order, a (scale, min) pair per 32 values (common.cuh)
            st.quants.resize(size / 2);
            for (auto& b : st.quants) b = (signed char) (rng() & 255);
            st.scales = randoms(size / 32 * 2, 1e-3, 2e-2);
            for (size_t i = 0; i < size; i++) {
                unsigned b = (unsigned char) st.quants[((i >> 6) << 5) + (i & 31)];
                unsigned q = (i & 32) ? b >> 4 : b & 15u;
                float decoded = st.scales[2 * (i >> 5)] * (float) q - st.scales[2 * (i >> 5) + 1];
                st.mma[i] = halfValue(halfBits(decoded, false), false);
            }
        } else {
            int group = type == E_Q8_0 ? 32 : 16;
            int range = type == E_Q8_0 ? 255 : 64;
            st.quants.resize(size);
            st.scales = randoms(size / group, 1e-3, 2e-2);
            for (size_t i = 0; i < size; i++) {
                st.quants[i] = (signed char) ((int) (rng() % range) - range / 2);
                float decoded = st.scales[i / group] * (float) st.quants[i]; // weight_at's rounding
                st.mma[i] = halfValue(halfBits(decoded, false), false);
            }
        }
        return st;
    };
    Stack gate = stack(hidden, dim), up = stack(hidden, dim), down = stack(dim, hidden);
    auto data = [&](const Stack& st) { return type <= E_BF16 ? (const void*) st.halves.data() : (const void*) st.quants.data(); };
    auto x = randoms((size_t) n * dim, -1, 1);
    std::vector<int> order(slots), first(count + 1);
    emu::launch(moe_group, grid(1), threads(32), 0, chosen.data(), slots, count, order.data(), first.data());
    int maxTiles = slots / 64 + std::min(count, slots); // as DeviceExpertFeedForward sizes the grid
    std::vector<float> h((size_t) slots * hidden, NAN), out((size_t) slots * dim, NAN);
    dim3 gu = grid((hidden + 31) / 32, maxTiles), dn = grid((dim + 31) / 32, maxTiles);
    switch (type) {
        case E_F16:
        case E_BF16:
            emu::launch(bf16 ? moe_mma_gate_up_bf16 : moe_mma_gate_up_f16, gu, threads(128), 0, gate.halves.data(),
                        up.halves.data(), x.data(), order.data(), first.data(), count, used, dim, hidden, h.data());
            emu::launch(bf16 ? moe_mma_down_bf16 : moe_mma_down_f16, dn, threads(128), 0, down.halves.data(), h.data(),
                        order.data(), first.data(), count, dim, hidden, out.data());
            break;
        default: {
            auto gateUp = type == E_Q8_0 ? moe_quant_mma_gate_up_q8_0 : type == E_Q6_K ? moe_quant_mma_gate_up_q6_k
                    : moe_quant_mma_gate_up_q4_k;
            auto downKernel = type == E_Q8_0 ? moe_quant_mma_down_q8_0 : type == E_Q6_K ? moe_quant_mma_down_q6_k
                    : moe_quant_mma_down_q4_k;
            emu::launch(gateUp, gu, threads(128), 0, data(gate), gate.scales.data(), data(up), up.scales.data(), x.data(),
                        order.data(), first.data(), count, used, dim, hidden, h.data());
            emu::launch(downKernel, dn, threads(128), 0, data(down), down.scales.data(), h.data(), order.data(), first.data(),
                        count, dim, hidden, out.data());
            break;
        }
    }
    std::vector<double> hRef((size_t) slots * hidden), outRef((size_t) slots * dim);
    for (int s = 0; s < slots; s++) {
        int e = chosen[s];
        const float* xs = x.data() + (size_t) (s / used) * dim;
        for (int r = 0; r < hidden; r++) {
            double g = 0, u = 0;
            for (int c = 0; c < dim; c++) {
                double xv = halfValue(halfBits(xs[c], bf16), bf16);
                g += gate.mma[((size_t) e * hidden + r) * dim + c] * xv;
                u += up.mma[((size_t) e * hidden + r) * dim + c] * xv;
            }
            hRef[(size_t) s * hidden + r] = g / (1 + std::exp(-g)) * u;
        }
        for (int r = 0; r < dim; r++) {
            double v = 0;
            for (int c = 0; c < hidden; c++) {
                v += down.mma[((size_t) e * dim + r) * hidden + c] * halfValue(halfBits(h[(size_t) s * hidden + c], bf16), bf16);
            }
            outRef[(size_t) s * dim + r] = v;
        }
    }
    closeToRefAll(hRef, h, tag + ": gate and up, SwiGLU");
    closeToRefAll(outRef, out, tag + ": down");
}

int main() {
    emu::order(); // an unknown order stops here
    const char* order = std::getenv("INFERSTREAM_EMULATED_ORDER");
    std::printf("[emulate] blocks and threads in %s order\n", order && *order ? order : "forward");
    schedules();
    norms(true, 2048, 13, 16, 2, true);
    norms(false, 2048, 9, 16, 3, false);
    norms(false, 260, 5, 8, 5, true);
    norms(true, 2048, 16, 16, 8, false);  // Wo's and down's 8 splits: two rounds of four in flight
    norms(true, 8, 1, 8, 1, true);
    swiglu(true, 512, 13, 16, 3, 2);
    swiglu(false, 176, 9, 16, 1, 4);
    ropeKv(true, 64, 32, 8, 13, 16, 4, 2, 2, false, false);
    ropeKv(false, 64, 8, 2, 9, 16, 1, 1, 1, false, true);
    ropeKv(true, 128, 14, 2, 9, 16, 3, 5, 1, true, true);
    ropeKv(false, 8, 4, 2, 17, 24, 2, 3, 4, true, false);
    ropeKv(true, 128, 8, 2, 9, 16, 3, 2, 1, true, true, 96, 1.19f);    // Phi-4-mini: 96 of 128 turn, LongRoPE's magnitude
    ropeKv(false, 16, 4, 4, 9, 16, 1, 2, 1, false, false, 12, 1.19f); // adjacent pairs, 12 of 16
    attention(13, 1);
    attention(13, 3);
    attention(6, 5);
    attention(13, 3, 40);  // a sliding window of 40 positions: contexts past it start at pos - 39
    attention(9, 1, 17);
    attention(13, 3, 0, 0.5f);  // Gemma 2's soft cap, small enough to bind on these scores
    tiled(64, 8, 2, {{150, 37}, {70, 1}, {0, 21}});   // a chunk crossing tiles and items, a decode token, a first chunk
    tiled(64, 8, 2, {{0, 64}});                       // four full items from position 0, the last one ending a tile
    tiled(128, 4, 2, {{40, 3}, {0, 1}, {95, 33}});    // 32-position tiles, G 2: items of 32 tokens
    tiled(64, 8, 8, {{5, 70}});                       // G 1: items of 64 tokens
    tiled(64, 6, 2, {{60, 45}, {3, 1}});              // G 3: items of 21 tokens, 63 of the 64 rows
    tiled(64, 8, 2, {{150, 37}, {70, 1}, {0, 21}}, true);  // F32 caches: 32-position tiles, K and V rounded in the fragments
    tiled(128, 4, 2, {{40, 3}, {0, 1}, {95, 33}}, true);   // F32, head 128: 16-position tiles
    tiled(64, 8, 2, {{150, 37}, {70, 1}, {0, 21}}, false, 50);  // a window of 50: tiles before it skipped, rows masked
    tiled(128, 4, 2, {{40, 3}, {0, 1}, {95, 33}}, true, 20);    // F32, head 128, a window shorter than a chunk
    tiled(64, 8, 2, {{150, 37}, {70, 1}, {0, 21}}, false, 0, 0.5f); // Gemma 2's soft cap
    stream(true, false, 256, 512, 13, 512);  // one split: the block writes y
    stream(true, false, 200, 520, 64, 256);  // rows off the 128-row block, a last split of 8 columns
    stream(false, false, 128, 512, 9, 128);  // deep split: 128-column chunks
    stream(true, false, 64, 128, 1, 128);    // one token
    stream(false, true, 300, 256, 5, 64);    // 16-warp blocks
    stream(true, true, 520, 200, 16, 128);   // 16-warp blocks, rows past a whole block, cols off the 64-k chunk
    streamGroup(256, 128, 128, 256, 13, 64, 128, 256);
    slices(true, 136, 200, 150);   // three slices, the last of 22 tokens; rows and cols off the blocks and chunks
    slices(false, 64, 128, 64);    // one full slice
    slices(true, 32, 64, 65);      // a last slice of one token
    streamGroup(272, 48, 16, 128, 64, 64, 64, 128);  // rows off the 256-row tall blocks, one matrix of one row group
    groupSwiglu(true, 384, 256, 13, 64, 128, true);    // three 128-row tiles (two 256-row ones), up split 2 / gate 4
    groupSwiglu(false, 200, 192, 9, 64, 64, false);    // rows off the blocks, f16 weights, no 16-bit copy
    groupSwiglu(true, 128, 128, 64, 128, 64, true);    // 64 tokens, one gate split against two of up
    groupResidual(true, 256, 512, 64, 64);     // Wo-like: 8 splits, 64 tokens (2 tiles of 128 rows, 1 of 256)
    groupResidual(false, 208, 256, 13, 128);   // rows off the blocks, f16, two splits
    groupResidual(true, 128, 192, 9, 192);     // one split: each block is the last of its tile
    groupRopeKv(true, 64, 4, 2, 256, 13, 64, 128, 256, false, false);  // Q 4 splits, K 2, V 1: a split only Q has
    groupRopeKv(false, 64, 6, 2, 128, 9, 64, 64, 128, true, true);     // NeoX, biases, F32 cache; Q 384 rows
    groupRopeKv(true, 128, 4, 2, 128, 24, 128, 64, 64, true, true);    // head 128: one head per 128-row block
    groupRopeKv(true, 128, 4, 2, 128, 9, 128, 64, 64, true, false, 96, 1.19f);  // Phi-4-mini's partial RoPE and magnitude
    grouping(128, 8, 301);  // Qwen3-MoE's routing: 2408 slots, a last round of 8
    grouping(8, 2, 5);      // Mixtral's, fewer slots than a warp
    grouping(1024, 4, 40);  // the most experts the kernel groups, most of them unchosen
    experts(E_BF16, 6, 2, 150, 72, 48);  // expert 0: 150 slots in three tiles; rows and cols off the 32-wide blocks and stages
    experts(E_F16, 5, 3, 23, 64, 40);    // one short tile per expert
    experts(E_Q8_0, 5, 2, 70, 96, 40);   // Q8_0 planes decoded in the tile loads; expert 0 in two tiles
    experts(E_Q6_K, 4, 2, 30, 48, 32);
    experts(E_Q4_K, 4, 2, 40, 128, 64);  // Q4_K's nibbles: two 64-value chunks a row
    topOne(9001);  // three chunks, the last one short
    topOne(8193);  // a last chunk of one logit
    kQuants(true, 70, 512, 67);   // rows off the 64-row tile, two 64-token tiles
    kQuants(false, 33, 256, 9);
    kQuants(true, 9, 768, 1);     // one token, three 256-value blocks a row
    kQuants(false, 8, 384, 3);
    q8stream(200, 512, 13, 512);   // one split: the block writes y; rows off the 128-row block
    q8stream(128, 544, 64, 128);   // five splits, the last of 32 columns (one Q8_0 block: the chunk's second half empty)
    q8stream(64, 96, 1, 64);       // one token, a last chunk of one block
    q8stream(136, 160, 70, 0);     // 70 tokens as two slices (the second of 6 tokens)
    q4kstream(200, 512, 13, 512);  // one split: the block writes y; rows off the 128-row block
    q4kstream(128, 768, 64, 256);  // three splits
    q4kstream(64, 256, 1, 128);    // one token, two splits
    q4kstream(136, 256, 70, 0);    // 70 tokens as two slices
    q6kstream(200, 512, 13, 512);  // one split: the block writes y; rows off the 128-row block
    q6kstream(128, 768, 64, 256);  // three splits
    q6kstream(136, 256, 70, 0);    // 70 tokens as two slices
    // Every kernel that waits for its predecessor (programmatic launch: the sm_90a products, the _sm90 twins' norms,
    // attention and reduction) read nothing but weights before its pdl_wait() and waited on every path.
    bool pdlOk = emu::pdl_violations() == 0 && emu::pdl_waits() > 0;
    std::printf("%s programmatic-launch order: %ld threads waited, %ld violations\n", pdlOk ? "ok  " : "FAIL",
                emu::pdl_waits(), emu::pdl_violations());
    if (!pdlOk) failures++;
    std::printf(failures == 0 ? "[emulate] all checks passed: the fused kernels write the bits of the separate ones, matmul_stream its products\n"
                              : "[emulate] %d FAILURES\n", failures);
    return failures == 0 ? 0 : 1;
}
