// Greedy sampling on the device: the index of the largest logit of each row (lowest index on ties),
// so a greedy step copies back one int per sequence instead of a vocabulary of floats.
#include "common.cuh"

// logits [rows, vocab]; out [rows]. grid (rows), block 256.
extern "C" __global__ void argmax_rows(const float* logits, int vocab, int* out) {
    __shared__ float bestV[256];
    __shared__ int bestI[256];
    const float* row = logits + (size_t) blockIdx.x * vocab;
    float v = -INFINITY;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
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
    if (threadIdx.x == 0) {
        out[blockIdx.x] = bestI[0];
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
extern "C" __global__ void __launch_bounds__(TOPK_THREADS) topk_rows(const float* logits, int vocab, int k, float* outLogits, int* outIds, float* outStats) {
    __shared__ int hist[256];
    __shared__ unsigned long long keys[TOPK_MAX];
    __shared__ int warpCount[32];
    __shared__ float redMax[32];
    __shared__ int chosenBin;
    __shared__ int chosenBefore;
    __shared__ int nBetter;
    const float* row = logits + (size_t) blockIdx.x * vocab;
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
        int id = (int) (keys[tid] & 0xffffffffull);
        outIds[(size_t) blockIdx.x * k + tid] = id;
        outLogits[(size_t) blockIdx.x * k + tid] = row[id];
    }
    if (tid == 0) {
        outStats[2 * blockIdx.x] = rowMax;
        outStats[2 * blockIdx.x + 1] = rowSum;
    }
}
