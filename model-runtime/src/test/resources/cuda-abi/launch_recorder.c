/* A stand-in for the one driver entry point ProgrammaticLaunch calls, compiled against the toolkit's real cuda.h by
 * ProgrammaticLaunchAbiTest: it prints every field of the launch as the C compiler lays the structs out, so the test
 * can compare them with what the Java side meant to pass. Parameters 0..4 are read as the test's probe passes them:
 * two pointers, an int, a float, a 64-bit integer. RECORDER_RESULT (a CUresult number) is what it returns. */
#include <cuda.h>
#include <stdio.h>
#include <stdlib.h>

CUresult cuLaunchKernelEx(const CUlaunchConfig* c, CUfunction f, void** params, void** extra) {
    printf("grid %u %u %u block %u %u %u smem %u stream %llx attrs %u\n", c->gridDimX, c->gridDimY, c->gridDimZ,
           c->blockDimX, c->blockDimY, c->blockDimZ, c->sharedMemBytes, (unsigned long long) (size_t) c->hStream,
           c->numAttrs);
    for (unsigned i = 0; i < c->numAttrs; i++) {
        printf("attr %d %d\n", (int) c->attrs[i].id, c->attrs[i].value.programmaticStreamSerializationAllowed);
    }
    printf("function %llx extra %llx\n", (unsigned long long) (size_t) f, (unsigned long long) (size_t) extra);
    printf("params %llx %llx %d %g %lld\n", *(unsigned long long*) params[0], *(unsigned long long*) params[1],
           *(int*) params[2], (double) *(float*) params[3], *(long long*) params[4]);
    fflush(stdout);
    const char* r = getenv("RECORDER_RESULT");
    return r ? (CUresult) atoi(r) : CUDA_SUCCESS;
}
