// Greedy sampling on the device: the index of the largest logit of each row (lowest index on ties),
// so a greedy step copies back one int per sequence instead of a vocabulary of floats.
#include "common.cuh"

// The first maximum of row[start, end) over a block of 256 threads: left in bestV[0], bestI[0] (shared) for the
// caller; 0x7fffffff when no value is above -inf (NaN never wins).
__device__ void argmax_block(const float* row, int start, int end, float* bestV, int* bestI) {
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = start + threadIdx.x; i < end; i += blockDim.x) {
        float x = row[i];
        if (x > v) { // strided ascending: the first maximum of this thread wins
            v = x;
            idx = i;
        }
    }
    bestV[threadIdx.x] = v;
    bestI[threadIdx.x] = idx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            float ov = bestV[threadIdx.x + s];
            int oi = bestI[threadIdx.x + s];
            if (ov > bestV[threadIdx.x] || (ov == bestV[threadIdx.x] && oi < bestI[threadIdx.x])) {
                bestV[threadIdx.x] = ov;
                bestI[threadIdx.x] = oi;
            }
        }
        __syncthreads();
    }
}

// logits [rows, vocab]; out [rows]. grid (rows), block 256.
extern "C" __global__ void argmax_rows(const float* logits, int vocab, int* out) {
    __shared__ float bestV[256];
    __shared__ int bestI[256];
    argmax_block(logits + (size_t) blockIdx.x * vocab, 0, vocab, bestV, bestI);
    if (threadIdx.x == 0) {
        out[blockIdx.x] = bestI[0];
    }
}

// The same argmax in two stages for long rows: argmax_rows runs one block per row, 64 blocks for 64 sequences,
// and reads a 128256-float row per block at a fraction of the bandwidth (193 us at 64 rows on an H200, against
// ~7 us for the 33 MB). Stage one: grid (rows, chunks), each block the first maximum of its chunk of
// ARGMAX_CHUNK logits; stage two: one warp per row merges the chunks in order with the same rule (larger value,
// then lower index), so the result is argmax_rows' exactly (NaN never wins; a row without a value above -inf
// gives 0x7fffffff, as there).
#define ARGMAX_CHUNK 4096

// logits [rows, vocab]; partV, partI [rows, gridDim.y]. grid (rows, ceil(vocab / ARGMAX_CHUNK)), block 256.
extern "C" __global__ void argmax_chunks(const float* logits, int vocab, float* partV, int* partI) {
    __shared__ float bestV[256];
    __shared__ int bestI[256];
    int start = blockIdx.y * ARGMAX_CHUNK;
    argmax_block(logits + (size_t) blockIdx.x * vocab, start, min(vocab, start + ARGMAX_CHUNK), bestV, bestI);
    if (threadIdx.x == 0) {
        size_t slot = (size_t) blockIdx.x * gridDim.y + blockIdx.y;
        partV[slot] = bestV[0];
        partI[slot] = bestI[0];
    }
}

