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
