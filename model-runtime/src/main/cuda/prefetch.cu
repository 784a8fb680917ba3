// Weights a later kernel of the step will read, brought into L2 ahead of it. A decode step's attention is bound by
// latency, not bandwidth (run 6 on an H200: 22.6 us per layer at c = 64 for ~12 MB of keys and values), so HBM sits
// mostly idle while it runs; prefetching the Wo and gate/up weights of the same layer in that time lets those products
// read part of their weights from L2. How much (0 = none) is chosen at load by timing (CudaLlamaModel.chooseL2Prefetch):
// L2 holds ~50 MB on an H100/H200, and whether the prefetches queue behind or ahead of the attention's own loads is
// something only a measurement tells.
#include "common.cuh"

#define PF_PIECE 64 // bytes per prefetch: two 32-byte sectors, whatever the L2 fetch granularity

// Prefetches the bytes [0, na) of a, then [0, nb) of b, then [0, nc) of c into L2. Grid-stride over 64-byte pieces.
extern "C" __global__ void l2_prefetch(const char* a, long long na, const char* b, long long nb, const char* c,
                                       long long nc) {
    long long total = na + nb + nc;
    long long stride = (long long) gridDim.x * blockDim.x * PF_PIECE;
    for (long long i = ((long long) blockIdx.x * blockDim.x + threadIdx.x) * PF_PIECE; i < total; i += stride) {
        const char* p = i < na ? a + i : i < na + nb ? b + (i - na) : c + (i - na - nb);
#ifndef INFERSTREAM_EMULATE // a hint: on the host (the emulated driver) there is nothing to fetch
        asm volatile("prefetch.global.L2 [%0];\n" ::"l"(p));
#else
        (void) p;
#endif
    }
}