// partV, partI [rows, chunks]; out [rows]. grid (rows), block 32.
extern "C" __global__ void argmax_merge(const float* partV, const int* partI, int chunks, int* out) {
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int c = threadIdx.x; c < chunks; c += 32) {
        float x = partV[(size_t) blockIdx.x * chunks + c];
        int i = partI[(size_t) blockIdx.x * chunks + c];
        if (x > v || (x == v && i < idx)) {
            v = x;
            idx = i;
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_down_sync(FULL_MASK, v, o);
        int oi = __shfl_down_sync(FULL_MASK, idx, o);
        if (ov > v || (ov == v && oi < idx)) {
            v = ov;
            idx = oi;
        }
    }
    if (threadIdx.x == 0) {
        out[blockIdx.x] = idx;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Top-k candidates of each row, so a sampled step copies back k (logit, id) pairs per row instead of the vocabulary.
// Order: descending logit, then ascending id, with +0.0 before -0.0 and NaN last: exactly the Java sampler's
// sort key (LogitCandidates.sortKey). Per row also the max and the sum of exp(x - max) (the log-sum-exp).
//
// One block per row: (1) radix select, 8 bits at a time from the top, finds the 32-bit order key T of the k-th
// candidate and how many of the k are equal to T; (2) the candidates strictly before T are gathered in any order,
// those equal to T in ascending id order (a block-wide ordered scan that stops once enough are found); (3) a
// bitonic sort of the k 64-bit keys (order key, id) in shared memory.

#define TOPK_MAX 256
#define TOPK_THREADS 1024

// Ascending key = descending logit (+0.0 before -0.0, NaN after -inf), as an unsigned int.
__device__ __forceinline__ unsigned int topk_order_key(float x) {
    int bits = isnan(x) ? 0x7fc00000 : __float_as_int(-x); // Java's canonical NaN
    bits ^= (bits >> 31) & 0x7fffffff;                      // IEEE bits -> signed-int order
    return ((unsigned int) bits) ^ 0x80000000u;             // signed -> unsigned order
}

// logits [rows, vocab]; outLogits [rows, k]; outIds [rows, k]; outStats [rows, 2] = (max, sum exp(x - max)).
// grid (rows), block TOPK_THREADS (launch bounds: at most 64 registers, so a 1024-thread block always fits an SM);
// 1 <= k <= min(TOPK_MAX, vocab).
// The block's top-k of row[0, len) (ids: rowIds[i], or idBase + i without rowIds) into outLogits[0, k),
// outIds[0, k); with sums, also (max, sum exp(x - max)) of the values into outStats[0, 2]. Among equal values the
// lower position wins, which is the lower id as long as ids ascend with positions among equal values (true for a
// row, and for the concatenated sorted candidate lists of ascending chunks that topk_merge reads).
__device__ void topk_block(const float* row, const int* rowIds, int idBase, int len, int k, float* outLogits,
                           int* outIds, float* outStats) {
    const int vocab = len;
    __shared__ int hist[256];
    __shared__ unsigned long long keys[TOPK_MAX];
    __shared__ int warpCount[32];
    __shared__ float redMax[32];
    __shared__ int chosenBin;
    __shared__ int chosenBefore;
    __shared__ int nBetter;
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warps = blockDim.x >> 5;

    unsigned int prefix = 0;
    unsigned int mask = 0;
    int remaining = k; // rank (1-based) of the k-th candidate among the keys that match prefix under mask
    float rowMax = -INFINITY;
    float rowSum = 0.0f;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = tid; b < 256; b += blockDim.x) {
            hist[b] = 0;
        }
        __syncthreads();
        float localMax = -INFINITY;
        float localSum = 0.0f;
        for (int base = 0; base < vocab; base += blockDim.x) { // uniform trip count: the whole warp matches
            int i = base + tid;
            bool active = false;
            unsigned int bin = 0;
            if (i < vocab) {
                float x = row[i];
                if (shift == 24) {
                    localMax = fmaxf(localMax, x);
                } else if (shift == 16) {
                    localSum += expf(x - rowMax);
                }
                unsigned int u = topk_order_key(x);
                active = (u & mask) == prefix;
                bin = (u >> shift) & 255u;
            }
            // warp-aggregated histogram: one shared atomic per distinct bin of the warp
            unsigned int peers = __match_any_sync(FULL_MASK, active ? bin : 0xffffffffu);
            if (active && (__ffs(peers) - 1) == lane) {
                atomicAdd(&hist[bin], __popc(peers));
            }
        }
        if (shift == 24) {
            localMax = warp_max(localMax);
            if (lane == 0) {
                redMax[warp] = localMax;
            }
        } else if (shift == 16) {
            rowSum = block_sum(localSum); // synchronizes
        }
        __syncthreads();
        if (shift == 24) {
            float m = lane < warps ? redMax[lane] : -INFINITY;
            rowMax = warp_max(m); // every warp reduces the same partials
        }
        if (warp == 0) {
            // lane l owns bins [8l, 8l + 8): an inclusive scan of their totals finds the bin holding rank `remaining`
            int own = 0;
            for (int j = 0; j < 8; j++) {
                own += hist[8 * lane + j];
            }
            int incl = own;
            for (int o = 1; o < 32; o <<= 1) {
                int v = __shfl_up_sync(FULL_MASK, incl, o);
                if (lane >= o) {
                    incl += v;
                }
            }
            int excl = incl - own;
            if (excl < remaining && remaining <= incl) {
                int before = excl;
                int b = 8 * lane;
                while (before + hist[b] < remaining) {
                    before += hist[b];
                    b++;
                }
                chosenBin = b;
                chosenBefore = before;
            }
        }
        __syncthreads();
        prefix |= ((unsigned int) chosenBin) << shift;
        mask |= 255u << shift;
        remaining -= chosenBefore;
        __syncthreads(); // chosenBin / chosenBefore are rewritten by the next pass
    }
    const unsigned int T = prefix;  // order key of the k-th candidate
    const int need = remaining;     // candidates equal to T, the lowest ids first
    const int better = k - need;    // candidates strictly before T

    if (tid == 0) {
        nBetter = 0;
    }
    __syncthreads();
    for (int i = tid; i < vocab; i += blockDim.x) {
        unsigned int u = topk_order_key(row[i]);
        if (u < T) {
            keys[atomicAdd(&nBetter, 1)] = ((unsigned long long) u << 32) | (unsigned int) i;
        }
    }
    int found = 0;
    for (int base = 0; base < vocab && found < need; base += blockDim.x) {
        int i = base + tid;
        bool eq = i < vocab && topk_order_key(row[i]) == T;
        unsigned int ballot = __ballot_sync(FULL_MASK, eq);
        if (lane == 0) {
            warpCount[warp] = __popc(ballot);
        }
        __syncthreads();
        int before = found;
        int total = 0;
        for (int w = 0; w < warps; w++) {
            int c = warpCount[w];
            before += w < warp ? c : 0;
            total += c;
        }
        if (eq) {
            int slot = before + __popc(ballot & ((1u << lane) - 1u));
            if (slot < need) {
                keys[better + slot] = ((unsigned long long) T << 32) | (unsigned int) i;
            }
        }
        found += total;
        __syncthreads();
    }

    // Bitonic sort of keys[0, p), p the power of two >= k, padded with the largest key.
    int p = 1;
    while (p < k) {
        p <<= 1;
    }
    for (int i = k + tid; i < p; i += blockDim.x) {
        keys[i] = ~0ull;
    }
    for (int size = 2; size <= p; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            __syncthreads();
            if (tid < p) {
                int j = tid ^ stride;
                if (j > tid) {
                    unsigned long long a = keys[tid];
                    unsigned long long b = keys[j];
                    bool ascending = (tid & size) == 0;
                    if ((a > b) == ascending) {
                        keys[tid] = b;
                        keys[j] = a;
                    }
                }
            }
        }
    }
    __syncthreads();
    if (tid < k) {
        int pos = (int) (keys[tid] & 0xffffffffull);
        outIds[tid] = rowIds ? rowIds[pos] : idBase + pos;
        outLogits[tid] = row[pos];
    }
    if (tid == 0 && outStats) {
        outStats[0] = rowMax;
        outStats[1] = rowSum;
    }
}

// logits [rows, vocab]; outLogits [rows, k]; outIds [rows, k]; outStats [rows, 2] = (max, sum exp(x - max)).
// grid (rows), block TOPK_THREADS (launch bounds: at most 64 registers, so a 1024-thread block always fits an SM);
// 1 <= k <= min(TOPK_MAX, vocab).
extern "C" __global__ void __launch_bounds__(TOPK_THREADS) topk_rows(const float* logits, int vocab, int k, float* outLogits, int* outIds, float* outStats) {
    size_t r = blockIdx.x;
    topk_block(logits + r * vocab, nullptr, 0, vocab, k, outLogits + r * k, outIds + r * k, outStats + 2 * r);
}

// Two stages for long rows (topk_rows, one 1024-thread block per row, six passes over 128256 floats, took 415 us
// for 64 rows on an H200). Stage one, topk_chunks: grid (rows, chunks), each block the top-k of its TOPK_CHUNK
// logits (k' = min(k, chunk length)) and the chunk's (max, sum exp(x - max)). The row's top-k is among the
// chunks' (the order is total: value, then id), so stage two, topk_merge, selects it from the concatenated
// lists with the same code, and combines the chunk sums (sum_c s_c exp(m_c - max): the same value up to float
// rounding). Scratch per row: chunks * k values and ids, chunks * 2 stats; lists are contiguous, so a short
// last chunk leaves no holes.
#define TOPK_CHUNK 4096

// logits [rows, vocab]; candV, candI [rows, chunks * k]; chunkStats [rows, chunks, 2]. grid (rows, chunks), block 256;
// k <= TOPK_MAX and every chunk but the last has TOPK_CHUNK >= k values.
extern "C" __global__ void __launch_bounds__(256) topk_chunks(const float* logits, int vocab, int k, float* candV, int* candI,
                                                              float* chunkStats) {
    size_t r = blockIdx.x;
    int c = blockIdx.y;
    int chunks = gridDim.y;
    int start = c * TOPK_CHUNK;
    int len = min(TOPK_CHUNK, vocab - start);
    int kk = min(k, len);
    size_t base = r * (size_t) ((chunks - 1) * k + min(k, vocab - (chunks - 1) * TOPK_CHUNK)) + (size_t) c * k;
    topk_block(logits + r * vocab + start, nullptr, start, len, kk, candV + base, candI + base,
               chunkStats + (r * chunks + c) * 2);
}

// candV, candI, chunkStats from topk_chunks; outputs as topk_rows. grid (rows), block TOPK_THREADS.
extern "C" __global__ void __launch_bounds__(TOPK_THREADS) topk_merge(const float* candV, const int* candI, const float* chunkStats,
                                                                      int vocab, int chunks, int k, float* outLogits,
                                                                      int* outIds, float* outStats) {
    size_t r = blockIdx.x;
    int len = (chunks - 1) * k + min(k, vocab - (chunks - 1) * TOPK_CHUNK);
    topk_block(candV + r * len, candI + r * len, 0, len, k, outLogits + r * k, outIds + r * k, nullptr);
    if (threadIdx.x < 32) {
        const float* st = chunkStats + r * chunks * 2;
        float m = -INFINITY;
        for (int c = threadIdx.x; c < chunks; c += 32) {
            m = fmaxf(m, st[2 * c]);
        }
        m = warp_max(m);
        float sum = 0.0f;
        for (int c = threadIdx.x; c < chunks; c += 32) {
            float s = st[2 * c + 1];
            // a chunk of -inf only adds nothing (its own sum is exp(-inf + inf) = NaN terms)
            sum += st[2 * c] == -INFINITY ? 0.0f : s * expf(st[2 * c] - m);
        }
        for (int o = 16; o > 0; o >>= 1) {
            sum += __shfl_down_sync(FULL_MASK, sum, o);
        }
        if (threadIdx.x == 0) {
            outStats[2 * r] = m;
            outStats[2 * r + 1] = sum;
        }
    }
}

// The top-1 candidate of long rows in two stages, for the greedy steps of the engine (k = 1): the first element in
// the top-k order (topk_order_key, then the lowest id) and the row's (max, sum exp(x - max)), as topk_chunks +
// topk_merge give for k = 1, with one pass over each chunk for the order and one for the sum instead of six.
// logits [rows, vocab]; partKey [rows, chunks] = order key << 32 | id; partStats [rows, chunks, 2].
// grid (rows, ceil(vocab / TOPK_CHUNK)), block 256.
extern "C" __global__ void __launch_bounds__(256) top1_chunks(const float* logits, int vocab, unsigned long long* partKey,
                                                              float* partStats) {
    __shared__ unsigned long long best[256];
    __shared__ float redMax[32];
    const float* row = logits + (size_t) blockIdx.x * vocab;
    int start = blockIdx.y * TOPK_CHUNK;
    int end = min(vocab, start + TOPK_CHUNK);
    int tid = threadIdx.x;
    int lane = tid & 31;
    int warps = blockDim.x >> 5;
    unsigned long long b = ~0ull;
    float mx = -INFINITY;
    for (int i = start + tid; i < end; i += blockDim.x) {
        float x = row[i];
        unsigned long long key = ((unsigned long long) topk_order_key(x) << 32) | (unsigned int) i;
        b = key < b ? key : b;
        mx = fmaxf(mx, x);
    }
    mx = warp_max(mx);
    if (lane == 0) {
        redMax[tid >> 5] = mx;
    }
    best[tid] = b;
    __syncthreads();
    mx = warp_max(lane < warps ? redMax[lane] : -INFINITY); // every warp reduces the same partials
    float sum = 0.0f;
    for (int i = start + tid; i < end; i += blockDim.x) {
        sum += expf(row[i] - mx);
    }
    sum = block_sum(sum); // synchronizes
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s && best[tid + s] < best[tid]) {
            best[tid] = best[tid + s];
        }
        __syncthreads();
    }
    if (tid == 0) {
        size_t slot = (size_t) blockIdx.x * gridDim.y + blockIdx.y;
        partKey[slot] = best[0];
        partStats[2 * slot] = mx;
        partStats[2 * slot + 1] = sum;
    }
}

// partKey, partStats from top1_chunks; outputs as topk_rows with k = 1. grid (rows), block 32.
extern "C" __global__ void top1_merge(const float* logits, const unsigned long long* partKey, const float* partStats,
                                      int vocab, int chunks, float* outLogits, int* outIds, float* outStats) {
    size_t r = blockIdx.x;
    const unsigned long long* keys = partKey + r * chunks;
    const float* st = partStats + r * chunks * 2;
    unsigned long long b = ~0ull;
    float m = -INFINITY;
    for (int c = threadIdx.x; c < chunks; c += 32) {
        b = keys[c] < b ? keys[c] : b;
        m = fmaxf(m, st[2 * c]);
    }
    for (int o = 16; o > 0; o >>= 1) {
        unsigned long long other = __shfl_xor_sync(FULL_MASK, b, o);
        b = other < b ? other : b;
    }
    m = warp_max(m);
    float sum = 0.0f;
    for (int c = threadIdx.x; c < chunks; c += 32) {
        // a chunk of -inf only adds nothing (its own sum is exp(-inf + inf) = NaN terms)
        sum += st[2 * c] == -INFINITY ? 0.0f : st[2 * c + 1] * expf(st[2 * c] - m);
    }
    sum = warp_sum(sum);
    if (threadIdx.x == 0) {
        int id = (int) (b & 0xffffffffull);
        outIds[r] = id;
        outLogits[r] = logits[r * vocab + id];
        outStats[2 * r] = m;
        outStats[2 * r + 1] = sum;
    }
}
